"""``mockserver.client``: the control-plane client and its two transports."""

from __future__ import annotations

import asyncio
import inspect
import re
import socket
import threading
from typing import Any

import pytest

from mockserver import MockServer, create_app
from mockserver.client import ASGITransport, ControlClient, ControlError, HTTPTransport, Response, httpx_transport
from mockserver.client import requests_adapter as make_adapter
from mockserver.spec import load_spec


def test_http_transport_retries_a_kept_alive_connection_the_server_closed(live: MockServer) -> None:
    with ControlClient(live.url) as client:
        assert client.get_health()["status"] == "ok"
        conn: Any = client.transport._local.conn  # type: ignore[attr-defined]
        conn.sock.shutdown(socket.SHUT_RDWR)  # as when the server drops an idle keep-alive connection
        assert client.get_health()["status"] == "ok"
        assert client.transport._local.conn is not conn  # type: ignore[attr-defined]


def test_http_transport_has_a_connection_per_thread_and_closes_them_all(live: MockServer) -> None:
    transport = HTTPTransport(live.url + "/")
    client = ControlClient(transport)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(len(client.list_inbox(limit=1)))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len(transport._open) == 3
    client.close()
    assert transport._open == []


def test_a_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HTTPTransport("127.0.0.1:8080")


def test_errors_carry_the_detail_of_problem_and_vendor_bodies() -> None:
    with ControlClient(ASGITransport(create_app())) as client:
        with pytest.raises(ControlError) as exc:
            client.call("GET", "/_mock/bithuman/accounts/nobody")
        assert (exc.value.status, exc.value.problem["title"]) == (404, "Not found")
        with pytest.raises(ControlError) as exc:
            client.call("POST", "/v1/agent/A1/speak", {"message": "hi"})  # no api-secret: bitHuman's envelope
        assert exc.value.status == 401 and "MISSING_AUTH" in exc.value.detail


def test_in_process_transport_from_async_code_uses_one_helper_thread() -> None:
    transport = ASGITransport(create_app())
    client = ControlClient(transport)

    async def arrange() -> list[str]:
        return [client.get_health()["status"], client.get_health()["status"]]

    assert asyncio.run(arrange()) == ["ok", "ok"]
    assert [t for t in threading.enumerate() if t.name.startswith("mockserver-asgi")]
    client.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("mockserver-asgi")]


def test_httpx_and_requests_reach_the_app_in_process() -> None:
    httpx = pytest.importorskip("httpx")
    requests = pytest.importorskip("requests")
    transport = ASGITransport(create_app())
    body = {"id": "shop", "secrets": ["s"], "agents": [{"code": "A1", "rooms": ["r1"]}]}
    with httpx.Client(base_url=transport.url, transport=httpx_transport(transport)) as http:
        assert http.post("/_mock/bithuman/accounts", json=body).status_code == 201
        assert http.post("/v1/agent/A1/speak?x=1", json={"message": "hi"}, headers={"api-secret": "s"}).json()[
            "rooms"
        ] == ["r1"]
    with requests.Session() as session:
        session.mount(transport.url, make_adapter(transport))
        answer = session.get(f"{transport.url}/_mock/inbox", params={"tenant": "shop"})
        assert answer.status_code == 200 and answer.json()["events"][0]["text"] == "hi"
        assert answer.headers["Content-Type"] == "application/json"
    transport.close()


# -- one method per control-plane operation --------------------------------------------------------


class _Recorder:
    """A transport that answers every request with an empty success and remembers what was asked."""

    url = "http://recorder.invalid"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str, target: str, body: bytes | None = None, headers: Any = None) -> Response:
        self.sent.append((method, target.partition("?")[0]))
        return Response(200, {}, b'{"loaded": [], "events": [], "dropped": 0}')

    def close(self) -> None:
        pass


def _arguments(method: Any) -> list[Any]:
    """Placeholder values for a client method's required arguments (ids are plain words)."""
    values: list[Any] = []
    for param in inspect.signature(method).parameters.values():
        if param.default is not inspect.Parameter.empty or param.kind is not param.POSITIONAL_OR_KEYWORD:
            continue
        values.append(
            {"int": 7, "float": 1.0}.get(str(param.annotation), [] if "list" in str(param.annotation) else {})
        )
        if "str" in str(param.annotation) and "Mapping" not in str(param.annotation):
            values[-1] = f"x-{param.name}"
    return values


