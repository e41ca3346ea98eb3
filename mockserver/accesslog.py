"""One log line per request: method, path, status, duration. Never headers, query or body.

Secrets travel in headers (``api-secret``, ``Authorization``) and tokens may ride in query
strings, so the line holds the path alone, redacted by the same rules as the journal (a
credential pasted into a path is hidden too) and cut to ``PATH_LIMIT`` characters.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .world.redact import redact_text

__all__ = ["AccessLog"]

logger = logging.getLogger("mockserver.access")
PATH_LIMIT = 512


class AccessLog:
    """Pure ASGI middleware (no per-request task or body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            ms = (time.perf_counter() - start) * 1000
            path = redact_text(scope["path"][: PATH_LIMIT + 64])[:PATH_LIMIT]
            logger.info("%s %s %s %.1fms", scope["method"], path, status or 500, ms)
