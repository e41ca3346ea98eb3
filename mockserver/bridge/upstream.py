"""The proxy's client to its upstreams: kept-alive HTTP/1.1 connections, a request in one write.

A proxy needs little of an HTTP client: no cookies, redirects, decoding, retries or header merging,
only the request sent as it came and the answer read as it comes. httpx's transport (httpcore on
anyio) cost about 1 ms per forwarded request on loopback (bench/README.md, "Proxy latency"), more
than the rest of the proxy together; this client does that one job on asyncio's own transports:

- **Connections** are kept per origin (scheme, host, port) and reused, the one used last first; at
  most ``max_idle`` idle ones in all, each for at most ``idle_expiry`` seconds. One that the
  upstream closed, or wrote to while idle (a 408 before closing, say), is never reused. At most
  ``max_connections`` are busy at once; a request waits for a free one within the timeout.
- **Requests**: the head is written here (headers as given, ``Host`` first), and, when the body has
  fully arrived, head and body go out in **one** write: a small request written in two pieces can
  wait for the peer's delayed ACK (Nagle). ``TCP_NODELAY`` is set on every connection. A body still
  arriving streams, with flow control, chunked when the client sent it chunked.
- **Answers** are parsed by httptools (llhttp, the parser uvicorn serves with); the body is handed
  on as it arrives (de-chunked, never decoded), and reading pauses while more than 256 KiB wait. An
  interim answer (``100 Continue``) is skipped; an answer to ``HEAD`` has no body; one with neither
  ``Content-Length`` nor chunked framing ends when the upstream closes.
- **TLS** with httpx's default context (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``),
  offering HTTP/1.1 by ALPN.
- **Failures**: ``UpstreamTimeout`` when connecting, writing, each wait for the answer's next bytes,
  or the wait for a free connection takes longer than ``timeout``; ``UpstreamError`` when the upstream
  cannot be reached, closes the connection or sends what is not HTTP. A request whose body went out
  whole on a kept-alive connection that the upstream closed meanwhile (nothing of an answer came
  back) is sent once more on a new connection: the upstream never read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

__all__ = ["Answer", "Origin", "UpstreamError", "UpstreamPool", "UpstreamTimeout"]

_READ_HIGH = 256 * 1024  # bytes of an answer waiting to be handed on before reading pauses
_CHUNK_END = b"0\r\n\r\n"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UpstreamError(Exception):
    """The upstream cannot be reached, broke the exchange off, or answered what is not HTTP."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not connect, take the request or answer within the timeout."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a base URL points: the connection's key, the ``Host`` header and the path prefix."""

    scheme: str
    host: str
    port: int
    host_header: bytes
    prefix: bytes  # the base URL's own path, put before each request's path

    @classmethod
    def of(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"an upstream is an http:// or https:// URL with a host, not {base_url!r}")
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        name = parts.hostname.encode("idna").decode("ascii") if not parts.hostname.isascii() else parts.hostname
        shown = f"[{name}]" if ":" in name else name
        host_header = shown if port == _DEFAULT_PORTS[parts.scheme] else f"{shown}:{port}"
        return cls(parts.scheme, name, port, host_header.encode("ascii"), parts.path.rstrip("/").encode())


def request_head(
    method: bytes, target: bytes, host: bytes, headers: list[tuple[bytes, bytes]], *, chunked: bool = False
) -> bytes:
    """The request line and headers as sent: ``Host`` first, then ``headers`` as given.

    A method, target, name or value holding a line break (or a NUL) would end its line early and
    smuggle a second request: ``UpstreamError``.
    """
    given = [method, target]
    for name, value in headers:
        given += (name, value)
    joined = b"".join(given)  # one scan for all of them
    if b"\r" in joined or b"\n" in joined or b"\0" in joined:
        raise UpstreamError("a request header or target holds a line break")
    lines = [method, b" ", target, b" HTTP/1.1\r\nHost: ", host, b"\r\n"]
    for name, value in headers:
        lines += (name, b": ", value, b"\r\n")
    if chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


def _expire(waiter: asyncio.Future[None], what: str) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout(what))


