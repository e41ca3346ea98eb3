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
