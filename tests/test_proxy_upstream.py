"""The proxy's connections to its upstreams: kept alive, one write per request, every framing, TLS.

The upstream here is a socket of the test's own, read with h11 and answered with scripted bytes, so
that each test sees exactly what the proxy sent and on which connection, and can answer what a real
server might: an answer and a close, a close without an answer, a ``100 Continue``, a body with no
framing, bytes that are not HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h11
import httpx
import pytest

from mockserver.bridge.proxy import Proxy, ProxyServer
from mockserver.bridge.upstream import Origin, UpstreamError, UpstreamPool, request_head

from .bridge_support import SECRET

TLS = Path(__file__).parent / "tls"  # a test CA (its key thrown away) and a certificate it signed for 127.0.0.1


@dataclass
class Seen:
    """One request as the upstream received it."""

    connection: int  # 1 for the first connection the upstream accepted, ...
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    first_read: bytes  # what the read that started the request returned


class AndClose(bytes):
    """An answer after which the upstream closes the connection."""


Script = Callable[[Seen], bytes | None]  # the bytes to answer (None: close without answering)


def answer(body: bytes = b'{"ok":true}', *, status: str = "200 OK", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


class Upstream:
    """A scripted HTTP/1.1 upstream on a thread of its own (``with Upstream(script) as upstream``)."""

    def __init__(self, script: Script, *, tls: ssl.SSLContext | None = None, close_after: bool = False) -> None:
        self.script = script
        self.tls = tls
        self.close_after = close_after  # close each connection once it has answered (no Connection header)
        self.seen: list[Seen] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Upstream:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                return
        with conn:
            leftover = b""
            while True:
                parser = h11.Connection(h11.SERVER)
                if leftover:  # (no bytes would mean the end of the connection to h11)
                    parser.receive_data(leftover)
                request: h11.Request | None = None
                body = bytearray()
                first = leftover
                while True:
                    event = parser.next_event()
                    if event is h11.NEED_DATA:
                        try:
                            data = conn.recv(1 << 20)
                        except OSError:
                            return
                        first = first or data
                        parser.receive_data(data)
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:  # closed
                        return
                assert request is not None
                seen = Seen(
                    number,
                    request.method.decode(),
                    request.target.decode(),
                    {k.decode(): v.decode() for k, v in request.headers},
                    bytes(body),
                    first,
                )
                self.seen.append(seen)
                reply = self.script(seen)
                if reply is None:
                    return
                conn.sendall(reply)
                if self.close_after or isinstance(reply, AndClose):
                    return
                leftover = parser.trailing_data[0]


@pytest.fixture
def through() -> Iterator[Callable[..., ProxyServer]]:
    """``through(upstream_url, **proxy_options)``: a served proxy in front of it (stopped after the test)."""
    servers: list[ProxyServer] = []

    def start(url: str, **options: object) -> ProxyServer:
        server = ProxyServer(Proxy({"bithuman": url, "agora": url}, **options)).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


SPEAK = "/v1/agent/A12345678/speak"


def test_one_connection_is_kept_alive_and_each_request_goes_out_in_one_write(
    through: Callable[..., ProxyServer],
) -> None:
    with Upstream(lambda seen: answer()) as upstream:
        proxy = through(upstream.url)
        with httpx.Client(base_url=proxy.url) as client:
            for n in range(5):
                sent = client.post(SPEAK, headers=SECRET, json={"message": f"hello {n}"}, params={"n": n})
                assert sent.status_code == 200 and sent.json() == {"ok": True}
    assert upstream.connections == 1 and len(upstream.seen) == 5
    for n, seen in enumerate(upstream.seen):
        assert seen.target == f"{SPEAK}?n={n}" and seen.body == f'{{"message":"hello {n}"}}'.encode()
        # Head and body in the same read: written together, so no small second write waits for an ACK.
        assert seen.first_read.endswith(seen.body) and seen.first_read.startswith(b"POST ")
        assert seen.headers["host"] == upstream.url.removeprefix("http://")


def test_an_upstream_that_closes_its_kept_alive_connections_costs_nothing(through: Callable[..., ProxyServer]) -> None:
    # Closed after each answer without a word (no Connection: close): each request finds the
    # connection it would reuse closed and opens another.
    with Upstream(lambda seen: answer(), close_after=True) as upstream:
        proxy = through(upstream.url)
        with httpx.Client(base_url=proxy.url) as client:
            statuses = []
            for _ in range(4):
                statuses.append(client.post(SPEAK, headers=SECRET, json={"message": "hi"}).status_code)
                time.sleep(0.05)  # the close reaches the proxy before the next request
    assert statuses == [200] * 4 and upstream.connections == 4


def test_a_request_the_upstream_dropped_on_a_kept_alive_connection_is_sent_once_more(
    through: Callable[..., ProxyServer],
) -> None:
    # The race a kept-alive connection always has: the upstream closes it just as a request is
    # sent on it, and never reads the request. Here: every second request on a connection.
    def every_second_dropped(seen: Seen) -> bytes | None:
        on_this_connection = [s for s in upstream.seen if s.connection == seen.connection]
        return None if seen.connection == 1 and len(on_this_connection) == 2 else answer(seen.body)

    with Upstream(every_second_dropped) as upstream:
        proxy = through(upstream.url)
        with httpx.Client(base_url=proxy.url) as client:
            answers = [client.post(SPEAK, headers=SECRET, content=f"body {n}".encode()) for n in range(3)]
            journal = client.get("/_mock/journal").json()["entries"]
    assert [(a.status_code, a.content) for a in answers] == [(200, f"body {n}".encode()) for n in range(3)]
    # Request 2 reached connection 1 and was dropped, then went whole on connection 2.
    assert [(s.connection, s.body) for s in upstream.seen] == [
        (1, b"body 0"),
        (1, b"body 1"),
        (2, b"body 1"),
        (2, b"body 2"),
    ]
    assert [e["status"] for e in journal] == [200, 200, 200]


def test_a_slow_answer_on_a_kept_alive_connection_is_a_504_and_is_not_sent_again(
    through: Callable[..., ProxyServer],
) -> None:
    def second_slow(seen: Seen) -> bytes:
        if len(upstream.seen) == 2:
            time.sleep(1.0)  # past the proxy's timeout: the upstream is working on it
        return answer()

    with Upstream(second_slow) as upstream:
        proxy = through(upstream.url, timeout=0.3)
        with httpx.Client(base_url=proxy.url) as client:
            fast = client.post(SPEAK, headers=SECRET, json={"message": "one"})
            slow = client.post(SPEAK, headers=SECRET, json={"message": "two"})
    assert fast.status_code == 200 and slow.status_code == 504
    assert [s.body for s in upstream.seen] == [b'{"message":"one"}', b'{"message":"two"}']


def test_an_upstream_that_closes_without_answering_answers_502(through: Callable[..., ProxyServer]) -> None:
    with Upstream(lambda seen: None) as upstream:
        proxy = through(upstream.url)
        sent = httpx.post(f"{proxy.url}{SPEAK}", headers=SECRET, json={"message": "hi"})
        (entry,) = httpx.get(f"{proxy.url}/_mock/journal").json()["entries"]
    assert sent.status_code == 502 and sent.json()["error"]["httpStatus"] == 502
    assert "without an answer" in entry["error"]
    # A new connection that fails is not tried again: the upstream did read the request.
    assert len(upstream.seen) == 1


def test_what_is_not_http_answers_502(through: Callable[..., ProxyServer]) -> None:
    with Upstream(lambda seen: b"SSH-2.0-OpenSSH_9.6\r\n\r\n") as upstream:
        proxy = through(upstream.url)
        sent = httpx.post(f"{proxy.url}{SPEAK}", headers=SECRET, json={"message": "hi"})
        (entry,) = httpx.get(f"{proxy.url}/_mock/journal").json()["entries"]
    assert sent.status_code == 502 and "not valid HTTP" in entry["error"]


def test_a_body_that_arrives_in_chunks_streams_through_chunked(through: Callable[..., ProxyServer]) -> None:
    received: list[bytes] = []

    def record(seen: Seen) -> bytes:
        received.append(seen.body)
        return answer(str(len(seen.body)).encode())

    def pieces() -> Iterator[bytes]:
        for n in range(20):
            time.sleep(0.01)
            yield f"piece {n:02d};".encode() * 1000

    with Upstream(record) as upstream:
        proxy = through(upstream.url)
        with httpx.Client(base_url=proxy.url) as client:
            chunked = client.post("/upload", content=pieces())  # no length: sent chunked
            sized = client.post("/upload", content=b"z" * 300_000)  # a length, sent in several reads
    whole = b"".join(f"piece {n:02d};".encode() * 1000 for n in range(20))
    assert chunked.status_code == 200 and chunked.content == str(len(whole)).encode()
    assert received == [whole, b"z" * 300_000] and sized.content == b"300000"
    first, second = upstream.seen[0].headers, upstream.seen[1].headers
    assert first["transfer-encoding"] == "chunked" and "content-length" not in first
    assert second["content-length"] == "300000" and "transfer-encoding" not in second
    assert upstream.connections == 1


def test_answers_of_every_framing_pass_through(through: Callable[..., ProxyServer]) -> None:
    def framings(seen: Seen) -> bytes:
        if seen.target == "/chunked":
            return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        if seen.target == "/continue":
            return b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"after the interim answer")
        if seen.target == "/head":  # a HEAD answer announces a body it does not carry
            return b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nx-kind: head\r\n\r\n"
        if seen.target == "/empty":
            return b"HTTP/1.1 204 No Content\r\nx-kind: empty\r\n\r\n"
        # No length, not chunked: the body ends when the upstream closes.
        return AndClose(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n" + b"until the end" * 1000)

    with Upstream(framings) as upstream:
        proxy = through(upstream.url)
        with httpx.Client(base_url=proxy.url) as client:
            chunked = client.get("/chunked")
            interim = client.post("/continue", content=b"x", headers={"Expect": "100-continue"})
            head = client.head("/head")
            empty = client.get("/empty")
            unframed = client.get("/unframed")
            again = client.get("/chunked")
    assert chunked.content == b"hello world" and again.content == b"hello world"
    assert interim.status_code == 200 and interim.content == b"after the interim answer"
    assert head.status_code == 200 and head.headers["x-kind"] == "head" and head.content == b""
    assert empty.status_code == 204 and empty.headers["x-kind"] == "empty"
    assert unframed.content == b"until the end" * 1000
    # Kept alive through all but the answer that ended with its connection.
    assert [s.connection for s in upstream.seen] == [1, 1, 1, 1, 1, 2]


def _tls_server() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "upstream.pem")
    return context


def test_an_https_upstream_is_reached_over_tls_and_its_certificate_checked(through: Callable[..., ProxyServer]) -> None:
    trusting = ssl.create_default_context(cafile=str(TLS / "ca.pem"))
    with Upstream(lambda seen: answer(seen.body), tls=_tls_server()) as upstream:
        proxy = through(upstream.url, pool=UpstreamPool(10, ssl_context=trusting))
        with httpx.Client(base_url=proxy.url) as client:
            answers = [client.post(SPEAK, headers=SECRET, content=f"secret {n}".encode()) for n in range(3)]
        # The default trust (certifi's bundle) does not know the test CA: the upstream cannot be reached.
        doubting = through(upstream.url)
        refused = httpx.post(f"{doubting.url}{SPEAK}", headers=SECRET, json={"message": "hi"})
        (entry,) = httpx.get(f"{doubting.url}/_mock/journal").json()["entries"]
    assert [a.content for a in answers] == [b"secret 0", b"secret 1", b"secret 2"]
    assert upstream.connections == 2  # one kept alive for the three requests, one refused
    assert refused.status_code == 502 and "CERTIFICATE_VERIFY_FAILED" in entry["error"]


def test_the_pool_bounds_its_busy_connections_and_reuses_the_one_used_last() -> None:
    with Upstream(lambda seen: answer(seen.body)) as upstream:
        origin = Origin.of(upstream.url)

        async def exchange(pool: UpstreamPool, text: str) -> bytes:
            reply = await pool.send(
                origin, b"POST", b"/", [(b"content-length", str(len(text)).encode())], text.encode()
            )
            try:
                body = reply.take()
                while not reply.complete:
                    body += await reply.read()
                return body
            finally:
                reply.release()

        async def scenario() -> tuple[list[bytes], int, int]:
            pool = UpstreamPool(5, max_connections=1)
            bodies = await asyncio.gather(*(exchange(pool, f"n{n}") for n in range(4)))
            idle = pool.idle
            await pool.aclose()
            return bodies, idle, pool.opened

        bodies, idle, opened = asyncio.run(scenario())
    assert bodies == [b"n0", b"n1", b"n2", b"n3"] and opened == 1 and idle == 1
    assert upstream.connections == 1


def test_a_request_head_cannot_carry_a_second_request() -> None:
    with pytest.raises(UpstreamError):
        request_head(b"GET", b"/ HTTP/1.1\r\nHost: evil\r\n\r\nGET /", b"upstream", [])
    with pytest.raises(UpstreamError):
        request_head(b"GET", b"/", b"upstream", [(b"x-note", b"a\r\nx-injected: 1")])
    head = request_head(b"GET", b"/a?b=c", b"upstream:8443", [(b"Accept", b"*/*")], chunked=True)
    assert head == b"GET /a?b=c HTTP/1.1\r\nHost: upstream:8443\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_origins_name_their_host_as_http_does() -> None:
    assert Origin.of("https://api.bithuman.ai") == Origin("https", "api.bithuman.ai", 443, b"api.bithuman.ai", b"")
    assert Origin.of("http://[::1]:8080/base/") == Origin("http", "::1", 8080, b"[::1]:8080", b"/base")
    with pytest.raises(ValueError):
        Origin.of("ftp://example.test")


class _Wire(asyncio.Transport):
    """A connection's transport that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_the_server_writes_a_response_s_head_and_body_at_once_and_a_stream_s_head_at_once() -> None:
    # The proxy's answers go out through the same protocol as the mock's (server.serving): a small
    # answer in one write, so the client reads it whole; a stream's head without waiting for its body.
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from mockserver.protocol import Limits, protocol_for

    later = asyncio.Event()

    async def app(scope: dict[str, object], receive: Callable[..., object], send: Callable[..., object]) -> None:
        await receive()  # type: ignore[misc]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[misc]
        if scope["path"] == "/stream":
            await later.wait()
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[misc]

    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes]]:
        config = Config(app, log_level="warning", lifespan="off", http=protocol_for(Limits()))
        config.load()
        protocol = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
        wire = _Wire()
        protocol.connection_made(wire)
        protocol.data_received(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(5):
            await asyncio.sleep(0)
        small = list(wire.writes)
        wire.writes.clear()
        protocol.data_received(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(5):
            await asyncio.sleep(0)
        head = list(wire.writes)
        later.set()
        for _ in range(5):
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return small, head, wire.writes[len(head) :]

    small, head, rest = asyncio.run(scenario())
    assert len(small) == 1 and small[0].startswith(b"HTTP/1.1 200 OK\r\n") and small[0].endswith(b"\r\n\r\nok")
    assert len(head) == 1 and head[0].endswith(b"\r\n\r\n") and rest == [b"ok"]
