"""The validating, recording reverse proxy: real traffic through, the contract checked on the side.

Every request goes to its vendor's upstream unchanged (method, path and query as sent, headers but
the hop-by-hop ones, the body streamed) and the answer comes back unchanged, streamed too. Meanwhile
the proxy keeps the first ``keep`` bytes of each body, and once the answer is complete checks the
exchange against the contract (``checks.check_exchange``), prints each violation (redacted), keeps
it, journals the exchange in a world of its own (so ``/_mock/journal``, ``/_mock/inbox`` and the
dashboard show the traffic) and, if recording, appends it to a HAR file.

An upstream that cannot be reached answers 502, one that does not answer in time 504, in the
vendor's envelope (the mock's own renderer of that vendor).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from ..api import agora, bithuman, telephony
from ..api.base import Family
from ..app import create_app
from ..contract import load_contract
from ..guard import Guard
from ..protocol import Limits
from ..server import MockServer
from ..spec import load_spec
from ..world import World
from ..world.errors import DomainError, ErrorCode
from ..world.redact import redact_text
from .checks import check_exchange
from .har import Exchange, HarWriter, credential_of
from .upstream import Answer, Origin, UpstreamError, UpstreamPool, UpstreamTimeout

__all__ = ["DEFAULT_KEEP", "Proxy", "ProxyServer", "Violation", "default_upstreams"]

log = logging.getLogger("mockserver.proxy")

DEFAULT_KEEP = 1024 * 1024  # bytes of each body kept for the checks (the mock's own body limit)
VIOLATIONS_KEPT = 10_000
_ROUTES_KEPT = 4096  # paths whose vendor is remembered
_CHECK_DELAY = 0.001  # seconds between an answer's last byte and its checks (see Proxy.flush)
# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, never forwarded; the Host header
# names the upstream.
_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)
_TOLD = {"bithuman_speak": "speech", "bithuman_add_context": "context", "speak_agent": "speech"}


class Violation(dict[str, Any]):
    """One contract violation: ``method``, ``path``, ``status``, ``operation``, ``problem``."""

    def line(self) -> str:
        """The one readable, redacted line printed as it happens."""
        op = self["operation"] or "?"
        return redact_text(f"VIOLATION {self['method']} {self['path']} -> {self['status']} [{op}] {self['problem']}")


def default_upstreams() -> dict[str, str]:
    """Each vendor's production host, from the servers the contract lists for its paths."""
    contract = load_contract()
    found: dict[str, str] = {}
    for path, item in (load_spec().document.get("paths") or {}).items():
        vendor = contract.vendor_of(path.replace("{", "x").replace("}", "x"))
        for server in item.get("servers") or []:
            host = urlsplit(server.get("url", "")).hostname or ""
            if vendor and vendor not in found and host not in ("127.0.0.1", "localhost"):
                found[vendor] = server["url"].rstrip("/")
    return found


class _Disconnected(Exception):
    pass


