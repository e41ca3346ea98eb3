"""Error codes are one declared set, and every family renders each of them in its envelope."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import World, create_app
from mockserver.admin import ProblemFamily
from mockserver.api import agora, bithuman, telephony
from mockserver.app import default_handlers
from mockserver.routing import MissingHandlerError
from mockserver.spec import load_document
from mockserver.world.errors import DomainError, ErrorCode, missing_codes

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

SPEAK = "/v1/agent/A12345678/speak"


def _families() -> list[Any]:
    world = World()
    return [
        bithuman.BitHumanFamily(world),
        agora.AgoraFamily(world),
        telephony.TelephonyFamily(world),
        ProblemFamily(),
    ]


@pytest.mark.parametrize("family", _families(), ids=lambda f: f.name)
def test_every_family_maps_every_error_code(family: Any) -> None:
    for name, table in family.error_tables().items():
        assert missing_codes(table) == [], name


@pytest.mark.parametrize("family", _families(), ids=lambda f: f.name)
def test_every_code_renders_in_the_family_envelope_never_a_500(family: Any) -> None:
    for code in ErrorCode:
        response = family.render(DomainError(code, "x", agent_code="A12345678"), None)
        assert response.status_code != 500 or code == ErrorCode.INTERNAL, (family.name, code)


def test_a_family_table_missing_a_code_fails_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(agora._ERRORS, ErrorCode.PHONE_NUMBER_EXISTS)
    with pytest.raises(MissingHandlerError, match="phone_number_exists"):
        create_app()


def test_an_undeclared_code_fails_where_it_is_raised() -> None:
    with pytest.raises(ValueError, match="no_such_code"):
        DomainError("no_such_code", "x")  # type: ignore[arg-type]
    # A declared code given as a string is that code: string comparisons keep working.
    error = DomainError("not_found", "x")  # type: ignore[arg-type]
    assert error.code is ErrorCode.NOT_FOUND and error.code == "not_found"


def test_every_error_code_the_contract_names_is_declared() -> None:
    named: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("x-error-code"), str):
                named.append(node["x-error-code"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_document())
    assert named, "the contract names vendor error codes with x-error-code"
    assert [code for code in named if code not in set(ErrorCode)] == []


# -- the request id the bitHuman contract documents on every response ---------------------------


def _broken(call: Any) -> Any:
    raise RuntimeError("boom")


def test_a_500_carries_the_request_id() -> None:
    app = create_app(World(), fixtures=[DEFAULT_FIXTURE], handlers={**default_handlers(), "bithuman_speak": _broken})
    with TestClient(app) as c:
        r = c.post(SPEAK, json={"message": "x"}, headers={"api-secret": DOCS_SECRET})
    assert r.status_code == 500
    assert r.headers["x-request-id"].startswith("req_")


def test_route_not_found_and_wrong_method_carry_the_request_id() -> None:
    with TestClient(create_app(World(), fixtures=[DEFAULT_FIXTURE])) as c:
        missing = c.post("/v1/agent/A12345678/speek", json={"message": "x"}, headers={"api-secret": DOCS_SECRET})
        wrong = c.get(SPEAK, headers={"api-secret": DOCS_SECRET})
    assert missing.status_code == 404 and wrong.status_code == 405
    assert missing.headers["x-request-id"].startswith("req_")
    assert wrong.headers["x-request-id"].startswith("req_")
    assert missing.headers["x-request-id"] != wrong.headers["x-request-id"]
