"""HAR 1.2 recordings: one entry per exchange, redacted before it is written, bounded.

A recording is written as it happens (the file is one JSON document, its entries appended one by
one), so memory stays bounded however long the proxy runs: each body keeps at most ``body_limit``
bytes, with a note of its full size. Credentials never reach the disk: headers, query strings and
bodies go through ``world.redact`` (the rules the journal uses). So that a recording can still say
*which* credential a request carried, each credential gets a label: a keyed hash (a key drawn per
recording and never written), the same label for the same credential, nothing an attacker can
reverse or test guesses against.

Custom fields (HAR allows names starting with ``_``): ``_operation`` (the contract's operationId),
``_violations`` (what broke the contract), ``_credential`` (``{header, scheme, label}``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from .. import __version__
from ..world.journal import redact_query
from ..world.redact import redact_header, redact_text, redact_value
from . import DEFAULT_BODY_LIMIT

__all__ = ["DEFAULT_BODY_LIMIT", "Exchange", "HarWriter", "credential_of", "read_har"]

_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized"}


@dataclass(slots=True)
class Exchange:
    """One request and its answer as the proxy saw them (bodies are the kept prefixes)."""

    started: float  # wall-clock seconds
    method: str
    url: str  # the upstream URL, query string included
    request_headers: list[tuple[str, str]]
    request_body: bytes
    request_size: int
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: bytes
    response_size: int
    duration_ms: float
    http_version: str = "HTTP/1.1"
    operation: str | None = None
    violations: list[str] = field(default_factory=list)
    error: str | None = None  # the upstream could not be reached or timed out


def credential_of(headers: list[tuple[str, str]], key: bytes) -> dict[str, str] | None:
    """Which credential a request carried, as ``{header, scheme, label}`` (never the credential)."""
    for name, value in headers:
        lowered = name.lower()
        if lowered == "api-secret":
            scheme = "secret"
        elif lowered == "authorization":
            scheme = value.split(None, 1)[0].lower() if value.strip() else "empty"
            scheme = "token" if value.lower().startswith("agora token=") else scheme
        else:
            continue
        label = hmac.new(key, value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:12]
        return {"header": lowered, "scheme": scheme, "label": label}
    return None


def _media(headers: list[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "")


def _body(kept: bytes, size: int, media: str) -> dict[str, Any]:
    # Parsed JSON is redacted by key and shape; anything else (or a cut body) as text.
    complete = len(kept) == size
    text: str | None = None
    if complete and "json" in media:
        try:
            text = orjson.dumps(redact_value(orjson.loads(kept))).decode()
        except (orjson.JSONDecodeError, TypeError):
            text = None
    if text is None:
        text = redact_text(kept.decode("utf-8", "replace"))
    out: dict[str, Any] = {"mimeType": media, "text": text}
    if not complete:
        out["comment"] = f"truncated: the first {len(kept)} of {size} bytes"
    return out


def _entry(exchange: Exchange, key: bytes) -> dict[str, Any]:
    base, _, query = exchange.url.partition("?")
    shown_query = redact_query(query)
    url = redact_text(base) + (f"?{shown_query}" if query else "")
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": url,
        "httpVersion": exchange.http_version,
        "cookies": [],
        "headers": [{"name": k, "value": redact_header(k, v)} for k, v in exchange.request_headers],
        "queryString": [{"name": n, "value": v} for n, _, v in (p.partition("=") for p in shown_query.split("&") if p)],
        "headersSize": -1,
        "bodySize": exchange.request_size,
    }
    if exchange.request_size:
        body = _body(exchange.request_body, exchange.request_size, _media(exchange.request_headers))
        request["postData"] = body
    content = _body(exchange.response_body, exchange.response_size, _media(exchange.response_headers))
    content["size"] = exchange.response_size
    entry: dict[str, Any] = {
        "startedDateTime": datetime.fromtimestamp(exchange.started, UTC).isoformat(timespec="milliseconds"),
        "time": round(exchange.duration_ms, 3),
        "request": request,
        "response": {
            "status": exchange.status,
            "statusText": exchange.reason or _STATUS_TEXT.get(exchange.status, ""),
            "httpVersion": exchange.http_version,
            "cookies": [],
            "headers": [{"name": k, "value": redact_header(k, v)} for k, v in exchange.response_headers],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": exchange.response_size,
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(exchange.duration_ms, 3), "receive": 0},
        "_operation": exchange.operation,
        "_violations": [redact_text(v) for v in exchange.violations],
    }
    credential = credential_of(exchange.request_headers, key)
    if credential is not None:
        entry["_credential"] = credential
    if exchange.error is not None:
        entry["comment"] = redact_text(exchange.error)
    return entry


class HarWriter:
    """Appends exchanges to a HAR 1.2 file as they happen; ``close`` ends the document.

    Args:
        path: the file (overwritten).
        body_limit: bytes of each body kept; a longer body is cut, with a note of its size.
    """

    def __init__(self, path: str | Path, body_limit: int = DEFAULT_BODY_LIMIT) -> None:
        self.path = Path(path)
        self.body_limit = body_limit
        self.key = os.urandom(32)  # labels credentials; never written
        self.count = 0
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = self.path.open("wb")
        creator = {"name": "agent-mockserver", "version": __version__}
        head = {"version": "1.2", "creator": creator, "pages": []}
        self._file.write(orjson.dumps({"log": head})[:-2] + b',"entries":[\n')
        self._file.flush()

    def write(self, exchange: Exchange) -> dict[str, Any]:
        """Redact and append one exchange; returns the entry as written."""
        limit = self.body_limit
        if len(exchange.request_body) > limit or len(exchange.response_body) > limit:
            cut = (exchange.request_body[:limit], exchange.response_body[:limit])
            exchange = replace(exchange, request_body=cut[0], response_body=cut[1])
        entry = _entry(exchange, self.key)
        data = orjson.dumps(entry)
        with self._lock:
            if self._file is None:
                raise ValueError("the recording is closed")
            self._file.write((b",\n" if self.count else b"") + data)
            self._file.flush()  # an interrupted run still leaves every finished exchange
            self.count += 1
        return entry

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(b"\n]}}\n")
                self._file.close()
                self._file = None

    def __enter__(self) -> HarWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_har(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a HAR file; a recording cut short (the proxy was killed) is read as far as it goes.

    Raises:
        ValueError: the file is not a HAR document.
    """
    raw = Path(path).read_bytes()
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            document = orjson.loads(raw.rstrip().rstrip(b",") + b"\n]}}")
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a HAR file ({exc})") from None
    entries = document.get("log", {}).get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: not a HAR file (no log.entries)")
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("request"), dict)]
