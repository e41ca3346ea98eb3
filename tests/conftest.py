"""Shared fixtures: a fresh world and app per test, and a client whose every response is checked
against the contract (status documented for the operation, body valid against its schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

# pytester's in-process sessions (test_pytest_plugin, test_coverage, ...) drop from sys.modules,
# when they end, every module first imported inside them. httpx imports httpcore lazily and keeps
# a map of its exception classes: a second copy of httpcore, loaded after such a session, raises
# timeouts httpx no longer recognises. Import both lazy parts here, before any nested session.
import anyio._backends._asyncio  # noqa: F401
import httpcore  # noqa: F401
import httpx as _httpx  # noqa: F401 (the webhook sender imports it lazily)
import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from mockserver import MockServer, World, create_app
from mockserver.contract import Contract, load_contract

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURE = ROOT / "fixtures" / "default.yaml"
DOCS_SECRET = "YOUR_API_SECRET"
LEGACY_SECRET = "legacy_api_secret"


class ResponseChecker:
    """An httpx response hook: every answer of a spec operation must be one the spec documents."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.checked = 0

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        op = self.contract.match(response.request.method, response.request.url.path)
        if op is None or response.status_code in (405, 501):
            return  # no operation (unknown route, wrong method) or a not-yet-simulated one
        problems = self.contract.check_response(op, response.status_code, response.headers, response.content)
        assert not problems, "; ".join(problems)
        self.checked += 1


@pytest.fixture(scope="session")
def checker() -> ResponseChecker:
    return ResponseChecker(load_contract())


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
