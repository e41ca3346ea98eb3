"""The live side of the control plane: request journal, fault injection, the event stream."""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver import MockServer, World, create_app
from mockserver.admin.stream import EventFeed
from mockserver.world.inbox import Inbox

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

SPEAK = "/v1/agent/A12345678/speak"
AUTH = {"api-secret": DOCS_SECRET}
AGORA = {"authorization": "Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode()}
JOIN = "/api/conversational-ai-agent/v2/projects/demo-app-id/join"


def speak(client: TestClient, room: str = "room_1", **kw: Any) -> httpx.Response:
    return client.post(SPEAK, json={"message": "hi", "room_id": room}, headers=AUTH, **kw)


# -- journal -----------------------------------------------------------------------------------------


def test_journal_records_vendor_requests_with_secrets_redacted(client: TestClient) -> None:
    speak(client)
    body = {
        "name": "a",
        "properties": {
            "channel": "c",
            "token": "rtc-secret-token",
            "agent_rtc_uid": "1",
            "remote_rtc_uids": ["2"],
            "llm": {"url": "u", "api_key": "sk-live-123"},
            "tts": {"vendor": "openai", "params": {"voice": "v"}},
        },
    }
    client.post(JOIN, json=body, headers=AGORA)
    client.get("/_mock/health")  # the control plane is not journaled
    journal = client.get("/_mock/journal").json()
    assert journal["count"] == 2 and journal["total"] == 2
    first, second = journal["entries"]
    assert (first["operation"], first["status"], first["tenant"]) == ("bithuman_speak", 200, "demo")
    assert first["request_headers"]["api-secret"] == "[redacted]"
    assert first["response_body"]["delivered_to_rooms"] == 1
    assert second["request_headers"]["authorization"] == "[redacted]"
    props = second["request_body"]["properties"]
    assert props["token"] == "[redacted]" and props["llm"]["api_key"] == "[redacted]"
    text = str(journal)
    assert DOCS_SECRET not in text and "rtc-secret-token" not in text and "sk-live-123" not in text


def test_journal_near_misses(client: TestClient) -> None:
    client.post("/v1/agent/A12345678/speek", json={}, headers=AUTH)
    client.get(SPEAK, headers=AUTH)
    client.post(SPEAK, json={"mesage": "typo"}, headers=AUTH)
    entries = client.get("/_mock/journal").json()["entries"]
    not_found, wrong_method, invalid = (e["near_miss"] for e in entries)
    assert not_found == {"operation": "bithuman_speak", "reason": "no route for POST /v1/agent/A12345678/speek"}
    assert wrong_method["operation"] == "POST bithuman_speak" and "method GET" in wrong_method["reason"]
    assert invalid == {
        "operation": "bithuman_speak",
        "reason": "Missing required field: message (the body has 'mesage': did you mean 'message'?)",
    }


def test_journal_filters_count_and_clear(client: TestClient) -> None:
    speak(client)
    speak(client, room="nope")
    client.post(SPEAK, json={"message": "x"}, headers={"api-secret": "bad"})
    assert [e["status"] for e in client.get("/_mock/journal", params={"status": 404}).json()["entries"]] == [404]
    assert client.get("/_mock/journal", params={"tenant": "demo"}).json()["count"] == 2
    assert client.get("/_mock/journal", params={"limit": 1}).json()["entries"][0]["status"] == 401
    counts = client.get("/_mock/journal/count").json()
    assert counts["by_status"] == {"200": 1, "404": 1, "401": 1} and counts["by_operation"] == {"bithuman_speak": 3}
    assert client.delete("/_mock/journal").json() == {"dropped": 3}
    assert client.get("/_mock/journal").json()["count"] == 0


def test_journal_is_bounded() -> None:
    world = World(journal_limit=5)
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE])) as c:
        for _ in range(12):
            speak(c)
        journal = c.get("/_mock/journal").json()
    assert journal["count"] == 5 and journal["total"] == 12
    assert [e["id"] for e in journal["entries"]] == list(range(8, 13))


