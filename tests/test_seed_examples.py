"""The vendor documents' own Python examples, run unchanged but for the base URL, over a socket.

Seed 000 is the imaginex-era page (``legacy`` dialect: ``response.json()['success']``); seed 001 the
page with the status/code table (``transitional`` dialect: flat body, per-case error codes, 422).
Each runs against a server of every dialect, and gets in its own dialect exactly the answer (and,
for seed 001, the error of each row of its table) that its document shows.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import pytest

from mockserver import MockServer

from .conftest import DEFAULT_FIXTURE

S000_SPEAK = """
import requests

# Make imaginex platform agent announce a promotion
# Note: A12345678 is your agent code from imaginex dashboard
response = requests.post(
    'https://api.example.com/v1/agent/A12345678/speak',
    headers={'api-secret': 'your_secret'},
    json={
        'message': 'Great news! We have a 20% discount available today!',
        'room_id': 'customer_session_1'
    }
)

if response.json()['success']:
    print("Imaginex agent spoke successfully!")
"""

S000_ADD_CONTEXT = """
import requests

# Add customer context to imaginex platform agent
# Note: A12345678 is your agent code from imaginex dashboard
response = requests.post(
    'https://api.example.com/v1/agent/A12345678/add-context',
    headers={'api-secret': 'your_secret'},
    json={
        'context': 'Customer has VIP status and prefers technical explanations',
        'type': 'add_context',
        'room_id': 'vip_customer_session'
    }
)

