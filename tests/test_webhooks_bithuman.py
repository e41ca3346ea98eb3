"""bitHuman session webhooks: room.join when a room opens, chat.push for what the agent says."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver import MockServer
from mockserver.receiver import WebhookReceiver
from mockserver.world.webhooks import bithuman_session_id

from .agora_support import DEFAULT_FIXTURE
from .webhook_support import finished

T0 = 1_790_607_253.5
HEADERS = {"X-Webhook-Secret": "receiver-own-secret"}
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(fixtures=[DEFAULT_FIXTURE], seed=3) as s:
        s.world.clock.freeze(T0)
        yield s


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def account(server: MockServer, receiver: WebhookReceiver) -> str:
    n = next(_ids)
    account_id, secret = f"bh-{n}", f"secret-{n}"
    server.world.bithuman.create_account(account_id, secrets=[secret], agents=[{"code": f"A8{n:08d}"}])
    server.world.webhooks.set_bithuman(account_id, receiver.url, HEADERS)
    return account_id


def test_room_join_then_chat_push_with_the_accounts_headers(
    server: MockServer, receiver: WebhookReceiver, account: str
) -> None:
    code = next(iter(server.world.bithuman.accounts[account].agents))
    room = server.world.bithuman.open_room(account, code, "room-1")
    [joined] = receiver.wait_for(1)
    session = bithuman_session_id(account, code, "room-1", room.opened_at)
    assert uuid.UUID(session).version == 4
    assert joined.json == {
        "agent_id": code,
        "event_type": "room.join",
        "data": {"room_name": "room-1", "participant_count": 2, "session_id": session},
        "timestamp": T0,
    }
    assert joined.headers["x-webhook-secret"] == "receiver-own-secret"
    assert joined.headers["content-type"] == "application/json"
    assert not any(h.startswith(("x-bithuman-signature", "agora-signature")) for h in joined.headers)  # unsigned
    secret = server.world.bithuman.accounts[account].secrets[0]
    with httpx.Client(timeout=10) as http:
        said = http.post(
            f"{server.url}/v1/agent/{code}/speak", json={"message": "Welcome!"}, headers={"api-secret": secret}
        )
        assert said.status_code == 200, said.text
        context = http.post(
            f"{server.url}/v1/agent/{code}/add-context", json={"context": "VIP"}, headers={"api-secret": secret}
        )
        assert context.status_code == 200, context.text
    [_, pushed] = receiver.wait_for(2)
    assert pushed.json == {
        "agent_id": code,
        "event_type": "chat.push",
        "data": {"role": "assistant", "message": "Welcome!", "session_id": session, "timestamp": T0},
        "timestamp": T0,
    }
    # Context is not said aloud: no chat.push for it.
    assert finished(server.world, account, "chat.push").state == "delivered"
    assert [r.json["event_type"] for r in receiver.received] == ["room.join", "chat.push"]


def test_one_attempt_only_and_subscribed_events_only(
    server: MockServer, receiver: WebhookReceiver, account: str
) -> None:
    server.world.webhooks.set_bithuman(account, receiver.url, HEADERS, ["room.join"])
    receiver.fail_next(1, 500)
    code = next(iter(server.world.bithuman.accounts[account].agents))
    server.world.bithuman.open_room(account, code, "room-2")
    n = finished(server.world, account, "room.join")
    assert n.state == "failed" and [a.status for a in n.attempts] == [500]
    server.world.clock.advance(60)
    server.world.bithuman.bithuman_speak(server.world.bithuman.accounts[account], code, "Hello", None)
    assert len(server.world.webhooks.list(tenant=account)) == 1  # no retry, no chat.push
    assert len(receiver.received) == 1


def test_control_plane_and_fixture(client: TestClient, receiver: WebhookReceiver) -> None:
    accounts = client.get("/_mock/bithuman/accounts").json()
    account = accounts[0]["id"] if isinstance(accounts, list) else accounts["accounts"][0]["id"]
    base = f"/_mock/bithuman/accounts/{account}/webhook"
    assert client.get(base).status_code == 404
    assert client.put(base, json={"url": receiver.url, "events": ["video.completed"]}).status_code == 422
    assert client.put("/_mock/bithuman/accounts/nobody/webhook", json={"url": receiver.url}).status_code == 404
    made = client.put(base, json={"url": receiver.url, "headers": HEADERS})
    assert made.status_code == 200
    assert made.json() == {
        "account_id": account,
        "url": receiver.url,
        "headers": ["X-Webhook-Secret"],  # names only: the values are the receiver's secrets
        "events": ["room.join", "chat.push"],
    }
    assert client.get("/_mock/webhooks").json()["bithuman"][0]["account_id"] == account
    assert client.delete(base).status_code == 204 and client.get(base).status_code == 404
    document = {
        "version": 1,
        "bithuman": {
            "accounts": [
                {"id": "hooked", "secrets": ["hooked-secret"], "webhook": {"url": receiver.url, "headers": HEADERS}}
            ]
        },
    }
    assert client.post("/_mock/fixtures", json=document).status_code in (200, 201)
    assert client.get("/_mock/bithuman/accounts/hooked/webhook").json()["events"] == ["room.join", "chat.push"]


# -- the account webhooks API (/v1/webhooks), every answer checked against the contract ---------------

SECRET_HEADER = {"api-secret": "YOUR_API_SECRET"}


def test_account_webhooks_api(client: TestClient, receiver: WebhookReceiver) -> None:
    world = client.app.state.world  # type: ignore[attr-defined]
    receiver.now = world.clock.now  # the mock's clock is frozen: check timestamps against it
    made = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["agent.ready"]}, headers=SECRET_HEADER)
    assert made.status_code == 200, made.text
    hook = made.json()["data"]
    assert hook["secret"].startswith("whsec_") and uuid.UUID(hook["id"]).version == 4
    assert (hook["url"], hook["events"], hook["active"]) == (receiver.url, ["agent.ready"], True)
    receiver.bithuman_secret = hook["secret"]
    listed = client.get("/v1/webhooks", headers=SECRET_HEADER).json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]  # shown once only
    assert client.get(f"/v1/webhooks/{hook['id']}", headers=SECRET_HEADER).json()["data"]["url"] == receiver.url
    missing = client.get("/v1/webhooks/nope", headers=SECRET_HEADER)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/v1/webhooks").status_code == 401
    assert client.post("/v1/webhooks", json={"events": []}, headers=SECRET_HEADER).status_code == 400

    # An agent is created: agent.ready, signed over "{timestamp}.{body}".
    account = world.bithuman.authenticate("YOUR_API_SECRET").id
    assert client.post(f"/_mock/bithuman/accounts/{account}/agents", json={"code": "A80HVD8577"}).status_code == 201
    [ready] = receiver.wait_for(1)
    assert ready.bithuman_valid is True
    assert ready.headers["x-bithuman-event"] == "agent.ready"
    assert ready.headers["x-bithuman-timestamp"] == str(int(world.clock.now()))
    assert ready.json == {
        "id": ready.headers["x-bithuman-delivery"],
        "event": "agent.ready",
        "created": int(world.clock.now()),
        "data": {"agent_id": "A80HVD8577", "code": "A80HVD8577"},
    }
    assert ready.headers["x-bithuman-delivery"].startswith("evt_")

    # The test call sends a ping and answers what came of it.
    tested = client.post(f"/v1/webhooks/{hook['id']}/test", headers=SECRET_HEADER)
    assert tested.status_code == 200
    assert tested.json()["data"] == {"delivered": True, "status_code": 200, "attempts": 1}
    receiver.fail_next(1, 500)
    failed = client.post(f"/v1/webhooks/{hook['id']}/test", headers=SECRET_HEADER).json()["data"]
    assert failed == {"delivered": False, "status_code": 500, "attempts": 1}
    pings = [r for r in receiver.received if r.json["event"] == "ping"]
    assert len(pings) == 2 and all(r.bithuman_valid for r in pings)

    deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=SECRET_HEADER).json()["data"]
    assert [(d["event_type"], d["delivered"], d["status_code"]) for d in deliveries] == [
        ("ping", False, 500),
        ("ping", True, 200),
        ("agent.ready", True, 200),
    ]  # newest first
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=SECRET_HEADER).json() == {
        "success": True,
        "deleted": True,
    }
    assert client.get(f"/v1/webhooks/{hook['id']}", headers=SECRET_HEADER).status_code == 404


def test_account_events_retry_at_2_and_5_s_and_any_2xx_is_success(
    server: MockServer, receiver: WebhookReceiver, account: str
) -> None:
    hook = server.world.webhooks.bithuman_create_webhook(account, {"url": receiver.url})
    receiver.fail_next(2, 502)
    receiver.bithuman_secret, receiver.now = hook.secret, server.world.clock.now
    start = server.world.clock.now()
    server.world.bithuman.create_agent(account, "A80RETRY01")
    n = finished(server.world, account, "agent.ready")
    assert n.state == "pending" and n.next_at == start + 2
    server.world.clock.advance(2)
    n = finished(server.world, account, "agent.ready", attempts=2)
    assert n.state == "pending" and n.next_at == start + 5
    server.world.clock.advance(3)
    receiver.fail_next(1, 204)  # a 2xx: delivered
    n = finished(server.world, account, "agent.ready", attempts=3)
    assert n.state == "delivered" and [a.status for a in n.attempts] == [502, 502, 204]
    got = [r for r in receiver.received if r.json.get("event") == "agent.ready"]
    assert len({r.json["id"] for r in got}) == 1 and all(r.bithuman_valid for r in got)