# -- faults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "status", "headers", "path", "body", "envelope"),
    [
        ("bithuman_speak", 503, AUTH, SPEAK, {"message": "x"}, ("error", "code", "NO_AVAILABLE_WORKERS")),
        ("start_agent", 504, AGORA, JOIN, {}, ("reason", None, "TaskOperationTimeout")),
        (
            "list_phone_numbers",
            500,
            AGORA,
            "/api/conversational-ai-agent/v2/phone-numbers",
            None,
            ("error_type", None, "internal_server_error"),
        ),
    ],
)
def test_error_faults_use_the_vendor_envelope(
    client: TestClient,
    operation: str,
    status: int,
    headers: dict[str, str],
    path: str,
    body: Any,
    envelope: tuple[str, str | None, str],
) -> None:
    r = client.post("/_mock/faults", json={"kind": "error", "operation": operation, "status": status, "times": 1})
    assert r.status_code == 201
    method = "GET" if body is None else "POST"
    got = client.request(method, path, json=body, headers=headers)
    assert got.status_code == status
    key, sub, value = envelope
    assert (got.json()[key][sub] if sub else got.json()[key]) == value
    again = client.request(method, path, json=body, headers=headers)
    assert again.status_code != status  # times: 1
    assert client.get("/_mock/faults").json()[0]["fired"] == 1
    assert client.get("/_mock/journal", params={"status": status}).json()["entries"][0]["fault"] == f"error {status}"


def test_rate_limit_fault_headers(client: TestClient) -> None:
    client.post("/_mock/faults", json={"kind": "rate_limit", "retry_after": 7, "tenant": "demo"})
    r = speak(client)
    assert (r.status_code, r.headers["Retry-After"], r.json()["error"]["code"]) == (429, "7", "RATE_LIMITED")
    assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Reset"] == str(1705314600 + 7)
    assert speak(client).status_code == 429  # for ever: no times
    other = client.post(SPEAK, json={"message": "x"}, headers={"api-secret": "legacy_api_secret"})
    assert other.status_code == 200  # another tenant
    r = client.post(JOIN, json={}, headers=AGORA)
    assert r.status_code == 400  # Agora customer: not this rule's tenant


def test_faults_by_agent_and_latency(client: TestClient) -> None:
    client.post("/_mock/faults", json={"kind": "error", "status": 404, "agent": "SALES_AGENT"})
    client.post("/_mock/faults", json={"kind": "latency", "latency_ms": 0, "operation": "bithuman_speak"})
    sales = client.post("/v1/agent/SALES_AGENT/speak", json={"message": "x"}, headers=AUTH)
    assert sales.status_code == 404
    assert speak(client).status_code == 200
    faults = [e["fault"] for e in client.get("/_mock/journal").json()["entries"]]
    assert faults == ["error 404", "latency 0ms"]


def test_probability_is_seeded_and_reproducible() -> None:
    def pattern() -> list[int]:
        with TestClient(create_app(World(seed=42), fixtures=[DEFAULT_FIXTURE])) as c:
            c.post("/_mock/faults", json={"kind": "error", "status": 500, "probability": 0.5})
            return [speak(c).status_code for _ in range(20)]

    first = pattern()
    assert first == pattern()
    assert 500 in first and 200 in first


def test_fault_rules_are_validated_listed_and_removed(client: TestClient) -> None:
    bad = [
        {"kind": "explode"},
        {"kind": "error"},
        {"kind": "error", "status": 418},
        {"kind": "error", "operation": "bithuman_speak", "status": 409},
        {"kind": "error", "operation": "no_such_op", "status": 500},
        {"kind": "latency", "probability": 2},
    ]
    for rule in bad:
        assert client.post("/_mock/faults", json=rule).status_code == 422, rule
    a = client.post("/_mock/faults", json={"kind": "drop", "times": 2}).json()
    client.post("/_mock/faults", json={"kind": "latency", "latency_ms": 5})
    assert [r["kind"] for r in client.get("/_mock/faults").json()] == ["drop", "latency"]
    assert client.delete(f"/_mock/faults/{a['id']}").status_code == 204
    assert client.delete(f"/_mock/faults/{a['id']}").status_code == 404
    assert client.delete("/_mock/faults").json() == {"dropped": 1}


