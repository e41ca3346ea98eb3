"""The control plane under /_mock/: arrange, inspect, reset, clock; problem+json errors."""

from __future__ import annotations

from starlette.testclient import TestClient

from mockserver import World, __version__
from mockserver.spec import load_spec

from .conftest import DOCS_SECRET

SPEAK = "/v1/agent/{code}/speak"


def test_health_and_version(client: TestClient) -> None:
    health = client.get("/_mock/health").json()
    assert health["status"] == "ok" and health["version"] == __version__
    assert health["tenants"] == 3
    version = client.get("/_mock/version").json()
    assert version == {"version": __version__, "contract_version": load_spec().document["info"]["version"]}


def test_control_plane_spec_is_served(client: TestClient) -> None:
    doc = client.get("/_mock/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/_mock/reset" in doc["paths"]


def test_arrange_an_account_end_to_end(client: TestClient) -> None:
    r = client.post("/_mock/bithuman/accounts", json={"id": "shop", "secrets": ["shop-secret"]})
    assert r.status_code == 201
    assert r.json()["effective_dialect"] == "current"
    agent = client.post("/_mock/bithuman/accounts/shop/agents", json={}).json()
    code = agent["code"]
    assert code.startswith("A") and agent["rooms"] == []
    speak = client.post(SPEAK.format(code=code), json={"message": "hi"}, headers={"api-secret": "shop-secret"})
    assert speak.status_code == 404  # no room yet
    room = client.post(f"/_mock/bithuman/accounts/shop/agents/{code}/rooms", json={"room_id": "r1"})
    assert room.status_code == 201 and room.json()["active"] is True
    client.post(f"/_mock/bithuman/accounts/shop/agents/{code}/rooms", json={"room_id": "r2"})
    speak = client.post(SPEAK.format(code=code), json={"message": "hi"}, headers={"api-secret": "shop-secret"})
    assert speak.json()["delivered_to_rooms"] == 2
    closed = client.post(f"/_mock/bithuman/accounts/shop/agents/{code}/rooms/r1/close")
    assert closed.json()["active"] is False and closed.json()["closed_at"] is not None
    speak = client.post(SPEAK.format(code=code), json={"message": "again"}, headers={"api-secret": "shop-secret"})
    assert speak.json()["rooms"] == ["r2"]
    inbox = client.get("/_mock/inbox", params={"tenant": "shop"}).json()
    assert [(e["room"], e["text"]) for e in inbox["events"]] == [("r1", "hi"), ("r2", "hi"), ("r2", "again")]
    assert client.get(f"/_mock/bithuman/accounts/shop/agents/{code}").json()["rooms"][0]["active"] is False
    assert client.delete(f"/_mock/bithuman/accounts/shop/agents/{code}").status_code == 204
    assert client.delete("/_mock/bithuman/accounts/shop").status_code == 204
    r = client.post(SPEAK.format(code=code), json={"message": "hi"}, headers={"api-secret": "shop-secret"})
    assert r.status_code == 401


def test_generated_account_has_a_secret(client: TestClient) -> None:
    account = client.post("/_mock/bithuman/accounts").json()
    assert account["id"].startswith("acct_") and account["secrets"][0].startswith("sk_mock_")
    listed = client.get("/_mock/bithuman/accounts").json()
    assert account["id"] in [a["id"] for a in listed]


def test_update_account(client: TestClient) -> None:
    r = client.patch("/_mock/bithuman/accounts/demo", json={"dialect": "legacy", "rate_limit": "free"})
    assert r.json()["dialect"] == "legacy" and r.json()["rate_limit"] == {"per_minute": 30}
    r = client.patch("/_mock/bithuman/accounts/demo", json={"dialect": None, "rate_limit": None})
    assert r.json()["dialect"] is None and r.json()["rate_limit"] is None
    r = client.patch("/_mock/bithuman/accounts/demo", json={"secrets": ["legacy_api_secret"]})
    assert r.status_code == 409


def test_problem_json_errors(client: TestClient) -> None:
    r = client.get("/_mock/bithuman/accounts/nobody")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "no bitHuman account 'nobody'"
    assert client.post("/_mock/bithuman/accounts", json={"id": "demo"}).status_code == 409
    r = client.post("/_mock/bithuman/accounts", json={"dialect": "klingon"})
    assert r.status_code == 422 and "dialect" in r.json()["detail"]
    r = client.post("/_mock/bithuman/accounts", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_reset_everything_and_one_tenant(client: TestClient, world: World) -> None:
    client.post("/_mock/bithuman/accounts", json={"id": "temp"})
    client.post(SPEAK.format(code="A12345678"), json={"message": "x"}, headers={"api-secret": DOCS_SECRET})
    client.post("/_mock/bithuman/accounts/demo/agents/A12345678/rooms/room_1/close")
    r = client.post("/_mock/reset", json={"tenant": "demo"})
    assert r.json()["reset"] == "demo"
    assert "temp" in r.json()["tenants"]
    assert world.inbox.query(tenant="demo") == []
    assert world.bithuman.get_agent("demo", "A12345678").rooms["room_1"].active
    r = client.post("/_mock/reset")
    assert r.json() == {"reset": "all", "tenants": ["demo", "demo-customer-id", "demo-legacy"]}
    assert client.post("/_mock/reset", json={"tenant": "ghost"}).status_code == 404


def test_load_fixture_json_and_yaml(client: TestClient) -> None:
    doc = {
        "version": 1,
        "bithuman": {"accounts": [{"id": "f", "secrets": ["fs"], "agents": [{"code": "AF", "rooms": ["r"]}]}]},
    }
    r = client.post("/_mock/fixtures", json=doc)
    assert r.json() == {"loaded": ["f"]}
    assert client.post(SPEAK.format(code="AF"), json={"message": "x"}, headers={"api-secret": "fs"}).status_code == 200
    yaml_doc = b"bithuman:\n  accounts:\n    - id: g\n      secrets: [gs]\n"
    r = client.post("/_mock/fixtures?replace=true", content=yaml_doc, headers={"content-type": "application/yaml"})
    assert r.json() == {"loaded": ["g"]}
    assert [t["id"] for t in client.get("/_mock/tenants").json()] == ["g"]


def test_load_fixture_reports_what_is_wrong(client: TestClient) -> None:
    r = client.post("/_mock/fixtures", json={"bithuman": {"accounts": [{"id": "x"}]}})
    assert r.status_code == 422
    assert "secrets" in r.json()["detail"]
    assert r.json()["problems"]


def test_inbox_filters(client: TestClient) -> None:
    h = {"api-secret": DOCS_SECRET}
    client.post(SPEAK.format(code="A12345678"), json={"message": "a", "room_id": "room_1"}, headers=h)
    client.post("/v1/agent/A12345678/add-context", json={"context": "b", "room_id": "room_2"}, headers=h)
    events = client.get("/_mock/inbox").json()["events"]
    assert [e["kind"] for e in events] == ["speech", "context"]
    assert events[0]["at"] == "2024-01-15T10:30:00Z"
    assert client.get("/_mock/inbox", params={"kind": "context"}).json()["count"] == 1
    assert client.get("/_mock/inbox", params={"room": "room_1"}).json()["events"][0]["text"] == "a"
    assert client.get("/_mock/inbox", params={"since": events[0]["id"]}).json()["count"] == 1
    assert client.get("/_mock/inbox", params={"since": "x"}).status_code == 422
    assert client.delete("/_mock/inbox").json() == {"dropped": 2}


def test_clock_control(client: TestClient) -> None:
    assert client.get("/_mock/clock").json() == {
        "now": 1705314600.0,
        "iso": "2024-01-15T10:30:00Z",
        "frozen": True,
        "speed": 1.0,
    }
    assert client.post("/_mock/clock/advance", json={"seconds": 90}).json()["iso"] == "2024-01-15T10:31:30Z"
    r = client.post("/_mock/clock/freeze", json={"at": "2025-01-01T00:00:00Z"})
    assert r.json()["now"] == 1735689600.0
    assert client.post("/_mock/clock/freeze", json={"at": "yesterday"}).status_code == 422
    assert client.post("/_mock/clock/advance", json={}).status_code == 422
    r = client.post("/_mock/clock/resume", json={"speed": 2})
    assert r.json()["frozen"] is False and r.json()["speed"] == 2.0
