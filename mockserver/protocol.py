"""The HTTP protocol with the limits uvicorn lacks, and the settings the server runs with.

uvicorn closes a keep-alive connection that stays idle after a response (``timeout_keep_alive``),
but it waits forever for a client that connects and sends nothing, or sends a request head or body
a byte at a time, and with httptools it keeps every header byte it is sent. A few hundred such
connections exhaust the process's file descriptors. ``LimitedProtocol`` (uvicorn's httptools
protocol, subclassed) adds:

- a connection limit: over it, the connection idle the longest is closed to make room, or, when
  every connection is busy, the new one is answered 503 and closed at once;
- a deadline for the request head and one for the body (408, then close);
- a cap on the URL and on the request head: the rest is discarded and the request reaches the app
  marked (``guard.HEAD_TOO_LARGE``), so the refusal (414 / 431) is rendered in the vendor's
  envelope like any other;
- one write for a response's head and the start of its body: uvicorn writes the head as soon as the
  app starts its response, and the body apart, so every small answer took two sends (two segments,
  often two wake-ups of the client). The head now waits for the body's first bytes when the app
  sends them in the same turn of the loop (as Starlette's responses and the proxy do), and goes
  alone at the loop's next turn otherwise (a stream that has nothing to send yet).

``Limits`` holds these numbers; ``server.uvicorn_config`` applies them for ``mockserver serve`` and
``MockServer`` alike.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .guard import DEFAULT_MAX_URL, HEAD_TOO_LARGE

__all__ = [
    "LimitedProtocol",
    "Limits",
    "ThrottleFilter",
    "ThrottledLog",
    "default_max_connections",
    "loop_exception_handler",
    "protocol_for",
]

logger = logging.getLogger("mockserver")

# Past this much, stop reading a request head at all and close. What is over the caps is discarded
# unread, so this bounds the time spent on one head, not memory.
_HARD_HEAD_LIMIT = 1024 * 1024


def default_max_connections() -> int:
    """1,000, or fewer when the process may open fewer files (keep a margin for everything else)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(8, min(1000, soft - 128))


@dataclass(frozen=True, slots=True)
class Limits:
    """Connection limits and timeouts of a served mock (seconds and bytes).

    Attributes:
        max_connections: open connections at once; more are answered 503 and closed.
        keep_alive_timeout: an idle keep-alive connection is closed after this long.
        header_timeout: the request line and headers must arrive within this long.
        body_timeout: the body must arrive within this long of the headers.
        max_header_bytes: request line plus headers; more is refused with 431.
        max_url: path plus query string; longer is refused with 414.
    """

    max_connections: int = field(default_factory=default_max_connections)
    keep_alive_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_url: int = DEFAULT_MAX_URL


class ThrottledLog:
    """Log a recurring condition once per interval, with how often it happened in between.

    An attack or a resource shortage repeats the same failure thousands of times a second; one
    line per occurrence fills the disk and hides everything else.
    """

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def __call__(self, key: str, message: str, level: int = logging.WARNING) -> None:
        now = time.monotonic()
        self._count[key] = self._count.get(key, 0) + 1
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return
        count, self._count[key] = self._count[key], 0
        self._last[key] = now
        suffix = f" ({count} times in the last {self.interval:g} s)" if last is not None and count > 1 else ""
        logger.log(level, "%s%s", message, suffix)


THROTTLED = ThrottledLog()
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's error handler: accept failures for lack of descriptors, once per interval."""
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRORS:
        THROTTLED(
            "accept",
            f"cannot accept connections: {exc.strerror}; raise the open-file limit (ulimit -n) "
            "or lower --max-connections",
            logging.ERROR,
        )
        return
    loop.default_exception_handler(context)


