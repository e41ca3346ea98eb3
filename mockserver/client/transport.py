"""The transports of the control-plane client: HTTP to a URL, or the ASGI app in process.

They need only the standard library (and orjson, which the package already requires):

- ``HTTPTransport`` speaks HTTP/1.1 with keep-alive to a URL (one connection per thread);
- ``ASGITransport`` calls the ASGI app directly: no socket, no server thread.

Either carries any request, so the same client also reaches the vendor APIs. ``httpx_transport`` and
``requests_adapter`` put an ``ASGITransport`` under httpx or requests, for code under test that takes a
client or a session.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

__all__ = [
    "IN_PROCESS_URL",
    "ASGITransport",
    "HTTPTransport",
    "Response",
    "Transport",
    "httpx_transport",
    "requests_adapter",
]

IN_PROCESS_URL = "http://mockserver.invalid"  # .invalid never resolves: a stray real request fails loudly


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content) if self.content else None


class Transport(Protocol):
    """Carries one request to the mock; ``target`` is the path with its query string."""

    url: str

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response: ...

    def close(self) -> None: ...


class HTTPTransport:
    """HTTP/1.1 with keep-alive to ``url``: one connection per calling thread.

    Args:
        url: the mock's base URL, e.g. ``http://127.0.0.1:8080`` (a path prefix is kept).
        timeout: seconds to wait for a connection or an answer.
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self._parts = parts
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(self._parts.hostname or "", self._parts.port, timeout=self._timeout)
        conn.connect()
        # Small request/response pairs: without NODELAY, Nagle and delayed ACKs add ~40 ms to each.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.append(conn)
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        self._local.conn = None
        self._forget(conn)

    def _forget(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        reused = getattr(self._local, "conn", None) is not None
        while True:
            conn = getattr(self._local, "conn", None) or self._connect()
            self._local.conn = conn
            try:
                conn.request(method, self._prefix + target, body=body, headers=dict(headers or {}))
                answer = conn.getresponse()
                content = answer.read()
            except (ConnectionError, http.client.HTTPException):
                self._drop(conn)
                if not reused:
                    raise
                reused = False  # a kept-alive connection the server closed meanwhile: once more, on a new one
                continue
            if answer.will_close:
                self._drop(conn)
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, content)

    def lines(self, target: str, headers: Mapping[str, str] | None = None) -> Iterator[bytes]:
        """GET ``target`` and yield its body line by line as it arrives (a stream that never ends).

        It has a connection of its own, closed when the caller stops iterating.

        Raises:
            http.client.HTTPException: the answer is not a 200.
        """
        conn = self._connect()
        try:
            conn.request("GET", self._prefix + target, headers=dict(headers or {}))
            answer = conn.getresponse()
            if answer.status != 200:
                raise http.client.HTTPException(f"GET {target} -> {answer.status}: {answer.read()[:500]!r}")
            while line := answer.readline():
                yield line.rstrip(b"\r\n")
        finally:
            self._forget(conn)

    def close(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


class ASGITransport:
    """Call an ASGI app (``create_app()``) in this process, on a private event loop.

    No socket and no server thread: a request costs what the app costs. From a thread that is
    already running an event loop (an async test), the call runs on one helper thread instead.

    Args:
        app: the ASGI application.
        url: the base URL requests pretend to go to.
    """

    def __init__(self, app: Any, url: str = IN_PROCESS_URL) -> None:
        self.app = app
        self.url = url.rstrip("/")
        self._host = urllib.parse.urlsplit(self.url).netloc
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._helper: ThreadPoolExecutor | None = None

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        coro = self._call(method, target, body or b"", headers or {})
        with self._lock:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return self._loop.run_until_complete(coro)
            if self._helper is None:
                self._helper = ThreadPoolExecutor(1, thread_name_prefix="mockserver-asgi")
            return self._helper.submit(self._loop.run_until_complete, coro).result()

    async def _call(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> Response:
        path, _, query = target.partition("?")
        raw = [(b"host", self._host.encode())]
        raw += [(k.lower().encode(), str(v).encode("latin-1")) for k, v in headers.items() if k.lower() != "host"]
        if body and not any(k == b"content-length" for k, _ in raw):
            raw.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": "http",
            "path": urllib.parse.unquote(path),
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": (self._host, 80),
        }
        sent = False
        status, out_headers, chunks = 500, {}, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, out_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers = {k.decode().lower(): v.decode("latin-1") for k, v in message.get("headers", ())}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return Response(status, out_headers, b"".join(chunks))

    def close(self) -> None:
        with self._lock:
            if self._helper is not None:
                self._helper.shutdown(wait=True)
                self._helper = None
            if not self._loop.is_closed():
                self._loop.close()


def httpx_transport(transport: Transport) -> Any:
    """An ``httpx.BaseTransport`` over ``transport`` (needs httpx): ``httpx.Client(transport=...)``."""
    import httpx

    class _Transport(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            target = request.url.raw_path.decode("ascii")
            answer = transport.request(request.method, target, request.read(), dict(request.headers))
            return httpx.Response(answer.status, headers=answer.headers, content=answer.content, request=request)

    return _Transport()


def requests_adapter(transport: Transport) -> Any:
    """A ``requests`` adapter over ``transport`` (needs requests): ``session.mount(url, adapter)``."""
    import requests
    from requests.structures import CaseInsensitiveDict

    class _Adapter(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            parts = urllib.parse.urlsplit(request.url or "")
            target = parts.path + ("?" + parts.query if parts.query else "")
            body = request.body.encode() if isinstance(request.body, str) else request.body
            answer = transport.request(request.method or "GET", target, body, dict(request.headers))  # type: ignore[arg-type]
            response = requests.Response()
            response.status_code, response._content = answer.status, answer.content
            response.headers = CaseInsensitiveDict(answer.headers)
            response.url, response.request = request.url or "", request
            response.encoding = requests.utils.get_encoding_from_headers(response.headers)
            return response

        def close(self) -> None:
            pass

    return _Adapter()