class _Connection(asyncio.Protocol):
    """One connection to an origin, the exchange in progress on it and its parser's callbacks."""

    def __init__(self, pool: UpstreamPool, key: tuple[str, str, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.lost = False  # closed by either side: never used again
        self.reused = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        # The exchange in progress (no parser: the connection is idle).
        self.parser: httptools.HttpResponseParser | None = None
        self._head_only = False
        self.received = 0
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.http_version = "1.1"
        self.head_done = False
        self.done = False
        self.keep_alive = False
        self._until_eof = False
        self.error: UpstreamError | None = None
        self.body: list[bytes] = []
        self._buffered = 0

    # -- asyncio's callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # the platform refuses; asyncio tried already
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None or self.done:
            # Written to while idle, or past the end of the answer: what it says cannot be trusted.
            self.close()
            return
        self.received += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self.done:
                self.error = UpstreamError(f"the upstream's answer is not valid HTTP/1.1: {exc}")
            self.close()  # a complete answer followed by more: the answer stands, the connection goes
        if self._buffered > _READ_HIGH and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        if self.head_done and not self.done and self._until_eof:
            self.done = True  # an answer without framing ends with the connection
        self.lost = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.parser is not None and not self.done and self.error is None:
            cause = f": {exc}" if exc is not None else ""
            what = "broke off its answer" if self.head_done else "closed the connection without an answer"
            self.error = UpstreamError(f"the upstream {what}{cause}")
        self.pool._forget(self)
        self._wake()
        self._resume_writing()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._resume_writing()

    def _resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- httptools' callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.head_done:
            raise UpstreamError("more after the answer")  # stops the parser; see data_received
        self.reason = b""
        self.headers = []

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        status = self.parser.get_status_code()
        if status < 200:
            return  # an interim answer: it ends with no body, and the real one follows
        self.status = status
        self.http_version = self.parser.get_http_version()
        self.keep_alive = self.parser.should_keep_alive()
        self.head_done = True
        if self._head_only:
            self.done = True  # llhttp would wait for the body its Content-Length announces
            return
        framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers)
        self._until_eof = not framed and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        if self.done:  # bytes after an answer to HEAD: not a body, and the connection is not reused
            self.keep_alive = False
            return
        self.body.append(body)
        self._buffered += len(body)

    def on_message_complete(self) -> None:
        assert self.parser is not None
        if self.head_done:
            self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
            self.done = True

    # -- the exchange ---------------------------------------------------------------------------

    def begin(self, method: bytes) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self._head_only = method == b"HEAD"
        self.received = self.status = 0
        self.reason = b""
        self.headers = []
        self.head_done = self.done = self.keep_alive = self._until_eof = False
        self.error = None
        self.body = []
        self._buffered = 0

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, what: str) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(self.pool.timeout, _expire, waiter, what)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def write(self, data: bytes) -> None:
        if self.lost or self.transport is None:
            raise self.error or UpstreamError("the upstream closed the connection")
        self.transport.write(data)
        if self._write_paused:
            loop = asyncio.get_running_loop()
            drained = self._drained = loop.create_future()
            what = f"the upstream did not take the request within {self.pool.timeout:g} s"
            timer = loop.call_later(self.pool.timeout, _expire, drained, what)
            try:
                await drained
            finally:
                timer.cancel()
                self._drained = None
            if self.lost:
                raise self.error or UpstreamError("the upstream closed the connection")

    async def read_head(self) -> None:
        while not self.head_done:
            if self.error is not None:
                raise self.error
            if self.lost:
                raise UpstreamError("the upstream closed the connection without an answer")
            await self._wait(f"the upstream did not answer within {self.pool.timeout:g} s")

    def take(self) -> bytes:
        body = self.body
        if not body:
            return b""
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        self._buffered = 0
        if self._read_paused and not self.lost and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    async def read(self) -> bytes:
        while not self.body and not self.done:
            if self.error is not None:
                raise self.error
            if self.lost:
                raise UpstreamError("the upstream broke off its answer")
            await self._wait(f"the upstream sent nothing more of its answer within {self.pool.timeout:g} s")
        return self.take()

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        # At once: no TLS close_notify to wait for (a loop closes only once its connections have).
        self.lost = True
        if self.transport is not None:
            self.transport.abort()


class Answer:
    """An upstream's answer: its head, and its body as it arrives.

    ``take()`` returns the body bytes that have arrived (perhaps none), ``read()`` waits for more
    (``b""`` once the body is complete); ``complete`` says the body has all been taken. Call
    ``release()`` when done, whatever happened: the connection goes back to the pool or is closed.
    This base class holds a whole body (for tests, and for the proxy's benchmark of its own work).
    """

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        *,
        reason: str = "",
        http_version: str = "HTTP/1.1",
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        self._body = body

    @property
    def complete(self) -> bool:
        return not self._body

    def take(self) -> bytes:
        body, self._body = self._body, b""
        return body

    async def read(self) -> bytes:
        return self.take()

    def release(self) -> None:
        pass


class _Streamed(Answer):
    """An answer read from a pooled connection."""

    def __init__(self, pool: UpstreamPool, connection: _Connection) -> None:
        super().__init__(
            connection.status,
            connection.headers,
            reason=connection.reason.decode("latin-1"),
            http_version=f"HTTP/{connection.http_version}",
        )
        self._pool = pool
        self._connection: _Connection | None = connection

    @property
    def complete(self) -> bool:
        connection = self._connection
        return connection is None or (connection.done and not connection.body)

    def take(self) -> bytes:
        return self._connection.take() if self._connection is not None else b""

    async def read(self) -> bytes:
        return await self._connection.read() if self._connection is not None else b""

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool._release(connection)