def test_faults_from_a_fixture_come_back_on_reset() -> None:
    world = World(seed=1)
    doc = {"faults": [{"kind": "error", "operation": "bithuman_speak", "status": 500, "times": 1}]}
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE])) as c:
        c.post("/_mock/fixtures", json=doc)
        assert speak(c).status_code == 500
        assert speak(c).status_code == 200
    world.load(doc, boot=True)
    world.reset()
    assert world.faults.list()[0].fired == 0


@pytest.mark.parametrize("size", [1, 200_000])
def test_drop_fault_closes_the_connection(size: int) -> None:
    # The cut response, every time: the request is read to its end before the connection closes,
    # even one whose body arrives after the mock has decided to drop it (a reset otherwise).
    with MockServer(fixtures=[DEFAULT_FIXTURE]) as server:
        httpx.post(f"{server.url}/_mock/faults", json={"kind": "drop", "times": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{server.url}{SPEAK}", json={"message": "x" * size}, headers=AUTH)
        assert httpx.post(f"{server.url}{SPEAK}", json={"message": "x"}, headers=AUTH).status_code == 200


# -- the event stream --------------------------------------------------------------------------------


def _record(inbox: Inbox, text: str, tenant: str = "t") -> None:
    inbox.record(
        time=0.0,
        vendor="bithuman",
        tenant=tenant,
        agent="A",
        room="r",
        kind="speech",
        text=text,
        operation="bithuman_speak",
        outcome="delivered",
    )


def test_feed_replays_then_follows_events_from_other_threads() -> None:
    inbox = Inbox()
    for text in ("one", "two", "skipped-tenant"):
        _record(inbox, text, tenant="t" if text != "skipped-tenant" else "u")

    async def run() -> list[str]:
        feed = EventFeed(inbox, {"tenant": "t"}, last_id=1)
        got: list[str] = []
        async for event in feed:
            assert event is not None
            got.append(event.text)
            if event.text == "two":
                threading.Thread(target=_record, args=(inbox, "three")).start()
            if event.text == "three":
                break
        return got

    assert asyncio.run(run()) == ["two", "three"]
    assert inbox._listeners == ()  # unsubscribed when the stream ended


def test_feed_overflows_instead_of_growing() -> None:
    inbox = Inbox()

    async def run() -> list[str | None]:
        feed = EventFeed(inbox, {}, last_id=None, buffer=3)
        for i in range(10):
            _record(inbox, f"m{i}")  # nobody reads: the feed's buffer fills up
        await asyncio.sleep(0)  # let the loop run the hand-offs (no time passes)
        return [e.text if e is not None else None async for e in feed]

    got = asyncio.run(run())
    assert got[-1] is None  # the overflow marker ends the stream
    assert len(got) <= 10 + 1


def test_stream_over_http_resumes_with_last_event_id() -> None:
    with MockServer(fixtures=[DEFAULT_FIXTURE]) as server:
        for room in ("room_1", "room_2"):
            httpx.post(f"{server.url}{SPEAK}", json={"message": room, "room_id": room}, headers=AUTH)
        lines: list[str] = []
        with httpx.stream(
            "GET",
            f"{server.url}/_mock/events/stream",
            params={"kind": "speech"},
            headers={"Last-Event-ID": "1"},
            timeout=10,
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith("data:") and '"room_2"' in line:
                    httpx.post(f"{server.url}{SPEAK}", json={"message": "live", "room_id": "room_3"}, headers=AUTH)
                if line.startswith("data:") and '"live"' in line:
                    break
    ids = [line for line in lines if line.startswith("id:")]
    assert ids == ["id: 2", "id: 3"]
    assert sum(line == "event: inbox" for line in lines) == 2
