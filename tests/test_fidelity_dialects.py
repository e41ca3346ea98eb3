"""The three bitHuman dialects through the app, every answer checked against the contract, and
what decides the dialect when the request names no known account."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import World, create_app
from mockserver.fixtures import load_fixture_text

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

SPEAK = "/v1/agent/{code}/speak"
ADD = "/v1/agent/{code}/add-context"


def post(client: TestClient, path: str, body: Any, secret: str | None = DOCS_SECRET) -> Any:
    headers = {"api-secret": secret} if secret is not None else {}
    return client.post(path, json=body, headers=headers)


@pytest.fixture
def transitional(client: TestClient, world: World) -> TestClient:
    world.bithuman.update_account("demo", dialect="transitional", fields=frozenset({"dialect"}))
    return client


def test_transitional_success_bodies_are_the_pages_own(transitional: TestClient) -> None:
    r = post(transitional, SPEAK.format(code="A12345678"), {"message": "hi", "room_id": "room_1"})
    assert (r.status_code, r.json()) == (
        200,
        {"agent_code": "A12345678", "context_type": "speak", "delivered_to_rooms": 1},
    )
    r = post(transitional, ADD.format(code="A12345678"), {"context": "c", "room_id": "room_2"})
    assert r.json() == {"agent_code": "A12345678", "context_type": "add_context", "delivered_to_rooms": 1}


def test_transitional_errors(transitional: TestClient, world: World) -> None:
    def error(code: str, message: str) -> dict[str, Any]:
        return {"success": False, "error": code, "message": message}

    r = post(transitional, SPEAK.format(code="NOPE"), {"message": "x"})
    assert (r.status_code, r.json()) == (404, error("AGENT_NOT_FOUND", "Agent with code 'NOPE' not found"))
    r = post(transitional, SPEAK.format(code="A91XMB7113"), {"message": "x"})
    assert (r.status_code, r.json()) == (404, error("NO_ACTIVE_ROOMS", "No active sessions found for agent"))
    r = post(transitional, ADD.format(code="A12345678"), {"context": "x", "type": "shout"})
    assert (r.status_code, r.json()) == (
        422,
        error("VALIDATION_ERROR", "Invalid type. Must be one of: speak, add_context"),
    )
    r = post(transitional, SPEAK.format(code="A12345678"), {})
    assert (r.status_code, r.json()["error"]) == (422, "VALIDATION_ERROR")


def test_server_wide_transitional_dialect_covers_missing_secret() -> None:
    world = World(bithuman_dialect="transitional")
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE])) as c:
        r = post(c, SPEAK.format(code="A12345678"), {"message": "x"}, secret=None)
        assert (r.status_code, r.json()["error"]) == (401, "UNAUTHORIZED")  # not MISSING_AUTH
        r = post(c, SPEAK.format(code="A12345678"), {"message": "x", "room_id": "room_1"})
        assert r.json() == {"agent_code": "A12345678", "context_type": "speak", "delivered_to_rooms": 1}


def test_without_a_known_account_the_agent_code_picks_the_dialect(client: TestClient, world: World) -> None:
    # A78WKV4515 belongs to the legacy account only: its callers see the legacy 401 even when the
    # secret is missing or wrong, since the code in the path says whose agent it is.
    for secret in (None, "wrong"):
        r = post(client, SPEAK.format(code="A78WKV4515"), {"message": "x"}, secret=secret)
        assert (r.status_code, r.json()) == (
            401,
            {"success": False, "error": "UNAUTHORIZED", "message": "Invalid api-secret"},
        )
    # A12345678 is in the current account and the legacy one: they disagree, the server decides.
    r = post(client, SPEAK.format(code="A12345678"), {"message": "x"}, secret=None)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "MISSING_AUTH")
    # An unknown code: the server decides too.
    r = post(client, SPEAK.format(code="UNKNOWN"), {"message": "x"}, secret=None)
    assert r.json()["error"]["code"] == "MISSING_AUTH"
    # Once every owner of the code agrees, that dialect answers.
    world.bithuman.update_account("demo", dialect="legacy", fields=frozenset({"dialect"}))
    r = post(client, SPEAK.format(code="A12345678"), {"message": "x"}, secret=None)
    assert r.json()["error"] == "UNAUTHORIZED"


def test_the_control_plane_and_fixtures_accept_the_new_dialect(client: TestClient) -> None:
    r = client.patch("/_mock/bithuman/accounts/demo", json={"dialect": "transitional"})
    assert r.status_code == 200 and r.json()["effective_dialect"] == "transitional"


def test_fixture_dialect() -> None:
    document = load_fixture_text(
        "version: 1\nbithuman:\n  accounts:\n    - id: t\n      secrets: [s]\n      dialect: transitional\n"
    )
    world = World()
    world.load(document)
    assert world.bithuman.dialect_of(world.bithuman.accounts["t"]) == "transitional"
