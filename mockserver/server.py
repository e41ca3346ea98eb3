"""``MockServer``: the mock on a real socket, in a background thread (port 0 by default).

Used by tests, the pytest plugin and anyone who wants a live URL without a subprocess. The
socket is bound before the thread starts, so the URL is known at once; start-up errors in the
thread are re-raised in the caller.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .app import create_app

__all__ = ["MockServer", "listening_socket"]


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


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._ready.set()

    def install_signal_handlers(self) -> None:  # the main thread owns signals
        pass


class MockServer:
    """Serve an app (``create_app(**kwargs)`` unless given) on ``host``, in a thread.

    Use as a context manager, or call ``start()`` / ``stop()``.
    """

    def __init__(self, app: Starlette | None = None, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> None:
        self.app = app or create_app(**kwargs)
        self.host = host
        self._sock = listening_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._ready = threading.Event()
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = _Server(config, self._ready)
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
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # stored, re-raised in the caller's thread
            self._error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 10.0) -> MockServer:
        self._sock.listen(2048)
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
        self.raise_if_failed()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