print("Context added to imaginex agent:", response.json())
"""

S001_SPEAK = """
import requests
response = requests.post(
"https://api.bithuman.ai/v1/agent/A12345678/speak",
headers={
"Content-Type": "application/json",
"api-secret": "YOUR_API_SECRET"
},
json={
"message": "We have a 20% discount available today.",
"room_id": "customer_session_1"
}
)
print(response.json())
"""

S001_ADD_CONTEXT = """
import requests
response = requests.post(
"https://api.bithuman.ai/v1/agent/A12345678/add-context",
headers={
"Content-Type": "application/json",
"api-secret": "YOUR_API_SECRET"
},
json={
"context": "Customer has VIP status. Preferred name: Alex. Account since 2021.",
"type": "add_context",
"room_id": "vip_session_42"
}
)
"""

S001_SPEAK_VIA_CONTEXT = """
import requests
response = requests.post(
"https://api.bithuman.ai/v1/agent/A12345678/add-context",
headers={
"Content-Type": "application/json",
"api-secret": "YOUR_API_SECRET"
},
json={
"context": "Your issue has been resolved. Let me know if you need anything else.",
"type": "speak",
"room_id": "support_session_1"
}
)
"""


def run(snippet: str, base_url: str) -> tuple[dict[str, object], str]:
    code = snippet.replace("https://api.example.com", base_url).replace("https://api.bithuman.ai", base_url)
    scope: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<seed example>", "exec"), scope)
    return scope, out.getvalue()


@pytest.fixture(scope="module", params=["current", "transitional", "legacy"])
def server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    with MockServer(fixtures=[DEFAULT_FIXTURE], bithuman_dialect=request.param) as s:
        s.world.clock.freeze(1705314600.0)
        yield s


@pytest.fixture(autouse=True)
def empty_inbox(server: MockServer) -> None:
    server.world.inbox.clear()


def test_seed_000_speak(server: MockServer) -> None:
    if server.world.bithuman.default_dialect != "legacy":
        # A flat body has no 'success': the older page's own check needs the legacy dialect.
        with pytest.raises(KeyError, match="success"):
            run(S000_SPEAK, server.url)
        assert [e.room for e in server.world.inbox.query()] == ["customer_session_1"]
        return
    scope, printed = run(S000_SPEAK, server.url)
    assert printed == "Imaginex agent spoke successfully!\n"
    assert scope["response"].json() == {  # type: ignore[attr-defined]
        "success": True,
        "message": "Speech triggered successfully",
        "data": {"agent_code": "A12345678", "delivered_to_rooms": 1, "timestamp": "2024-01-15T10:30:00Z"},
    }


def test_seed_000_add_context(server: MockServer) -> None:
    scope, printed = run(S000_ADD_CONTEXT, server.url)
    assert printed.startswith("Context added to imaginex agent:")
    body = scope["response"].json()  # type: ignore[attr-defined]
    if server.world.bithuman.default_dialect == "legacy":
        assert body == {
            "success": True,
            "message": "Context added successfully",
            "data": {
                "agent_code": "A12345678",
                "context_type": "add_context",
                "delivered_to_rooms": 1,
                "timestamp": "2024-01-15T10:30:00Z",
            },
        }
    else:
        assert body["context_type"] == "add_context" and body["delivered_to_rooms"] == 1


@pytest.mark.parametrize(
    ("snippet", "context_type", "room"),
    [
        (S001_SPEAK, "speak", "customer_session_1"),
        (S001_ADD_CONTEXT, "add_context", "vip_session_42"),
        (S001_SPEAK_VIA_CONTEXT, "speak", "support_session_1"),
    ],
)
def test_seed_001(server: MockServer, snippet: str, context_type: str, room: str) -> None:
    scope, _ = run(snippet, server.url)
    response = scope["response"]
    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    documented = {"agent_code": "A12345678", "context_type": context_type, "delivered_to_rooms": 1}
    dialect = server.world.bithuman.default_dialect
    if dialect == "transitional":
        assert body == documented  # the page's response, field for field
    elif dialect == "current":
        assert {k: body[k] for k in documented} == documented
        assert body["rooms"] == [room]
    else:
        assert body["data"]["delivered_to_rooms"] == 1 and body["success"] is True
    [event] = server.world.inbox.query()
    assert (event.room, event.kind) == (room, "speech" if context_type == "speak" else "context")


# Seed 001's "Error Codes" table, row by row: (status, code, what triggers it).
S001_ERROR_TABLE = [
    (401, "UNAUTHORIZED", "invalid api-secret", {"api-secret": "wrong"}, "A12345678", {"message": "x"}),
    (401, "UNAUTHORIZED", "missing api-secret", {}, "A12345678", {"message": "x"}),
    (
        404,
        "AGENT_NOT_FOUND",
        "no agent with the given code",
        {"api-secret": "YOUR_API_SECRET"},
        "A00000000",
        {"message": "x"},
    ),
    (
        404,
        "NO_ACTIVE_ROOMS",
        "agent has no active sessions",
        {"api-secret": "YOUR_API_SECRET"},
        "A91XMB7113",
        {"message": "x"},
    ),
    (
        422,
        "VALIDATION_ERROR",
        "bad type value",
        {"api-secret": "YOUR_API_SECRET"},
        "A12345678",
        {"context": "x", "type": "shout"},
    ),
]


@pytest.mark.parametrize(
    ("status", "code", "headers", "agent", "body"),
    [
        pytest.param(status, code, headers, agent, body, id=why)
        for status, code, why, headers, agent, body in S001_ERROR_TABLE
    ],
)
def test_seed_001_error_table(
    server: MockServer, status: int, code: str, headers: dict[str, str], agent: str, body: dict[str, str]
) -> None:
    import requests

    operation = "add-context" if "context" in body else "speak"
    response = requests.post(f"{server.url}/v1/agent/{agent}/{operation}", headers=headers, json=body, timeout=10)
    dialect = server.world.bithuman.default_dialect
    if dialect == "current":
        # The OpenAPI file's generation: other codes for the same cases, and 400 for validation.
        assert response.status_code == (400 if status == 422 else status)
        assert response.json()["error"]["code"] in {code, "MISSING_AUTH", "NOT_FOUND"}
        return
    assert (response.status_code, response.json()["success"], response.json()["error"]) == (status, False, code)
    assert response.json()["message"]


# Seed 000's "Common Error Responses", body for body (an unknown code stands in for its A12345678).
S000_ERRORS = [
    (
        "A00000000",
        {"api-secret": "YOUR_API_SECRET"},
        {"message": "x"},
        404,
        "AGENT_NOT_FOUND",
        "Agent with code 'A00000000' not found",
    ),
    ("A12345678", {"api-secret": "wrong"}, {"message": "x"}, 401, "UNAUTHORIZED", "Invalid api-secret"),
    (
        "A91XMB7113",
        {"api-secret": "YOUR_API_SECRET"},
        {"message": "x"},
        404,
        "NO_ACTIVE_ROOMS",
        "No active sessions found for agent",
    ),
    (
        "A12345678",
        {"api-secret": "YOUR_API_SECRET"},
        {"context": "x", "type": "shout"},
        422,
        "VALIDATION_ERROR",
        "Invalid type. Must be one of: speak, add_context",
    ),
]


@pytest.mark.parametrize(("agent", "headers", "body", "status", "code", "message"), S000_ERRORS)
def test_seed_000_error_responses(
    server: MockServer, agent: str, headers: dict[str, str], body: dict[str, str], status: int, code: str, message: str
) -> None:
    import requests

    operation = "add-context" if "context" in body else "speak"
    response = requests.post(f"{server.url}/v1/agent/{agent}/{operation}", headers=headers, json=body, timeout=10)
    if server.world.bithuman.default_dialect == "current":
        assert response.json()["status"] == "error"  # the other generation's envelope
        return
    # The imaginex-era page's bodies are the error bodies of both older generations.
    assert (response.status_code, response.json()) == (status, {"success": False, "error": code, "message": message})
