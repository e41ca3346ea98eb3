"""Webhook delivery: retries on the mock clock, success only on 200, off the request path, bounded,
observable, sent again on request. Nothing sleeps: the clock is driven, arrivals are waited for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.receiver import WebhookReceiver
from mockserver.server import MockServer
from mockserver.world.webhooks import Notification, agora_signatures

from .agora_support import T0, Tenant
from .conftest import DEFAULT_FIXTURE
from .webhook_support import finished as wait_finished

SECRET = "ncs-secret"


@pytest.fixture
def agora_server() -> Iterator[MockServer]:
    # A server (and webhook sender) per test: one test's hung or retried deliveries must not hold
    # the next test's in the sender's queue.
    with MockServer(fixtures=[DEFAULT_FIXTURE], seed=5) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(agora_secret=SECRET) as r:
        yield r


@pytest.fixture
def hooked(tenant: Tenant, receiver: WebhookReceiver) -> Iterator[Tenant]:
    tenant.server.world.webhooks.set_agora(tenant.appid, receiver.url, SECRET, [101, 102])
    yield tenant
    receiver.release()
    tenant.server.world.webhooks.delete_agora(tenant.appid)
    tenant.server.world.webhooks.update_settings({"retry_gaps": [0, 2, 4], "timeout": 10, "queue_limit": 1000})
    tenant.server.world.webhooks.update_settings({"duplicate": False, "out_of_order": False})


def finished(tenant: Tenant, event: int, *, attempts: int = 1) -> Notification:
    return wait_finished(tenant.server.world, tenant.customer_id, event, attempts=attempts)


def test_a_failing_receiver_gets_three_retries_with_the_same_notice_id(
    hooked: Tenant, receiver: WebhookReceiver
) -> None:
    receiver.fail_next(10, 503)
    hooked.start()
    # The first retry is immediate; the next ones wait 2 s and 4 s of mock time.
    first, second = receiver.wait_for(2)
    assert finished(hooked, 101, attempts=2).state == "pending"
    hooked.advance(2)
    receiver.wait_for(3)
    hooked.advance(3.9)
    assert finished(hooked, 101, attempts=3).state == "pending"
    hooked.advance(0.1)
    n = finished(hooked, 101, attempts=4)
    assert n.state == "failed"
    got = receiver.wait_for(4)
    assert [a.status for a in n.attempts] == [503] * 4 and [a.number for a in n.attempts] == [1, 2, 3, 4]
    assert [a.at for a in n.attempts] == [T0, T0, T0 + 2, T0 + 6]
    assert {r.json["noticeId"] for r in got} == {n.notice_id}
    assert [r.json["notifyMs"] for r in got] == [int(a.at * 1000) for a in n.attempts]  # fresh on every attempt
    assert all(r.agora_valid for r in got)
    assert got[2].headers["agora-signature-v2"] != got[1].headers["agora-signature-v2"]  # notifyMs changed
    assert agora_signatures(SECRET, got[3].body)[1] == got[3].headers["agora-signature-v2"]
    # No fifth attempt, however far the clock goes; every attempt is in the inbox.
    hooked.advance(3600)
    assert len(hooked.server.world.webhooks.list(tenant=hooked.customer_id, event=101)[0].attempts) == 4
    outcomes = [e.outcome for e in hooked.events(kind="webhook")]
    assert outcomes == ["retrying", "retrying", "retrying", "failed"]
    assert [e.data["status"] for e in hooked.events(kind="webhook")] == [503] * 4


def test_only_status_200_is_success(hooked: Tenant, receiver: WebhookReceiver) -> None:
    receiver.fail_next(1, 204)  # a 2xx other than 200 is a failure for NCS
    hooked.start()
    n = finished(hooked, 101, attempts=2)
    assert [a.status for a in n.attempts] == [204, 200] and n.state == "delivered"


def test_an_unreachable_receiver_is_recorded_not_raised(tenant: Tenant) -> None:
    with WebhookReceiver() as gone:
        url = gone.url  # a port nobody listens on once it is closed
    tenant.server.world.webhooks.set_agora(tenant.appid, url, SECRET, [101])
    tenant.server.world.webhooks.update_settings({"retry_gaps": []})
    try:
        tenant.start()
        n = finished(tenant, 101)
        assert n.state == "failed" and n.attempts[0].status is None and n.attempts[0].error
    finally:
        tenant.server.world.webhooks.delete_agora(tenant.appid)
        tenant.server.world.webhooks.update_settings({"retry_gaps": [0, 2, 4]})


def test_the_api_never_waits_for_a_hanging_receiver(hooked: Tenant, receiver: WebhookReceiver) -> None:
    receiver.hang()
    agent_id = hooked.start()  # 101 is sent...
    [held] = receiver.wait_for(1)  # ...and the receiver holds it without answering
    assert held.status == 0
    # While it hangs, the vendor API answers: these calls return before the receiver is released.
    hooked.sdk.agents.speak(hooked.appid, agent_id, text="Still here.")
    assert hooked.sdk.agents.get(hooked.appid, agent_id).status == "RUNNING"
    other = hooked.start("other", agent_rtc_uid="1003")
    hooked.sdk.agents.stop(hooked.appid, agent_id)
    hooked.advance(1)
    assert hooked.sdk.agents.get(hooked.appid, agent_id).status == "STOPPED"  # 102 is queued
    # Another session's notification goes out while the first hangs; the first session's 102 waits
    # for its 101 (one session's notifications keep their order).
    [_, second] = receiver.wait_for(2)
    assert second.json["payload"]["agent_id"] == other and second.json["eventType"] == 101
    states = {(n.agent, n.event): n.state for n in hooked.server.world.webhooks.list(tenant=hooked.customer_id)}
    assert states == {(agent_id, 101): "sending", (other, 101): "sending", (agent_id, 102): "pending"}
    receiver.release()
    assert finished(hooked, 102).state == "delivered"
    assert [r.json["eventType"] for r in receiver.received if r.json["payload"]["agent_id"] == agent_id] == [101, 102]


def test_a_receiver_slower_than_the_timeout_fails_the_attempt(hooked: Tenant, receiver: WebhookReceiver) -> None:
    hooked.server.world.webhooks.update_settings({"timeout": 0.2, "retry_gaps": []})
    receiver.hang()
    hooked.start()
    n = finished(hooked, 101)
    assert n.state == "failed" and n.attempts[0].status is None
    assert n.attempts[0].error == "no answer within 0.2 s"


def test_the_queue_is_bounded_and_what_is_dropped_is_counted(hooked: Tenant, receiver: WebhookReceiver) -> None:
    hooks = hooked.server.world.webhooks
    dropped = hooks.stats()["dropped"]
    hooks.update_settings({"queue_limit": hooks.stats()["queued"] + 1})  # room for one more
    receiver.hang()
    first = hooked.start("a")
    receiver.wait_for(1)
    hooked.start("b", agent_rtc_uid="1003")
    hooked.sdk.agents.stop(hooked.appid, first)
    hooked.advance(1)
    hooks.tick()
    assert hooks.stats()["dropped"] == dropped + 2  # 101 of b and 102 of a: the queue held one already
    assert [n.event for n in hooks.list(tenant=hooked.customer_id)] == [101]


def test_send_again_reuses_the_notice_id(hooked: Tenant, receiver: WebhookReceiver) -> None:
    hooked.start()
    n = finished(hooked, 101)
    hooked.server.world.webhooks.resend(n.id)
    first, again = receiver.wait_for(2)
    assert first.json["noticeId"] == again.json["noticeId"] and again.agora_valid
    n = finished(hooked, 101, attempts=2)
    assert n.state == "delivered" and [a.number for a in n.attempts] == [1, 2]


def test_chaos_duplicates_share_the_notice_id(hooked: Tenant, receiver: WebhookReceiver) -> None:
    hooked.server.world.webhooks.update_settings({"duplicate": True})
    hooked.start()
    one, two = receiver.wait_for(2)
    assert one.json["noticeId"] == two.json["noticeId"] and one.json["eventType"] == 101


# -- the control plane, every answer checked against its contract --------------------------------------


def test_control_plane_webhook_operations(client: TestClient, receiver: WebhookReceiver) -> None:
    base = "/_mock/agora/projects/demo-app-id/webhook"
    assert client.get(base).status_code == 404
    bad = client.put(base, json={"url": receiver.url, "secret": "s", "events": [999]})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert (
        client.put("/_mock/agora/projects/nope/webhook", json={"url": receiver.url, "secret": "s"}).status_code == 404
    )
    assert client.put(base, json={"url": "ftp://x", "secret": "s"}).status_code == 422
    made = client.put(base, json={"url": receiver.url, "secret": SECRET, "events": [101]})
    assert made.status_code == 200 and made.json()["events"] == [101] and "secret" not in made.json()
    assert client.get(base).json()["url"] == receiver.url
    settings = client.patch("/_mock/webhooks", json={"retry_gaps": [0, 1]}).json()["settings"]
    assert settings["retry_gaps"] == [0, 1]
    assert client.patch("/_mock/webhooks", json={"retry_gaps": [-1]}).status_code == 422

    auth = {"authorization": "Basic ZGVtby1jdXN0b21lci1pZDpkZW1vLWN1c3RvbWVyLXNlY3JldA=="}
    body = {"name": "cp", "properties": {"channel": "c", "token": "t", "agent_rtc_uid": "1", "remote_rtc_uids": ["2"]}}
    body["properties"] |= {"llm": {"url": "https://l/v1"}, "tts": {"vendor": "microsoft", "params": {}}}
    started = client.post("/api/conversational-ai-agent/v2/projects/demo-app-id/join", json=body, headers=auth)
    assert started.status_code == 200, started.text
    [got] = receiver.wait_for(1)
    assert got.agora_valid and got.json["eventType"] == 101
    recorded = threading.Event()
    world = client.app.state.world  # type: ignore[attr-defined]
    unsubscribe = world.inbox.subscribe(lambda e: e.kind == "webhook" and recorded.set())
    try:  # the attempt is recorded once the answer is in: wait for that, not for a time
        assert world.inbox.query(kind="webhook") or recorded.wait(10)
    finally:
        unsubscribe()
    listed = client.get("/_mock/webhooks/deliveries", params={"event": 101})
    assert listed.status_code == 200
    deliveries = listed.json()["deliveries"]
    assert deliveries[0]["notice_id"] == got.json["noticeId"] and deliveries[0]["url"] == receiver.url
    delivery_id = deliveries[0]["id"]
    assert client.post("/_mock/webhooks/deliveries/424242/resend").status_code == 404
    overview = client.get("/_mock/webhooks").json()
    assert overview["agora"][0]["appid"] == "demo-app-id" and overview["stats"]["dropped"] == 0
    agent_id = started.json()["agent_id"]
    error = {"module": "tts", "code": 50, "message": "quota"}
    answer = client.post(f"/_mock/agora/projects/demo-app-id/agents/{agent_id}/error", json=error)
    assert answer.status_code == 200 and answer.json()["status"] == "RUNNING"
    assert client.delete(base).status_code == 204 and client.delete(base).status_code == 404
    again = client.post(f"/_mock/webhooks/deliveries/{delivery_id}/resend")
    assert again.status_code == 202 and again.json()["notice_id"] == got.json["noticeId"]


def test_the_plugin_receiver_fixture(mockserver: Any, mockserver_webhook_receiver: WebhookReceiver) -> None:
    project = mockserver.agora.project()
    mockserver_webhook_receiver.subscribe_agora(mockserver.client, project.app_id, [101])
    project.sdk().agents.start(project.app_id, name="plugin", properties=_props())
    [joined] = mockserver_webhook_receiver.wait_for(1)
    assert joined.agora_valid and joined.json["payload"]["name"] == "plugin"


def _props() -> dict[str, Any]:
    from .agora_support import properties

    return properties()


def test_the_console_check_reports_each_event(client: TestClient, receiver: WebhookReceiver) -> None:
    base = "/_mock/agora/projects/demo-app-id/webhook"
    assert client.post(f"{base}/check").status_code == 404  # no webhook yet
    client.put(base, json={"url": receiver.url, "secret": SECRET, "events": [101, 102]})
    receiver.fail_next(1, 503)
    report = client.post(f"{base}/check").json()
    assert report["ok"] is False
    assert sorted((r["code"], r["ok"]) for r in report["results"]) == [(200, True), (503, False)]
    got = receiver.wait_for(2)
    assert {r.json["payload"]["channel"] for r in got} == {"test_webhook"} and all(r.agora_valid for r in got)
    assert client.post(f"{base}/check").json()["ok"] is True
    with WebhookReceiver() as gone:
        url = gone.url
    client.put(base, json={"url": url, "secret": SECRET, "events": [101]})
    [unreachable] = client.post(f"{base}/check").json()["results"]
    assert unreachable["code"] == 591 and unreachable["error"]
    client.patch("/_mock/webhooks", json={"timeout": 0.2})
    client.put(base, json={"url": receiver.url, "secret": SECRET, "events": [101]})
    receiver.hang()
    [late] = client.post(f"{base}/check").json()["results"]
    assert late["code"] == 590
