"""Shared fixtures: a fresh world and app per test, and a client whose every response is checked
against the contract (status documented for the operation, body valid against its schema)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import jsonschema_rs
import orjson
import pytest
from starlette.testclient import TestClient

from mockserver import MockServer, World, create_app
from mockserver.spec import Operation, Spec, load_spec

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURE = ROOT / "fixtures" / "default.yaml"
DOCS_SECRET = "YOUR_API_SECRET"
LEGACY_SECRET = "legacy_api_secret"


class ResponseChecker:
    """An httpx response hook: every answer of a spec operation must be one the spec documents."""

    def __init__(self, *specs: Spec) -> None:
        self.routes: list[tuple[re.Pattern[str], Operation, Spec]] = []
        for spec in specs:
            for op in spec.operations.values():
                pattern = re.sub(r"\{[^}]+\}", "[^/]+", op.path)
                self.routes.append((re.compile(f"^{pattern}$"), op, spec))
        self._validators: dict[tuple[str, str, str], Any] = {}
        self.checked = 0

    def match(self, method: str, path: str) -> tuple[Operation, Spec] | None:
        for pattern, op, spec in self.routes:
            if op.method == method and pattern.match(path):
                return op, spec
        return None

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        found = self.match(response.request.method, response.request.url.path)
        if found is None or response.status_code in (405, 501):
            return  # no operation (unknown route, wrong method) or a not-yet-simulated one
        op, spec = found
        status = str(response.status_code)
        if status not in op.responses and "default" in op.responses and response.status_code >= 400:
            status = "default"
        assert status in op.responses, (
            f"{op.operation_id} answered {status}, which the contract does not document: {response.text[:300]}"
        )
        declared = op.responses[status]
        if "$ref" in declared:
            declared = spec.document["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
        content = declared.get("content")
        if not content:
            assert response.content in (b"", b"{}"), f"{op.operation_id} {status} should have no body"
            return
        media = response.headers.get("content-type", "").split(";")[0]
        assert media in content, f"{op.operation_id} {status}: content type {media!r} not in {list(content)}"
        key = (op.operation_id, status, media)
        if key not in self._validators:
            schema = content[media].get("schema", {})
            self._validators[key] = jsonschema_rs.validator_for(
                {**schema, "components": spec.document.get("components", {})}
            )
        body = orjson.loads(response.content)
        errors = [e.message for e in self._validators[key].iter_errors(body)]
        assert not errors, f"{op.operation_id} {status} body does not match the contract: {errors[:3]}: {body}"
        self.checked += 1


@pytest.fixture(scope="session")
def checker() -> ResponseChecker:
    return ResponseChecker(load_spec(), load_spec("admin/openapi.yaml"))


@pytest.fixture
def world() -> World:
    """The default world, seeded, with the clock frozen at 2024-01-15T10:30:00Z."""
    w = World(seed=1234)
    return w


@pytest.fixture
def app(world: World) -> Any:
    app = create_app(world, fixtures=[DEFAULT_FIXTURE])
    world.clock.freeze(1705314600.0)
    return app


@pytest.fixture
def client(app: Any, checker: ResponseChecker) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as c:
        c.event_hooks["response"].append(checker)
        yield c


@pytest.fixture(scope="session")
def live() -> Iterator[MockServer]:
    """One real server on a free port with the default fixtures, for tests over a socket."""
    with MockServer(fixtures=[DEFAULT_FIXTURE], seed=7) as server:
        yield server


@pytest.fixture
def live_reset(live: MockServer) -> MockServer:
    live.world.reset()
    return live


# The Agora fixtures (a live mock per module, a fresh customer per test) live beside their helpers.
from .agora_support import agora_server, tenant  # noqa: E402, F401
