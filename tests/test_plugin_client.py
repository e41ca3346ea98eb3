"""``mockserver.client``: the control-plane client and its two transports."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest

from mockserver import MockServer, create_app
from mockserver.client import ASGITransport, ControlClient, ControlError, HTTPTransport, httpx_transport
from mockserver.client import requests_adapter as make_adapter


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
