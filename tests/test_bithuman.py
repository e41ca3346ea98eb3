"""bitHuman Agent Context API: deliveries, both dialects, every documented error."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import World, create_app

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET, LEGACY_SECRET

SPEAK = "/v1/agent/{code}/speak"
ADD = "/v1/agent/{code}/add-context"
ALL_ROOMS = [
    "customer_session_1",
    "vip_session_42",
    "support_session_1",
    "room_123",
    "room_456",
    "order_confirmation_room",
    "vip_customer_session",
    "room_1",
    "room_2",
    "room_3",
]


def speak(client: TestClient, body: Any, code: str = "A12345678", secret: str | None = DOCS_SECRET, **kw: Any):
    headers = {"api-secret": secret} if secret is not None else {}
    return client.post(SPEAK.format(code=code), json=body, headers=headers, **kw)


def add(client: TestClient, body: Any, code: str = "A12345678", secret: str | None = DOCS_SECRET):
    headers = {"api-secret": secret} if secret is not None else {}
    return client.post(ADD.format(code=code), json=body, headers=headers)


# -- deliveries ------------------------------------------------------------------------------


def test_bithuman_speak_reaches_every_active_room(client: TestClient, world: World) -> None:
    r = speak(client, {"message": "Great news!"})
    assert r.status_code == 200
    assert r.json() == {
        "agent_code": "A12345678",
        "context_type": "speak",
        "delivered_to_rooms": len(ALL_ROOMS),
        "rooms": ALL_ROOMS,
        "rooms_skipped": [],
        "rooms_failed": [],
    }
    events = world.inbox.query(tenant="demo")
    assert [(e.room, e.kind, e.text, e.operation) for e in events] == [
        (room, "speech", "Great news!", "bithuman_speak") for room in ALL_ROOMS
    ]


def test_bithuman_speak_to_one_room(client: TestClient, world: World) -> None:
    r = speak(client, {"message": "20% off", "room_id": "customer_session_1"})
    assert r.json()["delivered_to_rooms"] == 1
    assert r.json()["rooms"] == ["customer_session_1"]
    [event] = world.inbox.query(agent="A12345678")
    assert (event.room, event.text, event.tenant, event.time) == ("customer_session_1", "20% off", "demo", 1705314600.0)


def test_null_room_id_means_all_rooms(client: TestClient) -> None:
    # The vendor's own example client sends room_id=None when no room is targeted.
    assert speak(client, {"message": "hi", "room_id": None}).json()["delivered_to_rooms"] == len(ALL_ROOMS)


def test_add_context_defaults_to_add_context(client: TestClient, world: World) -> None:
    r = add(client, {"context": "VIP customer", "room_id": "vip_session_42"})
    assert r.status_code == 200
    assert r.json()["context_type"] == "add_context"
    [event] = world.inbox.query()
    assert (event.kind, event.text, event.operation) == ("context", "VIP customer", "bithuman_add_context")


def test_add_context_type_speak_is_speech(client: TestClient, world: World) -> None:
    r = add(client, {"context": "Resolved!", "type": "speak", "room_id": "support_session_1"})
    assert r.json()["context_type"] == "speak"
    assert world.inbox.query()[0].kind == "speech"


def test_closed_room_is_not_delivered(client: TestClient, world: World) -> None:
    world.bithuman.close_room("demo", "A12345678", "room_1")
    r = speak(client, {"message": "x"})
    assert r.json()["delivered_to_rooms"] == len(ALL_ROOMS) - 1
    assert "room_1" not in r.json()["rooms"]


def test_unknown_fields_are_ignored(client: TestClient) -> None:
    assert speak(client, {"message": "x", "room_id": "room_1", "voice": "calm"}).status_code == 200


# -- errors, current dialect -------------------------------------------------------------------


def current_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "httpStatus": status}, "status": "error", "status_code": status}


@pytest.mark.parametrize(
    ("headers", "code", "message"),
    [
        ({}, "MISSING_AUTH", "Missing api-secret header"),
        ({"api-secret": ""}, "MISSING_AUTH", "Missing api-secret header"),
        ({"api-secret": "wrong"}, "UNAUTHORIZED", "Invalid API secret"),
        ({"api-secret": DOCS_SECRET + "x"}, "UNAUTHORIZED", "Invalid API secret"),
    ],
)
def test_current_auth_errors(client: TestClient, headers: dict[str, str], code: str, message: str) -> None:
    r = client.post(SPEAK.format(code="A12345678"), json={"message": "x"}, headers=headers)
    assert (r.status_code, r.json()) == (401, current_error(401, code, message))


def test_current_unknown_agent(client: TestClient) -> None:
    r = speak(client, {"message": "x"}, code="A00000000")
    assert (r.status_code, r.json()) == (404, current_error(404, "NOT_FOUND", "Agent not found for code: A00000000"))


def test_agent_of_another_account_is_not_found(client: TestClient) -> None:
    # A78WKV4515 belongs to the legacy account only.
    r = speak(client, {"message": "x"}, code="A78WKV4515")
    assert r.status_code == 404 and r.json()["error"]["message"] == "Agent not found for code: A78WKV4515"


def test_current_no_active_rooms(client: TestClient) -> None:
    r = add(client, {"context": "x"}, code="A91XMB7113")
    assert (r.status_code, r.json()) == (
        404,
        current_error(404, "NOT_FOUND", "No active rooms found for agent A91XMB7113"),
    )


def test_room_id_that_is_not_active_is_no_active_rooms(client: TestClient) -> None:
    r = speak(client, {"message": "x", "room_id": "nope"})
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith("No active rooms found for agent A12345678")
    assert "'nope'" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        (SPEAK, {}, "MISSING_PARAM", "Missing required field: message"),
        (ADD, {"type": "speak"}, "MISSING_PARAM", "Missing required field: context"),
        (SPEAK, {"message": ""}, "VALIDATION_ERROR", None),
        (SPEAK, {"message": 42}, "VALIDATION_ERROR", None),
        (SPEAK, {"message": "x", "room_id": 7}, "VALIDATION_ERROR", None),
        (SPEAK, ["message"], "VALIDATION_ERROR", None),
        (
            ADD,
            {"context": "x", "type": "shout"},
            "VALIDATION_ERROR",
            "Invalid type. Must be one of: speak, add_context",
        ),
    ],
)
def test_current_validation_errors(client: TestClient, path: str, body: Any, code: str, message: str | None) -> None:
    r = client.post(path.format(code="A12345678"), json=body, headers={"api-secret": DOCS_SECRET})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == code
    if message:
        assert r.json()["error"]["message"] == message
    else:
        assert r.json()["error"]["message"]


def test_validation_comes_after_auth(client: TestClient) -> None:
    assert speak(client, {}, secret="wrong").status_code == 401


# -- errors and bodies, legacy dialect ---------------------------------------------------------


def legacy_error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": code, "message": message}


def test_legacy_success_envelope(client: TestClient) -> None:
    r = speak(client, {"message": "hi", "room_id": "room_123"}, secret=LEGACY_SECRET)
    assert r.json() == {
        "success": True,
        "message": "Speech triggered successfully",
        "data": {"agent_code": "A12345678", "delivered_to_rooms": 1, "timestamp": "2024-01-15T10:30:00Z"},
    }
    r = add(client, {"context": "c", "type": "add_context"}, secret=LEGACY_SECRET)
    assert r.json() == {
        "success": True,
        "message": "Context added successfully",
        "data": {
            "agent_code": "A12345678",
            "context_type": "add_context",
            "delivered_to_rooms": 2,
            "timestamp": "2024-01-15T10:30:00Z",
        },
    }


def test_legacy_errors(client: TestClient) -> None:
    r = speak(client, {"message": "x"}, code="NOPE", secret=LEGACY_SECRET)
    assert (r.status_code, r.json()) == (404, legacy_error("AGENT_NOT_FOUND", "Agent with code 'NOPE' not found"))
    r = speak(client, {"message": "x"}, code="A78WKV4515", secret=LEGACY_SECRET)
    assert (r.status_code, r.json()) == (404, legacy_error("NO_ACTIVE_ROOMS", "No active sessions found for agent"))
    r = add(client, {"context": "x", "type": "bad"}, secret=LEGACY_SECRET)
    assert (r.status_code, r.json()) == (
        422,
        legacy_error("VALIDATION_ERROR", "Invalid type. Must be one of: speak, add_context"),
    )
    r = speak(client, {}, secret=LEGACY_SECRET)
    assert r.status_code == 422 and r.json()["error"] == "VALIDATION_ERROR"


def test_legacy_server_dialect_applies_before_auth() -> None:
    world = World(bithuman_dialect="legacy")
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE])) as c:
        r = c.post(SPEAK.format(code="A12345678"), json={"message": "x"})
        assert (r.status_code, r.json()) == (401, legacy_error("UNAUTHORIZED", "Invalid api-secret"))
        r = c.post(SPEAK.format(code="A12345678"), json={"message": "x"}, headers={"api-secret": DOCS_SECRET})
        assert r.json()["success"] is True


def test_account_dialect_overrides_server_dialect(client: TestClient, world: World) -> None:
    world.bithuman.update_account("demo", dialect="legacy", fields=frozenset({"dialect"}))
    assert speak(client, {"message": "x"}).json()["success"] is True


# -- rate limits on the mock clock -------------------------------------------------------------


def test_rate_limit_token_bucket(client: TestClient, world: World) -> None:
    world.bithuman.update_account("demo", rate_limit=3, fields=frozenset({"rate_limit"}))
    seen = [speak(client, {"message": "x", "room_id": "room_1"}) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in seen[:3]] == ["2", "1", "0"]
    limited = seen[3]
    assert limited.json() == current_error(429, "RATE_LIMITED", limited.json()["error"]["message"])
    assert limited.headers["Retry-After"] == "20"  # 3/min: one token every 20 s
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert int(limited.headers["X-RateLimit-Reset"]) == 1705314600 + 60
    world.clock.advance(19)
    assert speak(client, {"message": "x", "room_id": "room_1"}).status_code == 429
    world.clock.advance(1)
    assert speak(client, {"message": "x", "room_id": "room_1"}).status_code == 200
    # Rejected requests were not delivered.
    assert len(world.inbox.query(tenant="demo")) == 4


def test_rate_limit_is_per_account(client: TestClient, world: World) -> None:
    world.bithuman.update_account("demo", rate_limit=1, fields=frozenset({"rate_limit"}))
    assert speak(client, {"message": "x"}).status_code == 200
    assert speak(client, {"message": "x"}, secret="your_secret").status_code == 429  # same account, other secret
    assert speak(client, {"message": "x"}, secret=LEGACY_SECRET).status_code == 200


def test_no_rate_limit_headers_by_default(client: TestClient) -> None:
    r = speak(client, {"message": "x"})
    assert "X-RateLimit-Limit" not in r.headers
    assert r.headers["X-Request-Id"].startswith("req_")


def test_plan_names_set_the_write_tier(world: World) -> None:
    account = world.bithuman.create_account("p", rate_limit="free")
    assert account.rate_limit is not None and account.rate_limit.per_minute == 30


# -- secrets ---------------------------------------------------------------------------------------


def test_secrets_are_compared_in_constant_time(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.bithuman.create_account("s", secrets=["sekrit"])
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert world.bithuman.authenticate("sekrit").id == "s"
    assert calls, "authentication must go through hmac.compare_digest"


def test_secrets_never_reach_the_log(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from mockserver.accesslog import AccessLog

    caplog.set_level(logging.INFO, logger="mockserver")
    with TestClient(AccessLog(app)) as c:
        c.post(SPEAK.format(code="A12345678"), json={"message": "x"}, headers={"api-secret": DOCS_SECRET})
        c.post(SPEAK.format(code="A12345678"), json={"message": "x"}, headers={"api-secret": "guess-secret"})
    text = caplog.text
    assert "POST /v1/agent/A12345678/speak 200" in text
    assert "POST /v1/agent/A12345678/speak 401" in text
    assert DOCS_SECRET not in text and "guess-secret" not in text
