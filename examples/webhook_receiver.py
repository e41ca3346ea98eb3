"""A minimal Agora NCS webhook receiver, written as Agora's docs describe (standard library only).

It verifies ``Agora-Signature-V2`` (HMAC-SHA256 of the raw body, keyed by the webhook secret,
lowercase hex) before parsing the JSON, answers 200 with a JSON body, and de-duplicates by
``noticeId`` (NCS may deliver a notification more than once). Run it, then serve the mock with a
webhook fixture that points at it (see docs/webhooks.md)::

    python examples/webhook_receiver.py --port 9000 --secret my-ncs-secret
    mockserver serve --fixtures default --fixtures fixtures/webhooks.yaml
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def signature_ok(secret: str, raw_body: bytes, signature: str) -> bool:
    expected = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def build(secret: str, port: int = 0, on_event: Callable[[dict[str, Any]], None] = print) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:``port`` that hands each new, genuine notification to ``on_event``."""
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not signature_ok(secret, raw, self.headers.get("Agora-Signature-V2", "")):
                self._answer(401, {"error": "bad signature"})
                return
            event = json.loads(raw)
            if event["noticeId"] not in seen:  # the dedupe key
                seen.add(event["noticeId"])
                on_event(event)
            self._answer(200, {"ok": True})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", default="my-ncs-secret")
    args = parser.parse_args()

    def show(event: dict[str, Any]) -> None:
        payload = event["payload"]
        print(event["eventType"], payload.get("agent_id"), payload.get("status", ""), payload.get("message", ""))

    server = build(args.secret, args.port, show)
    print(f"listening on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