def _plain(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: "
        + str(len(text)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + text
    )


class _Corked:
    """The connection's transport as a response's cycle sees it: a head held until the next write."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def hold_next(self) -> None:
        """Hold the next write (a response's head), unless something is held already."""
        if self._held is None:
            self._held = b""

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._transport.write(data)
        elif held:
            self._held = None
            self._transport.write(held + data)
        elif data:
            self._held = bytes(data)  # (a head is bytes already: no copy)
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``limits`` (set on the subclass ``protocol_for`` makes)."""

    limits: Limits = Limits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._armed: str | None = None  # what the deadline is for: "head" or "body"
        self._waiting: str | None = None  # what of the request is still to come: "head", "body" or None
        self._url_size = 0
        self._head_size = 0
        self._idle_since = 0.0
        self._corked: _Corked | None = None

    # -- connection ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._corked = _Corked(transport, self.loop)
        self._idle_since = self.loop.time()
        if len(self.connections) > self.limits.max_connections and not self._evict_idle():
            limit = self.limits.max_connections
            THROTTLED("connections", f"refusing connections: {limit} are open and busy (--max-connections)")
            transport.write(_plain(b"503 Service Unavailable", b"Too many open connections\n"))
            transport.close()
            return
        # A client that connects and sends nothing gets as long as one that sends a slow head.
        self._arm("head")

    def _idle(self) -> bool:
        # No request being answered: a client that has sent nothing, or only part of a head (the
        # slow clients of an attack), or one kept alive after its answer.
        return (self.cycle is None or self.cycle.response_complete) and not self.pipeline

    def _evict_idle(self) -> bool:
        """Close the connection idle the longest, so that a crowd of idle or slow clients cannot
        lock out one with a request. False if every connection is busy."""
        idle = [c for c in self.connections if isinstance(c, LimitedProtocol) and c is not self and c._idle()]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c._idle_since)
        THROTTLED("evict", "closing idle connections to admit new ones (--max-connections)", logging.INFO)
        victim.transport.close()
        victim.connections.discard(victim)  # counted out now; connection_lost follows
        return True

    def on_response_complete(self) -> None:
        self._idle_since = self.loop.time()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, part: str) -> None:
        self._disarm()
        seconds = self.limits.header_timeout if part == "head" else self.limits.body_timeout
        self._deadline = self.loop.call_later(seconds, self._expired)
        self._armed = part

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
            self._armed = None

    def _expired(self) -> None:
        self._deadline = self._armed = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_plain(b"408 Request Timeout", b"The request did not arrive in time\n"))
        THROTTLED("timeout", "closed a connection whose request did not arrive in time", logging.INFO)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():  # refused or timed out: whatever else comes is not read
            return
        super().data_received(data)
        # A request still arriving gets its deadline once this read is parsed: the head's from its
        # first bytes, the body's from the end of the head. One that came whole in a single read,
        # the usual case, costs no timer at all.
        waiting = self._waiting
        if waiting is not None and waiting != self._armed and not self.transport.is_closing():
            self._arm(waiting)

    # -- parser callbacks (the parser may still call them for data read before a refusal) ------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._url_size = self._head_size = 0
        self._waiting = "head"  # a kept-alive connection's next request: its deadline, if need be, in data_received

    def on_url(self, url: bytes) -> None:
        self._url_size += len(url)
        self._head_size += len(url)
        if self._url_size > self.limits.max_url:
            self._beyond_hard_limit()
            self.scope[HEAD_TOO_LARGE] = "url"  # type: ignore[literal-required]
            # Keep just enough for the guard to see it is too long and which prefix it is under.
            room = self.limits.max_url + 1 - len(self.url)
            if room > 0:
                super().on_url(url[:room])
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self.limits.max_header_bytes:
            # Past the cap (the hard limit is further still: under it, a head costs only this test).
            self._beyond_hard_limit()
            self.scope.setdefault(HEAD_TOO_LARGE, "headers")  # type: ignore[misc]
            return
        super().on_header(name, value)

    def _beyond_hard_limit(self) -> None:
        hard = max(_HARD_HEAD_LIMIT, 4 * (self.limits.max_header_bytes + self.limits.max_url))
        if self._head_size > hard and not self.transport.is_closing():
            THROTTLED("head", "closed a connection sending an oversized request head")
            self.transport.close()

    def on_headers_complete(self) -> None:
        if self.transport.is_closing():
            return
        self._waiting = "body"
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous and self._corked is not None:  # a new request (not an upgrade)
            self._corked.hold_next()
            self.cycle.transport = self._corked  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        if self.cycle is not None and not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._waiting = None
        self._disarm()
        if self.cycle is not None and not self.transport.is_closing():
            super().on_message_complete()


class ThrottleFilter(logging.Filter):
    """Passes uvicorn's per-request complaints (a malformed request, ...) once per interval."""

    MESSAGES = ("Invalid HTTP request received.", "Exceeded concurrency limit.", "Unsupported upgrade request.")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message not in self.MESSAGES:
            return True
        THROTTLED(message, message)
        return False


def protocol_for(limits: Limits) -> type[LimitedProtocol]:
    """A protocol class bound to ``limits`` (uvicorn instantiates the class it is given)."""
    return type("LimitedProtocol", (LimitedProtocol,), {"limits": limits})
