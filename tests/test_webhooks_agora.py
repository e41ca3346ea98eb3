"""Agora NCS webhooks: signatures, and every event type as the receiver gets it, driven through the SDK."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from agora_agent.client import Agora

from mockserver import MockServer
from mockserver.receiver import Received, WebhookReceiver, verify_agora_signature, verify_bithuman_signature
from mockserver.world.webhooks import agora_signatures, bithuman_signature, session_id

from .agora_support import DEFAULT_FIXTURE, T0, Tenant, basic, properties
from .webhook_support import finished

ROOT = Path(__file__).resolve().parents[1]
SECRET = "ncs-secret"

# webhooks-facts §1.2: the published vectors (key "secret").
VECTORS = [
    (
        b'{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f",'
        b'"notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}',
        "033c62f40f687675f17f0f41f91a40c71c0f134c",
        "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99",
    ),
    (
        b'{"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f",'
        b'"notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}',
        "5a3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df1",
        "de96da5acf03b0021ac3b4fa2225e7ae6f3533a30d50bb02c08ea4fa748bda24",
    ),
    (
        b'{"sid":"C866467GVJJ54687","noticeId":"2000001428:4330:107","productId":17,"eventType":101,'
        b'"notifyMs":1611566412672,"payload":{}}',
        "cbe041d1bee598f93a144ecb848d7c3d8ed2c8af",
        "c82b30238acab18a46d6ba7a7e71fee8d2d0c8383383c13280b31e09d1d906c6",
    ),
]


@pytest.mark.parametrize(("body", "sha1", "sha256"), VECTORS)
def test_agora_signatures_match_the_published_vectors(body: bytes, sha1: str, sha256: str) -> None:
    assert agora_signatures("secret", body) == (sha1, sha256)
    assert verify_agora_signature("secret", body, {"Agora-Signature-V2": sha256})
    assert verify_agora_signature("secret", body, {"agora-signature": sha1})
    assert not verify_agora_signature("secret", body + b" ", {"Agora-Signature-V2": sha256})
    assert not verify_agora_signature("other", body, {"Agora-Signature": sha1})


def test_bithuman_signature_matches_the_computed_vector() -> None:
    body = (
        b'{"id":"evt_a1b2c3","event":"agent.ready","created":1780417371,'
        b'"data":{"agent_id":"A80HVD8577","code":"A80HVD8577"}}'
    )
    signature = bithuman_signature("whsec_test", "1780417371", body)
    assert signature == "sha256=3e029f6f4d61e36ad44e1da2ba0683348ddfd83cccaf1590aefb10101259a12b"
    headers = {"X-BitHuman-Timestamp": "1780417371", "X-BitHuman-Signature": signature}
    assert verify_bithuman_signature("whsec_test", body, headers, now=1780417371 + 10)
    assert not verify_bithuman_signature("whsec_test", body, headers, now=1780417371 + 301)  # stale
    assert not verify_bithuman_signature("whsec_test", body[:-1], headers, now=1780417371)


# -- events, through the official SDK ----------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(agora_secret=SECRET) as r:
        yield r


@pytest.fixture
def hooked(tenant: Tenant, receiver: WebhookReceiver) -> Tenant:
    tenant.server.world.webhooks.set_agora(tenant.appid, receiver.url, SECRET)
    return tenant


def events(receiver: WebhookReceiver, count: int, *types: int) -> list[Received]:
    return receiver.wait_for(count, lambda r: r.json["eventType"] in types)


def check_envelope(r: Received, event_type: int, agent_id: str) -> dict[str, Any]:
    body = r.json
    assert list(body) == ["noticeId", "productId", "eventType", "notifyMs", "sid", "payload"]
    assert (body["productId"], body["eventType"], body["sid"]) == (17, event_type, session_id(agent_id))
    assert [int(x) for x in body["noticeId"].split(":")][2] == event_type
    assert r.headers["content-type"] == "application/json"
    assert r.agora_valid is True
    sha1, sha256 = agora_signatures(SECRET, r.body)  # over the exact bytes received, lowercase hex
    assert (r.headers["agora-signature"], r.headers["agora-signature-v2"]) == (sha1, sha256)
    assert len(sha1) == 40 and len(sha256) == 64 and sha256 == sha256.lower()
    payload: dict[str, Any] = body["payload"]
    assert payload["agent_id"] == agent_id
    return payload


def test_join_and_leave_send_101_then_102_to_106_signed(hooked: Tenant, receiver: WebhookReceiver) -> None:
    labels = {"team": "support"}
    agent_id = hooked.sdk.agents.start(
        hooked.appid,
        name="support",
        properties=properties(labels=labels, llm={"url": "https://l/v1", "greeting_message": "Hi!"}),
    ).agent_id
    [joined] = events(receiver, 1, 101)
    assert check_envelope(joined, 101, agent_id) == {
        "agent_id": agent_id,
        "name": "support",
        "channel": "support-channel",
        "labels": labels,
        "start_ts": int(T0),
    }
    assert joined.json["notifyMs"] == int(T0 * 1000)  # the mock clock
    hooked.sdk.agents.stop(hooked.appid, agent_id)
    hooked.advance(1)  # STOPPING lasts 1 s; the ticker replays it without anyone reading the agent
    left, history, metrics, turns = (events(receiver, 1, t)[0] for t in (102, 103, 111, 112))
    assert check_envelope(left, 102, agent_id) == {
        "agent_id": agent_id,
        "name": "support",
        "channel": "support-channel",
        "labels": labels,
        "start_ts": int(T0),
        "stop_ts": int(T0) + 1,
        "status": "STOPPED",
        "message": "OK",
    }
    assert check_envelope(history, 103, agent_id)["contents"] == [{"role": "assistant", "content": "Hi!"}]
    assert check_envelope(metrics, 111, agent_id)["metrics"][0]["turn_id"] == 1
    t = check_envelope(turns, 112, agent_id)
    assert (t["start_ts"], t["stop_ts"], t["total_turn_count"], t["is_truncated"]) == (
        int(T0 * 1000),
        int(T0 * 1000) + 1000,
        1,
        False,
    )
    assert t["turns"][0]["start"]["type"] == "greeting" and t["turns"][0]["end"]["type"] == "interrupted"
    # Each notification has its own noticeId and the session's sid.
    notices = [r.json["noticeId"] for r in receiver.received]
    assert len(set(notices)) == len(notices) == 5
    assert {r.json["sid"] for r in receiver.received} == {session_id(agent_id)}


@pytest.mark.parametrize(
    ("how", "status", "message"),
    [
        ("idle", "STOPPED", "Idle for too long"),
        ("cap", "STOPPED", "Task lifetime limit exceeded"),
        ("failed", "FAILED", "Connecting for too long"),
        ("rtc", "FAILED", "RTC connection error"),
    ],
)
def test_102_status_and_message_for_each_way_of_leaving(
    hooked: Tenant, receiver: WebhookReceiver, how: str, status: str, message: str
) -> None:
    agent_id = hooked.start(idle_timeout=30)
    world = hooked.server.world
    if how == "idle":
        world.agora.user_leaves(hooked.appid, agent_id)
        hooked.advance(31)  # idle timeout, then 1 s of STOPPING
    elif how == "cap":
        hooked.advance(72 * 3600 + 1)
    elif how == "failed":
        world.agora.fail_agent(hooked.appid, agent_id, "failed on request of the control plane")
    else:
        world.agora.fail_agent(hooked.appid, agent_id, "RTC connection error")
    [left] = events(receiver, 1, 102)
    payload = check_envelope(left, 102, agent_id)
    assert (payload["status"], payload["message"]) == (status, message)


def test_subscribed_events_only(tenant: Tenant, receiver: WebhookReceiver) -> None:
    tenant.server.world.webhooks.set_agora(tenant.appid, receiver.url, SECRET, [102])
    agent_id = tenant.start()
    tenant.sdk.agents.stop(tenant.appid, agent_id)
    tenant.advance(1)
    [left] = events(receiver, 1, 102)
    check_envelope(left, 102, agent_id)
    assert [r.json["eventType"] for r in receiver.received] == [102]


def test_110_module_error_and_104_token_expiry(hooked: Tenant, receiver: WebhookReceiver) -> None:
    from mockserver.world.webhooks import report_agora_error

    token = _access_token(hooked.appid, issue_ts=int(T0), expire=120)
    agent_id = hooked.start(token=token)
    report_agora_error(
        hooked.server.world,
        hooked.appid,
        agent_id,
        {"module": "llm", "code": 503, "message": "Insufficient balance.", "turn_id": 2},
    )
    [error] = events(receiver, 1, 110)
    payload = check_envelope(error, 110, agent_id)
    assert (payload["turn_id"], payload["errors"]) == (
        2,
        [{"module": "llm", "turn_id": 2, "code": 503, "message": "Insufficient balance."}],
    )
    hooked.advance(89)
    hooked.server.world.webhooks.tick()
    assert [r.json["eventType"] for r in receiver.received if r.json["eventType"] == 104] == []
    hooked.advance(1)  # 30 s before the token's expiry
    [expiring] = events(receiver, 1, 104)
    assert check_envelope(expiring, 104, agent_id) == {
        "agent_id": agent_id,
        "name": "support",
        "start_ts": int(T0),
        "channel": "support-channel",
        "message": "Task exceeded maximum lifetime",
    }


def _access_token(appid: str, issue_ts: int, expire: int) -> str:
    """An AccessToken2 without services (the mock reads app id and times from it)."""
    import base64
    import struct
    import zlib

    info = struct.pack("<H", len(appid)) + appid.encode() + struct.pack("<IIIH", issue_ts, expire, 1, 0)
    raw = struct.pack("<H", 32) + b"\0" * 32 + info
    return "007" + base64.b64encode(zlib.compress(raw)).decode()


def test_outbound_and_inbound_call_states(hooked: Tenant, receiver: WebhookReceiver) -> None:
    world = hooked.server.world
    customer = world.agora.customers[hooked.customer_id]
    world.telephony.add_phone_number(
        customer,
        {
            "provider": "byo",
            "phone_number": "+15550100001",
            "label": "x",
            "inbound_config": {"allowed_addresses": ["127.0.0.0/8"]},
        },
    )
    body = {
        "name": "caller",
        "sip": {"to_number": "+15550123456", "from_number": "+15550100001", "rtc_uid": "100", "rtc_token": "t"},
        "properties": {"channel": "call-1", "token": "t", "agent_rtc_uid": "101", **_modules()},
    }
    with httpx.Client(timeout=10) as http:
        answer = http.post(f"{hooked.base}/call", json=body, headers=hooked.auth)
    assert answer.status_code == 200, answer.text
    hooked.advance(2)  # the callee answers after 2 s of ringing
    states = events(receiver, 4, 202)
    assert [check_envelope(r, 202, r.json["payload"]["agent_id"])["state"] for r in states] == [
        "START",
        "CALLING",
        "RINGING",
        "ANSWERED",
    ]
    assert states[3].json["payload"]["report_ms"] == int((T0 + 2) * 1000)
    call = world.telephony.inbound_call(
        customer, {"to_number": "+15550100001", "from_number": "+15559990000", "appid": hooked.appid}
    )
    inbound = events(receiver, 2, 201)
    assert [r.json["payload"]["state"] for r in inbound] == ["START", "ANSWERED"]
    assert inbound[0].json["payload"]["agent_id"] == call.agent.agent_id
    world.telephony.remote_hangup(world.agora.projects[hooked.appid], call.agent.agent_id)
    assert [r.json["payload"]["state"] for r in events(receiver, 3, 201)][2] == "HANGUP"


def _modules() -> dict[str, Any]:
    props = properties()
    return {"llm": props["llm"], "tts": props["tts"]}


# -- the issue's "done when": a receiver written from the vendor's docs, the SDK, default + webhook fixtures


def test_a_receiver_written_from_the_docs_gets_101_and_102(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("webhook_receiver", ROOT / "examples" / "webhook_receiver.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    got: list[dict[str, Any]] = []
    arrived = threading.Condition()

    def on_event(event: dict[str, Any]) -> None:
        with arrived:
            got.append(event)
            arrived.notify_all()

    receiver = example.build("my-ncs-secret", 0, on_event)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    fixture = yaml.safe_load((ROOT / "fixtures" / "webhooks.yaml").read_text())
    fixture["agora"]["customers"][0]["projects"][0]["webhook"]["url"] = f"http://127.0.0.1:{receiver.server_port}/ncs"
    (tmp_path / "webhooks.yaml").write_text(json.dumps(fixture))
    try:
        with MockServer(fixtures=[DEFAULT_FIXTURE, tmp_path / "webhooks.yaml"]) as server, httpx.Client() as http:
            sdk = Agora(
                base_url=f"{server.url}/api/conversational-ai-agent",
                authorization=basic("demo-customer-id", "demo-customer-secret"),
                username="demo-customer-id",
                password="demo-customer-secret",
                httpx_client=http,
            )
            server.world.clock.freeze(T0)
            agent = sdk.agents.start("demo-app-id", name="docs", properties=properties())
            sdk.agents.stop("demo-app-id", agent.agent_id)
            server.world.clock.advance(1)
            with arrived:
                assert arrived.wait_for(lambda: {101, 102} <= {e["eventType"] for e in got}, 10), got
            by_type = {e["eventType"]: e for e in got}
            assert by_type[101]["payload"]["agent_id"] == by_type[102]["payload"]["agent_id"] == agent.agent_id
            assert by_type[102]["payload"]["status"] == "STOPPED"
            # Every attempt was answered 200 with JSON: delivered on the first try.
            delivered = finished(server.world, "demo-customer-id", 101)
            assert [(a.status, a.json_reply) for a in delivered.attempts] == [(200, True)]
    finally:
        receiver.shutdown()
        receiver.server_close()
