"""A webhook receiver for tests: an HTTP endpoint on 127.0.0.1 that records what it got.

It verifies signatures with the vendors' documented algorithms, and can answer errors or hang on
purpose, so a test can check retries and that the mock never waits for a slow receiver::

    with WebhookReceiver(agora_secret="s3cret") as receiver:
        ...  # subscribe receiver.url, make something happen
        [joined] = receiver.wait_for(1, lambda r: r.json["eventType"] == 101)
        assert joined.agora_valid

``verify_agora_signature`` and ``verify_bithuman_signature`` are small enough to copy into a
receiver of your own. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "WebhookReceiver", "verify_agora_signature", "verify_bithuman_signature"]


def verify_agora_signature(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether an Agora NCS notification is genuine.

    ``Agora-Signature-V2`` is HMAC-SHA256 and ``Agora-Signature`` HMAC-SHA1 of the raw body (the
    bytes as received, before any JSON parsing), keyed by the Console secret, in lowercase hex.
    NCS sends both; either suffices (V2 is preferred when present). ``headers`` may use any case.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    for name, algorithm in (("agora-signature-v2", hashlib.sha256), ("agora-signature", hashlib.sha1)):
        if name in lower:
            expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
            return hmac.compare_digest(expected, lower[name])
    return False


def verify_bithuman_signature(
    secret: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None, tolerance: float = 300
) -> bool:
    """Whether a bitHuman account webhook is genuine and fresh.

    ``X-BitHuman-Signature`` is ``sha256=`` + HMAC-SHA256 over ``"{X-BitHuman-Timestamp}.{raw body}"``;
    timestamps more than ``tolerance`` seconds from ``now`` are refused, as the docs suggest.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp, signature = lower.get("x-bithuman-timestamp", ""), lower.get("x-bithuman-signature", "")
    if not timestamp.isdigit() or not signature.startswith("sha256="):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.removeprefix("sha256="))


@dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver got, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # None when the body is not JSON
    agora_valid: bool | None  # None: no Agora secret given
    bithuman_valid: bool | None  # None: no bitHuman secret given
    status: int  # what the receiver answered (0: it hung until released, then answered)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, reply, gate = self.server.receiver._record(self.command, self.path, dict(self.headers), body)
        if gate is not None:
            gate.wait()  # hang on purpose, until the test releases it (or the receiver stops)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except OSError:
            pass  # the sender gave up waiting: that is the point of hanging

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver


class WebhookReceiver:
    """An in-process HTTP endpoint that records webhooks.

    Args:
        agora_secret: verify ``Agora-Signature(-V2)`` with this secret (``Received.agora_valid``).
        bithuman_secret: verify ``X-BitHuman-Signature`` with this secret (``Received.bithuman_valid``).
        host: the address to bind (a free port is chosen).
    """

    def __init__(self, agora_secret: str | None = None, bithuman_secret: str | None = None, host: str = "127.0.0.1"):
        self.agora_secret = agora_secret
        self.bithuman_secret = bithuman_secret
        self.received: list[Received] = []
        # What "now" is when checking X-BitHuman-Timestamp: pass the mock's clock when it is frozen.
        self.now: Callable[[], float] = time.time
        self._cond = threading.Condition()
        self._answers: list[int] = []  # statuses for the next requests, then 200
        self._gate: threading.Event | None = None
        self._server = _Server((host, 0), _Handler)
        self._server.receiver = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/webhook"

    # -- behaviour ---------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status`` (then 200 again)."""
        with self._cond:
            self._answers.extend([status] * count)

    def hang(self) -> None:
        """Hold every request from now on without answering, until ``release()``."""
        with self._cond:
            self._gate = threading.Event()

    def release(self) -> None:
        """Answer the requests held by ``hang()`` (200) and stop hanging."""
        with self._cond:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def subscribe_agora(self, client: Any, appid: str, events: list[int] | None = None) -> dict[str, Any]:
        """Point an Agora project's webhook here (``client``: a ``mockserver.client.ControlClient``).

        The receiver's ``agora_secret`` signs the notifications (one is chosen if it has none).
        """
        self.agora_secret = self.agora_secret or "mockserver-ncs-secret"
        body = {"url": self.url, "secret": self.agora_secret, "events": events or []}
        result: dict[str, Any] = client.call("PUT", f"/_mock/agora/projects/{appid}/webhook", json=body)
        return result

    def clear(self) -> None:
        with self._cond:
            self.received.clear()
            self._answers.clear()

    def _record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with self._cond:
            gate = self._gate
            status = 0 if gate is not None else (self._answers.pop(0) if self._answers else 200)
            self.received.append(
                Received(
                    method,
                    path,
                    lower,
                    body,
                    parsed,
                    None if self.agora_secret is None else verify_agora_signature(self.agora_secret, body, lower),
                    None
                    if self.bithuman_secret is None
                    else verify_bithuman_signature(self.bithuman_secret, body, lower, now=self.now()),
                    status,
                )
            )
            self._cond.notify_all()
        reply = b'{"ok":true}' if status in (0, 200) else b'{"error":"failing on purpose"}'
        return status or 200, reply, gate

    # -- waiting -----------------------------------------------------------------------------------

    def wait_for(
        self, count: int = 1, where: Callable[[Received], bool] | None = None, timeout: float = 10.0
    ) -> list[Received]:
        """Wait until ``count`` requests matching ``where`` arrived; return them (in arrival order).

        Raises:
            AssertionError: fewer arrived within ``timeout`` seconds (a generous bound, not a timing).
        """

        def matching() -> list[Received]:
            return [r for r in self.received if where is None or where(r)]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                got = [(r.json or {}).get("eventType", r.json) for r in self.received]
                raise AssertionError(f"expected {count} matching webhooks within {timeout} s; got {got}")
            return matching()

    # -- life --------------------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
