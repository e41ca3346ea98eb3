"""The request log: one line per vendor request, and the format every line of ``serve`` shares.

At ``info`` (the default) a line is printed per vendor request only: time, method, path, status,
operation, tenant, error code and duration. The dashboard polls the control plane several times
a second, so its ``/_mock/`` requests would drown the vendor calls; they are printed at ``debug``
(``serve -v``), which also prints each request's and response's body. The operation, tenant and
error code are the ones the pipeline already recorded in the request journal (the entry is left
in the ASGI scope under ``pipeline.JOURNAL_ENTRY``), so the log recomputes nothing.

Secrets travel in headers (``api-secret``, ``Authorization``) and tokens may ride in query
strings, so a line never holds headers or the query. The path is redacted by the rules of
``world/redact.py`` (a credential pasted into a path is hidden too) and cut to ``PATH_LIMIT``
characters; bodies at ``debug`` are shown as the journal shows them (bounded, redacted).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .pipeline import JOURNAL_ENTRY
from .world.journal import BODY_LIMIT, Entry, show_body
from .world.redact import redact_text

__all__ = ["AccessLog", "LogFormatter", "configure_logging", "use_colour"]

logger = logging.getLogger("mockserver.access")
PATH_LIMIT = 512
CONTROL_PREFIX = "/_mock"
_KEPT = BODY_LIMIT + 256  # body bytes kept at debug: what the journal keeps


class AccessLog:
    """Pure ASGI middleware (no per-request task; bodies are copied only at ``debug``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        debug = logger.isEnabledFor(logging.DEBUG)
        if not debug and scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0
        sent: list[bytes] = []
        received: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif debug and message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received.append(message.get("body", b""))
            return message

        try:
            await self.app(scope, receive_wrapper if debug else receive, send_wrapper)
        finally:
            ms = (time.perf_counter() - start) * 1000
            path = redact_text(scope["path"][: PATH_LIMIT + 64])[:PATH_LIMIT]
            entry: Entry | None = scope.get(JOURNAL_ENTRY)
            fields = [scope["method"], path, str(status or 500)]
            if entry is not None:
                fields.append(entry.operation or "-")
                if entry.tenant:
                    fields.append(f"tenant={entry.tenant}")
                if entry.error:
                    fields.append(f"error={entry.error}")
            fields.append(f"{ms:.1f}ms")
            logger.info(" ".join(fields), extra={"status": status or 500})
            if debug:
                _log_body("request", b"".join(received))
                # An event stream never ends on its own: only what was sent before it closed.
                _log_body("response", b"".join(sent))


def _log_body(kind: str, body: bytes) -> None:
    if not body:
        return
    shown = show_body(body[:_KEPT], len(body))
    text = shown if isinstance(shown, str) else orjson.dumps(shown).decode()
    logger.debug("  %s body (%d bytes): %s", kind, len(body), text)


def use_colour(stream: IO[str]) -> bool:
    """Colours only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_LEVEL_COLOURS = {"DEBUG": "\x1b[2m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m", "CRITICAL": "\x1b[1;31m"}


def _status_colour(status: int) -> str:
    if status >= 500:
        return "\x1b[31m"
    if status >= 400:
        return "\x1b[33m"
    return "\x1b[32m"


class LogFormatter(logging.Formatter):
    """``HH:MM:SS.mmm [LEVEL] message``: the level is shown unless it is ``INFO``.

    The same for the request lines, the mock's own messages and uvicorn's, so one grep or one
    eye reads them all.
    """

    def __init__(self, colour: bool = False) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        stamp = f"{self.formatTime(record, self.datefmt)}.{int(record.msecs):03d}"
        message = record.getMessage()
        status: Any = getattr(record, "status", None)
        if self.colour:
            stamp = f"{_DIM}{stamp}{_RESET}"
            if isinstance(status, int):
                message = message.replace(f" {status} ", f" {_status_colour(status)}{status}{_RESET} ", 1)
        if record.levelname != "INFO":
            level = record.levelname
            if self.colour and level in _LEVEL_COLOURS:
                level = f"{_LEVEL_COLOURS[level]}{level}{_RESET}"
            message = f"{level} {message}"
        line = f"{stamp} {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: int, stream: IO[str] | None = None) -> None:
    """Send every log line (the mock's and uvicorn's) through one handler in one format.

    uvicorn installs handlers of its own on its loggers when its ``Config`` is made; call this
    after that, so its lines are formatted here too instead of in its own style.
    """
    stream = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogFormatter(colour=use_colour(stream)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(level)
    # uvicorn's access lines stay off: AccessLog writes the one line per request. Its protocol
    # prints them whenever the logger has a handler, its parents' included, so it must not propagate.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