def test_every_control_plane_operation_has_a_client_method_of_its_name() -> None:
    operations = load_spec("admin/openapi.yaml").operations
    missing = sorted(name for name in operations if not callable(getattr(ControlClient, name, None)))
    assert missing == [], f"control-plane operations with no ControlClient method: {missing}"


def test_each_client_method_sends_its_operation() -> None:
    recorder = _Recorder()
    client = ControlClient(recorder)
    for name, operation in load_spec("admin/openapi.yaml").operations.items():
        if name == "stream_events":  # a stream: read over a socket (test_stream_events_reads_the_inbox_live)
            continue
        recorder.sent.clear()
        method = getattr(client, name)
        method(*_arguments(method))
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(operation.path))
        assert len(recorder.sent) == 1, name
        sent_method, sent_path = recorder.sent[0]
        assert sent_method == operation.method and re.fullmatch(pattern, sent_path), (name, recorder.sent)


def test_the_new_operations_round_trip_in_process() -> None:
    with ControlClient(ASGITransport(create_app())) as client:
        assert client.get_version()["version"] and "paths" in client.get_control_plane_spec()
        assert "<html" in client.get_dashboard().lower() and client.get_dashboard_asset("app.js")
        account = client.create_bithuman_account({"id": "t1", "secrets": ["s1"], "agents": []})
        assert account["id"] == "t1" and {"id": "t1", "vendor": "bithuman"} in client.list_tenants()
        agent = client.create_bithuman_agent("t1", {"code": "A1", "rooms": ["r1"]})
        assert client.get_bithuman_agent("t1", agent["code"])["code"] == "A1"
        assert client.open_bithuman_room("t1", "A1", "r 2")["id"] == "r 2"  # quoted in the path
        assert client.close_bithuman_room("t1", "A1", "r 2")["active"] is False
        client.delete_bithuman_agent("t1", "A1")
        assert client.update_bithuman_account("t1", dialect="legacy")["dialect"] == "legacy"
        client.delete_bithuman_account("t1")
        assert "t1" not in [a["id"] for a in client.list_bithuman_accounts()]
        client.create_agora_customer({"id": "c1", "secret": "s", "projects": [{"appid": "p1"}]})
        client.create_agora_project("c1", {"appid": "p2"})
        assert client.update_agora_project("p2", startup_delay=2)["startup_delay"] == 2
        assert client.set_agora_dial_rules("c1", [{"number": "+15550001", "outcome": "busy"}])[0]["outcome"] == "busy"
        fault = client.add_fault({"kind": "latency", "latency_ms": 1, "operation": "bithuman_speak"})
        assert [f["id"] for f in client.list_faults()] == [fault["id"]]
        client.delete_fault(fault["id"])
        client.add_fault({"kind": "latency", "latency_ms": 1})
        assert client.clear_faults() == 1
        assert client.count_journal()["count"] == client.list_journal()["count"]
        assert client.clear_journal() >= 0
        client.delete_agora_customer("c1")


def test_stream_events_reads_the_inbox_live(live: MockServer) -> None:
    with ControlClient(live.url) as client:
        client.create_bithuman_account(
            {"id": "stream-1", "secrets": ["s-stream"], "agents": [{"code": "A9", "rooms": ["r"]}]}
        )
        try:
            secret = {"api-secret": "s-stream"}
            client.call("POST", "/v1/agent/A9/speak", {"message": "one"}, headers=secret)
            events = client.stream_events(tenant="stream-1")
            assert next(events).text == "one"  # the past first
            client.call("POST", "/v1/agent/A9/speak", {"message": "two"}, headers=secret)
            assert next(events).text == "two"  # then live
            events.close()
        finally:
            client.delete_bithuman_account("stream-1")
    with ControlClient(ASGITransport(create_app())) as client, pytest.raises(TypeError, match="served"):
        next(client.stream_events())