class _Kept:
    """A body going through: its size, and its first ``limit`` bytes (what the checks read)."""

    __slots__ = ("kept", "limit", "size")

    def __init__(self, limit: int) -> None:
        self.kept = bytearray()
        self.limit = limit
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]

    async def rest(self, receive: Receive) -> AsyncIterator[bytes]:
        """The rest of a request's body as it arrives (raises ``_Disconnected`` if the client goes)."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            self.add(chunk)
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


class Proxy:
    """The proxy as an ASGI application.

    Args:
        upstreams: vendor (``bithuman``, ``agora``) -> base URL (``http://`` or ``https://``;
            ``ValueError`` otherwise).
        world: journals and inbox of what went through (a fresh, empty world by default).
        record: a HAR writer, or None.
        on_violation: called with each violation as it is found (the command prints it).
        timeout: seconds to wait for the upstream (to connect, to take the request, for each part
            of its answer, for a free connection) before answering 504.
        keep: bytes of each body kept for the checks and the recording; a longer body is passed
            through whole but not checked.
        pool: the connections to the upstreams (``UpstreamPool(timeout)`` by default, made on first
            use); a test or a benchmark may give its own.
    """

    def __init__(
        self,
        upstreams: dict[str, str],
        *,
        world: World | None = None,
        record: HarWriter | None = None,
        on_violation: Callable[[Violation], None] | None = None,
        timeout: float = 60.0,
        keep: int = DEFAULT_KEEP,
        pool: UpstreamPool | None = None,
    ) -> None:
        self.upstreams = {k: v.rstrip("/") for k, v in upstreams.items()}
        self.world = world or World()
        self.record = record
        self.on_violation = on_violation
        self.keep = keep if record is None else max(keep, record.body_limit)
        self.timeout = timeout
        self.contract = load_contract()
        self.control: Starlette = create_app(self.world)
        # Whoever serves the proxy configures and shuts down the control plane through its state
        # (the server's host rules, open event streams), as for an app made by ``create_app``.
        self.state = self.control.state
        self.violations: deque[Violation] = deque(maxlen=VIOLATIONS_KEPT)
        self.exchanges = 0
        self._origins = {vendor: Origin.of(url) for vendor, url in self.upstreams.items()}
        self._pool = pool
        self._families: dict[str, Family] = {
            "bitHuman Agent Context": bithuman.BitHumanFamily(self.world),
            "Agora Agents": agora.AgoraFamily(self.world),
            "Agora Telephony": telephony.TelephonyFamily(self.world),
            "Agora Phone Numbers": telephony.TelephonyFamily(self.world),
        }
        self._credential_key = record.key if record is not None else os.urandom(32)
        # Forwarded requests pass the guard the control plane passes (its settings, which the server
        # fills in): the URL and head caps the protocol marks, the allowed Host names.
        self._guarded = Guard(self._forward, lambda path: self._route(path)[1], self.control.state.guard)
        self._routes: dict[str, tuple[str, Family]] = {}
        self._pending: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._flush_timer: asyncio.TimerHandle | None = None

    def _route(self, path: str) -> tuple[str, Family]:
        """The vendor whose upstream serves ``path``, and the family that renders its errors."""
        known = self._routes.get(path)
        if known is not None:
            return known
        tag = self.contract.tag_of(path)
        vendor = self.contract.vendor_of(path)
        if vendor not in self.upstreams:
            # Nobody's path: the first segment decides (Agora's paths all start with /api/).
            vendor = "agora" if path.startswith("/api/") else "bithuman"
        family = (
            self._families.get(tag or "")
            or self._families["Agora Agents" if vendor == "agora" else "bitHuman Agent Context"]
        )
        if len(self._routes) >= _ROUTES_KEPT:  # paths hold ids: keep the cache bounded
            self._routes.clear()
        self._routes[path] = vendor, family
        return vendor, family

    def upstream_pool(self) -> UpstreamPool:
        """The connections to the upstreams (``upstream.py``), made on first use, in the serving loop."""
        if self._pool is None:
            self._pool = UpstreamPool(self.timeout)
        return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        if path == "/_mock" or path.startswith("/_mock/"):
            self.flush()  # what it shows includes every exchange answered so far
            await self.control(scope, receive, send)
            return
        await self._guarded(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.flush()
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Everything up to the last byte of the answer is on the client's clock: the URL, the text
        # copies and the checks wait until the answer is out.
        started_wall, started = time.time(), time.perf_counter()
        path: str = scope["path"]
        vendor, family = self._route(path)
        origin = self._origins[vendor]
        raw_path: bytes = scope.get("raw_path") or path.encode()
        query: bytes = scope.get("query_string", b"")
        target = origin.prefix + raw_path + b"?" + query if query else origin.prefix + raw_path
        headers: list[tuple[bytes, bytes]] = []
        sized = streamed = False
        for name, value in scope["headers"]:
            lowered = name.lower()
            if lowered in _HOP:
                streamed = streamed or lowered == b"transfer-encoding"
                continue
            sized = sized or lowered == b"content-length"
            headers.append((name, value))
        request = _Kept(self.keep)
        first = b""
        more: AsyncIterator[bytes] | None = None
        if sized or streamed:
            # What has arrived of the body goes with the head, in one write: all of a small body.
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            first = message.get("body", b"")
            request.add(first)
            if message.get("more_body", False):
                more = request.rest(receive)
        try:
            answer = await self.upstream_pool().send(
                origin, scope["method"].encode("latin-1"), target, headers, first, more, chunked=streamed and not sized
            )
        except _Disconnected:
            return
        except UpstreamError as exc:
            base = self.upstreams[vendor]
            if isinstance(exc, UpstreamTimeout):
                status, code, told = 504, "timeout", f"the upstream {base} did not answer in time"
            else:
                status, code, told = 502, "bad_gateway", f"the upstream {base} cannot be reached"
            await self._fail(scope, receive, send, family, code, status, told)
            self._later(self._unanswered, scope, vendor, started_wall, _since(started), request, status, str(exc))
            return
        response = _Kept(self.keep)
        try:
            out_headers = [(k, v) for k, v in answer.headers if k.lower() not in _HOP]
            await send({"type": "http.response.start", "status": answer.status, "headers": out_headers})
            chunk = answer.take()
            while True:
                response.add(chunk)
                if answer.complete:
                    break
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = await answer.read()
            await send({"type": "http.response.body", "body": chunk, "more_body": False})
        except UpstreamError as exc:
            # Too late for a 502: the status is sent. The connection is dropped (re-raised) so the
            # client sees a cut answer, never a short one that looks complete.
            log.warning(
                "the upstream %s broke off its answer to %s %s: %s", self.upstreams[vendor], scope["method"], path, exc
            )
            self._later(
                self._unanswered, scope, vendor, started_wall, _since(started), request, answer.status, str(exc)
            )
            raise
        finally:
            answer.release()
        self._later(self._answered, scope, vendor, started_wall, _since(started), request, answer, response)

    def _later(self, job: Callable[..., None], *args: Any) -> None:
        """Check, journal and record an exchange a moment after its answer went out (``flush``)."""
        self._pending.append((job, args))
        if self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(_CHECK_DELAY, self.flush)

    def flush(self) -> None:
        """Check, journal and record the exchanges still waiting, in the order they were answered.

        The checks of an exchange wait a millisecond after its answer has gone out: on a busy machine
        the client's process, just woken by the answer, then gets the processor first, rather than
        wait behind them. Whatever reads their results first flushes them: the control plane's
        requests, the server's shutdown.
        """
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        pending, self._pending = self._pending, []
        for job, args in pending:
            try:
                job(*args)
            except Exception:  # one exchange's failure must not lose the others
                log.exception("checking an exchange failed")

    def _answered(
        self,
        scope: Scope,
        vendor: str,
        started_wall: float,
        duration_ms: float,
        request: _Kept,
        answer: Answer,
        response: _Kept,
    ) -> None:
        exchange = Exchange(
            started=started_wall,
            method=scope["method"],
            url=self._url(vendor, scope),
            request_headers=_text_headers(scope["headers"]),
            request_body=bytes(request.kept),
            request_size=request.size,
            status=answer.status,
            reason=answer.reason,
            response_headers=_text_headers(answer.headers),
            response_body=bytes(response.kept),
            response_size=response.size,
            duration_ms=duration_ms,
            http_version=answer.http_version,
        )
        self._observe(scope["path"], scope.get("query_string", b"").decode("latin-1"), exchange)

    def _url(self, vendor: str, scope: Scope) -> str:
        """The upstream URL a request went to, as recorded."""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        url = self.upstreams[vendor] + raw_path.decode("latin-1")
        return url + "?" + query.decode("latin-1") if query else url

    async def _fail(
        self, scope: Scope, receive: Receive, send: Send, family: Family, code: str, status: int, message: str
    ) -> None:
        response = family.render(DomainError(ErrorCode(code), message, fault_status=status), None)
        await response(scope, receive, send)

    def _unanswered(
        self,
        scope: Scope,
        vendor: str,
        started_wall: float,
        duration_ms: float,
        request: _Kept,
        status: int,
        error: str,
    ) -> None:
        """Journal and record an exchange the upstream did not answer whole (``error`` says why)."""
        exchange = Exchange(
            started=started_wall,
            method=scope["method"],
            url=self._url(vendor, scope),
            request_headers=_text_headers(scope["headers"]),
            request_body=bytes(request.kept),
            request_size=request.size,
            status=status,
            reason="",
            response_headers=[],
            response_body=b"",
            response_size=0,
            duration_ms=duration_ms,
            error=error,
        )
        self.exchanges += 1
        self._journal(scope["path"], scope.get("query_string", b"").decode("latin-1"), exchange, None)
        if self.record is not None:
            self.record.write(exchange)

    def _observe(self, path: str, query: str, exchange: Exchange) -> None:
        """Check a complete exchange, report and keep what is wrong, journal and record it."""
        self.exchanges += 1
        response_headers = dict((k.lower(), v) for k, v in exchange.response_headers)
        encoded = response_headers.get("content-encoding", "identity") not in ("identity", "")
        request_whole = exchange.request_body if len(exchange.request_body) == exchange.request_size else None
        response_whole = (
            exchange.response_body if len(exchange.response_body) == exchange.response_size and not encoded else None
        )
        op, problems = check_exchange(
            self.contract,
            exchange.method,
            path,
            query,
            request_whole,
            exchange.status,
            response_headers,
            response_whole,
        )
        exchange.operation = op.operation_id if op is not None else None
        exchange.violations = problems
        for problem in problems:
            violation = Violation(
                method=exchange.method, path=path, status=exchange.status, operation=exchange.operation, problem=problem
            )
            self.violations.append(violation)
            if self.on_violation is not None:
                self.on_violation(violation)
        self._journal(path, query, exchange, op.operation_id if op is not None else None)
        self._inbox(exchange, path)
        if self.record is not None:
            self.record.write(exchange)

    def _journal(self, path: str, query: str, exchange: Exchange, operation: str | None) -> None:
        if not self.world.journal.limit:
            return
        error = exchange.error or ("; ".join(exchange.violations) if exchange.violations else None)
        self.world.journal.record(
            time=self.world.clock.now(),
            method=exchange.method,
            path=path,
            query=query,
            operation=operation,
            tenant=self._tenant(exchange),
            status=exchange.status,
            duration_ms=exchange.duration_ms,
            request_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in exchange.request_headers],
            request_body=exchange.request_body,
            response_body=exchange.response_body,
            error=error,
        )

    def _tenant(self, exchange: Exchange) -> str | None:
        # The real tenant is unknown to the proxy: a label of the credential stands for it.
        credential = credential_of(exchange.request_headers, self._credential_key)
        return f"cred-{credential['label'][:8]}" if credential is not None else None

    def _inbox(self, exchange: Exchange, path: str) -> None:
        # What an agent was told, as the dashboard's feed shows it: accepted speak and context calls.
        kind = _TOLD.get(exchange.operation or "")
        if kind is None or not 200 <= exchange.status < 300:
            return
        try:
            sent = orjson.loads(exchange.request_body)
            answer = orjson.loads(exchange.response_body) if exchange.response_body else {}
        except orjson.JSONDecodeError:
            return
        if not isinstance(sent, dict) or not isinstance(answer, dict):
            return
        matched = self.contract.table.match(path)
        params = matched[1] if matched is not None else {}
        vendor = "bithuman" if exchange.operation in ("bithuman_speak", "bithuman_add_context") else "agora"
        agent = params.get("agent_code") or params.get("agentId") or params.get("agent_id") or "?"
        text = sent.get("message") or sent.get("context") or sent.get("text") or ""
        listed = answer.get("rooms")
        rooms: list[Any] = listed if isinstance(listed, list) else [sent.get("room_id")]
        for room in rooms[:100]:
            self.world.inbox.record(
                time=self.world.clock.now(),
                vendor=vendor,
                tenant=self._tenant(exchange) or "proxy",
                agent=str(agent),
                room=room if isinstance(room, str) else None,
                kind=kind,
                text=redact_text(str(text)[:2048]),
                operation=exchange.operation or "",
                outcome="proxied",
                data={"status": exchange.status},
            )


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _text_headers(raw: Any) -> list[tuple[str, str]]:
    return [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw]


class ProxyServer(MockServer):
    """A ``Proxy`` on a real socket in a background thread (port 0 by default), like ``MockServer``:
    served by ``server.serving`` as ``mockserver proxy`` is (limits, guard), as a relay."""

    relay = True

    def __init__(
        self,
        proxy: Proxy,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits | None = None,
        allow_hosts: Iterable[str] = (),
    ) -> None:
        super().__init__(app=proxy, host=host, port=port, limits=limits, allow_hosts=allow_hosts)  # type: ignore[arg-type]
        self.proxy = proxy

    @property
    def world(self) -> Any:
        return self.proxy.world