class UpstreamPool:
    """Kept-alive connections to the upstreams (see the module docstring), for one event loop.

    Args:
        timeout: seconds for each wait (connect, write, the answer's next bytes, a free connection).
        max_connections: connections busy at once.
        max_idle: idle connections kept, in all.
        idle_expiry: seconds an idle connection is kept.
        ssl_context: the TLS context for https upstreams (httpx's default otherwise).
    """

    def __init__(
        self,
        timeout: float = 60.0,
        *,
        max_connections: int = 256,
        max_idle: int = 64,
        idle_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_idle = max_idle
        self.idle_expiry = idle_expiry
        self.opened = 0  # connections opened so far
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._open: set[_Connection] = set()
        self._closed = False

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            import httpx  # its TLS defaults (certifi, SSL_CERT_FILE), loaded for https upstreams only

            context = httpx.create_ssl_context()
            context.set_alpn_protocols(["http/1.1"])
            self._ssl = context
        return self._ssl

    async def send(
        self,
        origin: Origin,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        more: AsyncIterator[bytes] | None = None,
        *,
        chunked: bool = False,
    ) -> Answer:
        """Send a request and wait for the head of its answer.

        ``headers`` go as given, after ``Host`` (no hop-by-hop ones: the caller frames the body with
        its ``Content-Length``, or ``chunked``). ``body`` is the body, or its start when ``more``
        yields the rest. Exceptions raised by ``more`` propagate (the connection is closed).
        """
        if self._slots.locked():
            try:
                async with asyncio.timeout(self.timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise UpstreamTimeout(f"no connection to the upstream was free within {self.timeout:g} s") from None
        else:
            await self._slots.acquire()
        try:
            first = request_head(method, target, origin.host_header, headers, chunked=chunked)
            if chunked:
                first += _chunk(body) + (_CHUNK_END if more is None else b"")
            else:
                first += body
            return await self._exchange(origin, method, first, more, chunked)
        except BaseException:
            self._slots.release()
            raise

    async def _exchange(
        self, origin: Origin, method: bytes, first: bytes, more: AsyncIterator[bytes] | None, chunked: bool
    ) -> Answer:
        key = (origin.scheme, origin.host, origin.port)
        retried = False
        while True:
            connection = self._reuse(key) or await self._connect(origin, key)
            connection.begin(method)
            try:
                await connection.write(first)
                if more is not None:
                    async for chunk in more:
                        if connection.head_done:
                            break  # answered before the whole body was sent: that is the answer
                        await connection.write(_chunk(chunk) if chunked else chunk)
                    else:
                        if chunked:
                            await connection.write(_CHUNK_END)
                await connection.read_head()
            except UpstreamError as exc:
                if connection.head_done:  # the rest of the request could not go, but the answer came
                    connection.keep_alive = False
                    return _Streamed(self, connection)
                connection.close()
                # Closed before any answer, on a connection kept from before: the upstream closed it
                # as the request went, and never read it. Not after a timeout: it may be working on it.
                stale = connection.reused and connection.received == 0 and more is None
                if stale and not retried and not isinstance(exc, UpstreamTimeout):
                    retried = True
                    continue
                raise
            except BaseException:
                connection.abort()
                raise
            if more is not None and connection.head_done and not connection.done:
                connection.keep_alive = False  # the rest of the body was never sent: close at the end
            return _Streamed(self, connection)

    def _reuse(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        expired = asyncio.get_running_loop().time() - self.idle_expiry
        while idle and idle[0].idle_since < expired:  # the oldest first
            self._idle_count -= 1
            idle.pop(0).close()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if not connection.lost and connection.transport is not None and not connection.transport.is_closing():
                connection.reused = True
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, key: tuple[str, str, int]) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(self, key)
        tls = self.ssl_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(self.timeout):
                await loop.create_connection(
                    lambda: connection, origin.host, origin.port, ssl=tls, server_hostname=origin.host if tls else None
                )
        except TimeoutError:
            connection.close()
            raise UpstreamTimeout(f"no connection to the upstream within {self.timeout:g} s") from None
        except OSError as exc:  # refused, unreachable, no such host, TLS refused
            connection.close()
            raise UpstreamError(f"cannot connect to the upstream: {exc}") from None
        self.opened += 1
        self._open.add(connection)
        return connection

    def _release(self, connection: _Connection) -> None:
        self._slots.release()
        connection.parser = None
        if (
            self._closed
            or connection.lost
            or not (connection.done and connection.keep_alive)
            or connection.error is not None
            or self._idle_count >= self.max_idle
        ):
            connection.close()
            return
        connection.reused = False
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.setdefault(connection.key, []).append(connection)
        self._idle_count += 1

    def _forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)
            self._idle_count -= 1

    @property
    def idle(self) -> int:
        """Idle connections kept for reuse."""
        return self._idle_count

    async def aclose(self) -> None:
        """Close every connection, and wait (a second at most) until they are closed."""
        self._closed = True
        self._idle.clear()
        self._idle_count = 0
        for connection in list(self._open):
            connection.abort()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while self._open and loop.time() < deadline:
            await asyncio.sleep(0.01)
