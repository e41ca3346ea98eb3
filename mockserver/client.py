"""A small client of the mock's control plane (``/_mock/``), over HTTP or in process.

The pytest plugin is built on it, and scripts can use it to arrange and inspect a mock running
elsewhere. It needs only the standard library (and orjson, which the package already requires):

- ``HTTPTransport`` speaks HTTP/1.1 with keep-alive to a URL (one connection per thread);
- ``ASGITransport`` calls the ASGI app directly: no socket, no server thread.

Either carries any request, so the same client also reaches the vendor APIs. ``httpx_transport`` and
``requests_adapter`` put an ``ASGITransport`` under httpx or requests, for code under test that takes a
client or a session. ``ControlClient`` methods are named after the control plane's operationIds.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = [
    "ASGITransport",
    "ControlClient",
    "ControlError",
    "Event",
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
        conn.close()
        self._local.conn = None
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


@dataclass(frozen=True, slots=True)
class Event:
    """One inbox event (see ``GET /_mock/inbox``): what an agent was told, or a change it went through."""

    id: int
    time: float
    vendor: str
    tenant: str
    agent: str
    room: str | None
    kind: str
    text: str
    outcome: str
    operation: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in names})

    def describe(self) -> str:
        """One readable line, for failure messages."""
        why = self.data.get("source") or self.data.get("caused_by") or self.data.get("priority") or ""
        where = f"room {self.room}" if self.vendor == "bithuman" else ""
        parts = [f"#{self.id}", where, self.kind, self.outcome, f"({why})" if why else "", repr(self.text)]
        return " ".join(p for p in parts if p)


class ControlError(Exception):
    """The mock refused a control-plane (or vendor) request; ``detail`` is its explanation."""

    def __init__(self, method: str, target: str, response: Response) -> None:
        self.method, self.target, self.status, self.response = method, target, response.status, response
        try:
            body = response.json()
        except orjson.JSONDecodeError:
            body = None
        self.problem: dict[str, Any] = body if isinstance(body, dict) else {}
        self.detail: str = str(self.problem.get("detail") or response.content[:500].decode("utf-8", "replace"))
        super().__init__(f"{method} {target} -> {self.status}: {self.detail}")


_NO_BODY: Any = object()


class ControlClient:
    """Drive the mock through its control plane.

    Args:
        target: the mock's base URL, or a transport (``ASGITransport(create_app())`` for in process).
        timeout: seconds, for a URL.
    """

    def __init__(self, target: str | Transport, *, timeout: float = 10.0) -> None:
        self.transport: Transport = HTTPTransport(target, timeout) if isinstance(target, str) else target

    @property
    def url(self) -> str:
        """The base URL of the mock (an ``.invalid`` one in process)."""
        return self.transport.url

    def request(
        self,
        method: str,
        path: str,
        json: Any = _NO_BODY,
        *,
        query: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and return the answer whatever its status."""
        target = path
        if query:
            target += "?" + urllib.parse.urlencode({k: _text(v) for k, v in query.items() if v is not None})
        sent = dict(headers or {})
        if json is not _NO_BODY:
            content = orjson.dumps(json)
            sent.setdefault("content-type", "application/json")
        return self.transport.request(method, target, content, sent)

    def call(self, method: str, path: str, json: Any = _NO_BODY, **kwargs: Any) -> Any:
        """Send one request; return the JSON answer (``None`` for an empty one).

        Raises:
            ControlError: the answer is an error (4xx or 5xx).
        """
        response = self.request(method, path, json, **kwargs)
        if response.status >= 400:
            raise ControlError(method, path, response)
        return response.json()

    # -- the operations the plugin needs, by operationId ---------------------------------------

    def get_health(self) -> dict[str, Any]:
        return self.call("GET", "/_mock/health")

    def reset_world(self, tenant: str | None = None) -> dict[str, Any]:
        """Reset the whole world, or only ``tenant`` (its state and events)."""
        return self.call("POST", "/_mock/reset", {"tenant": tenant} if tenant else {})

    def load_fixture(self, document: Mapping[str, Any] | str | bytes, *, replace: bool = False) -> list[str]:
        """Apply a fixture document (a mapping, or YAML text); returns the tenant ids it defined."""
        query = {"replace": "true"} if replace else None
        if isinstance(document, Mapping):
            return self.call("POST", "/_mock/fixtures", dict(document), query=query)["loaded"]
        text = document.encode() if isinstance(document, str) else document
        headers = {"content-type": "application/yaml"}
        return self.call("POST", "/_mock/fixtures", content=text, headers=headers, query=query)["loaded"]

    def list_inbox(self, **filters: Any) -> list[Event]:
        """Inbox events, oldest first; filters: tenant, vendor, agent, room, kind, since, limit."""
        return [Event.from_dict(e) for e in self.call("GET", "/_mock/inbox", query=filters)["events"]]

    def clear_inbox(self, tenant: str | None = None) -> int:
        return self.call("DELETE", "/_mock/inbox", query={"tenant": tenant})["dropped"]

    def get_clock(self) -> dict[str, Any]:
        """``{now, iso, frozen, speed}``."""
        return self.call("GET", "/_mock/clock")

    def freeze_clock(self, at: float | str | None = None) -> dict[str, Any]:
        return self.call("POST", "/_mock/clock/freeze", {} if at is None else {"at": at})

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self.call("POST", "/_mock/clock/advance", {"seconds": seconds})

    def resume_clock(self, speed: float = 1.0) -> dict[str, Any]:
        return self.call("POST", "/_mock/clock/resume", {"speed": speed})

    # -- chaos and coverage (docs/chaos.md, docs/coverage.md) ------------------------------------

    def list_chaos_scenarios(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_mock/chaos/scenarios")

    def list_chaos_rules(self, tenant: str | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/_mock/chaos/rules", query={"tenant": tenant})

    def add_chaos_rule(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """A chaos rule (scenario, tenant, agent, channel, at, times, probability, params)."""
        return self.call("POST", "/_mock/chaos/rules", dict(rule))

    def clear_chaos_rules(self, tenant: str | None = None) -> int:
        return self.call("DELETE", "/_mock/chaos/rules", query={"tenant": tenant})["dropped"]

    def delete_chaos_rule(self, rule_id: int) -> None:
        self.call("DELETE", f"/_mock/chaos/rules/{rule_id}")

    def get_coverage(self, tenant: str | None = None, *, anonymous: bool = False) -> dict[str, Any]:
        """What vendor requests exercised: all tenants, ``tenant``, or unauthenticated ones."""
        return self.call("GET", "/_mock/coverage", query={"tenant": tenant, "anonymous": "true" if anonymous else None})

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quote(segment: str) -> str:
    """One path segment, percent-encoded (ids may hold any character)."""
    return urllib.parse.quote(segment, safe="")


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


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
