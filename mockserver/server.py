"""``MockServer``: the mock on a real socket, in a background thread (port 0 by default).

Used by tests, the pytest plugin and anyone who wants a live URL without a subprocess. The
socket is bound before the thread starts, so the URL is known at once; start-up errors in the
thread are re-raised in the caller.

``serving`` is the one place that turns an app and a bound socket into a uvicorn server, for
``MockServer``, ``mockserver serve`` and ``mockserver proxy`` alike: the limits and timeouts
(``protocol.Limits``), the allowed ``Host`` names, the throttled logging of floods, and a shutdown
that ends event streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from .admin.stream import close_streams
from .app import create_app
from .guard import LOOPBACK_HOSTS
from .protocol import Limits, ThrottleFilter, loop_exception_handler, protocol_for

__all__ = ["Limits", "MockServer", "Served", "allowed_hosts", "listening_socket", "serving"]

ALLOW_HOSTS_ENV = "MOCKSERVER_ALLOW_HOSTS"


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The ``Host`` names a server bound to ``bound`` answers: loopback names, the bound address,
    ``extra``, and those listed (comma-separated) in ``MOCKSERVER_ALLOW_HOSTS``."""
    listed = [h.strip() for h in os.environ.get(ALLOW_HOSTS_ENV, "").split(",") if h.strip()]
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, bound, *extra, *listed]))


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn.

    The protocol must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on sockets that say so, and
    without it every small response waits for the peer's delayed ACK (about 40 ms).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class Served(Protocol):
    """What ``serving`` serves: an ASGI app with a ``state`` like Starlette's (the guard's settings,
    the open event streams): an app made by ``create_app``, or the proxy."""

    state: State

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class Server(uvicorn.Server):
    """uvicorn's server, ending the app's event streams at shutdown and exiting quietly on a signal.

    ``ready`` is set once it listens; ``signals`` is false for a server in a thread (the main
    thread owns signals).
    """

    def __init__(
        self, config: uvicorn.Config, app: Served, ready: threading.Event | None = None, signals: bool = True
    ) -> None:
        super().__init__(config)
        self.app = app
        self._ready = ready
        self._signals = signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(loop_exception_handler)
        await super().startup(sockets)
        if self._ready is not None:
            self._ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # An open stream would otherwise be cancelled mid-response ("ASGI callable returned
        # without completing response"): end each one first, so it completes like any response.
        close_streams(self.app)
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if not self._signals:
            yield
            return
        with super().capture_signals():
            try:
                yield
            finally:
                # uvicorn re-raises the signal that stopped it once it has shut down, so SIGTERM
                # would end the process with 143 before it says "stopped". Stopping on request
                # after a clean shutdown is a success: forget the signal.
                captured = getattr(self, "_captured_signals", None)
                if isinstance(captured, list):
                    captured.clear()


def serving(
    app: Served,
    sock: socket.socket,
    *,
    limits: Limits | None = None,
    hosts: Iterable[str] = (),
    log_level: int | str = "warning",
    ready: threading.Event | None = None,
    signals: bool = True,
    relay: bool = False,
) -> Server:
    """The uvicorn server for ``app`` on the bound ``sock``, with ``limits`` (defaults otherwise).

    ``hosts`` are ``Host`` names allowed besides the loopback names and the bound address (``*``
    allows any). ``relay`` serves an app that passes another server's answers on (the proxy):
    uvicorn adds no ``Server`` or ``Date`` header of its own, does not read ``X-Forwarded-*`` (they
    pass on as they came), and runs the app's lifespan (the proxy closes its upstream connections
    at shutdown, in the loop that opened them). The socket starts listening here, so clients may
    connect as soon as this returns. Run the server with its ``run`` (not
    ``asyncio.run(server.serve())``): it runs on the configured loop, uvloop when it is installed,
    as ``uvicorn`` on the command line and the benchmarks do.
    """
    limits = limits or Limits()
    bound = sock.getsockname()[0]
    guard = getattr(app.state, "guard", None)  # an app made by create_app
    if guard is not None:
        guard.allowed_hosts = allowed_hosts(bound, hosts)
        guard.max_url = limits.max_url
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on" if relay else "off",
        server_header=not relay,
        date_header=not relay,
        proxy_headers=not relay,
        http=protocol_for(limits),
        timeout_keep_alive=max(1, round(limits.keep_alive_timeout)),
        timeout_graceful_shutdown=2,
        backlog=2048,
        h11_max_incomplete_event_size=limits.max_header_bytes,  # should h11 ever serve instead
    )
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ThrottleFilter) for f in errors.filters):
        errors.addFilter(ThrottleFilter())
    sock.listen(config.backlog)
    return Server(config, app, ready, signals)


class MockServer:
    """Serve an app (``create_app(**kwargs)`` unless given) on ``host``, in a thread.

    Use as a context manager, or call ``start()`` / ``stop()``. Like ``mockserver serve``, it starts
    with the packaged default world unless told otherwise.

    Args:
        app: the app to serve (``create_app(**kwargs)`` otherwise).
        host: the address to bind; port: 0 picks a free one.
        fixtures: the start-up world: packaged fixtures by name (``default``, ``legacy``,
            ``no-active-rooms``, ``rate-limited``) or paths of fixture files; ``None``: ``["default"]``.
        empty: start with no tenants at all (the same as ``fixtures=[]``).
        limits: connection limits and timeouts (``protocol.Limits``; defaults otherwise).
        allow_hosts: ``Host`` names served besides loopback names and IP literals (``*``: any).
        **kwargs: other ``create_app`` options (``seed``, ``control_token``, ``bithuman_dialect``, ...).

    Raises:
        ValueError: both ``empty`` and ``fixtures`` are given.
    """

    relay = False  # ``serving``'s option: true for a server that passes another's answers on

    def __init__(
        self,
        app: Starlette | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fixtures: Iterable[str | os.PathLike[str]] | None = None,
        empty: bool = False,
        limits: Limits | None = None,
        allow_hosts: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        if empty and fixtures:
            raise ValueError("MockServer: empty=True starts with no fixtures; do not pass fixtures too")
        if app is None:
            world = [] if empty else ["default"] if fixtures is None else [str(f) for f in fixtures]
            app = create_app(fixtures=world, **kwargs)
        self.app = app
        self.host = host
        self._sock = listening_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._ready = threading.Event()
        self._server = serving(
            self.app, self._sock, limits=limits, hosts=allow_hosts, ready=self._ready, signals=False, relay=self.relay
        )
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def world(self) -> Any:
        return self.app.state.world

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # stored, re-raised in the caller's thread
            self._error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 10.0) -> MockServer:
        self._thread = threading.Thread(target=self._run, name=f"mockserver:{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the mock server did not start within {timeout} s")
        self.raise_if_failed()
        return self

    def raise_if_failed(self) -> None:
        """Re-raise, in this thread, an error the server thread died of."""
        if self._error is not None:
            raise RuntimeError("the mock server thread failed") from self._error

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._sock.close()
        sender = getattr(self.app.state, "webhooks", None)
        if sender is not None:  # its thread would otherwise outlive the server, ticking a world nobody serves
            sender.stop()
        self.raise_if_failed()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
