"""The request journal: a bounded record of the vendor requests the mock answered.

Secrets never leave it: credential headers are shown as ``[redacted]`` and so are body fields whose
names look like secrets (token, secret, key, password, authorization), at any depth. Recording is
on the hot path, so an entry keeps references to what the request already produced (header list,
parsed body, response bytes) and does the decoding and redaction when it is read. Bodies are shown
up to ``BODY_LIMIT`` characters. For a 404, 405 or validation failure the entry says which
operation was closest and why the request did not match it (``near_miss``).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_JOURNAL_LIMIT", "Entry", "Journal", "redact"]

DEFAULT_JOURNAL_LIMIT = 2000
BODY_LIMIT = 2048
REDACTED = "[redacted]"
SECRET_HEADERS = {"api-secret", "authorization", "cookie", "proxy-authorization", "x-api-key"}
_SECRET_KEY = re.compile(r"token|secret|key|password|passwd|authorization|credential", re.IGNORECASE)


def redact(value: Any) -> Any:
    """A copy of a JSON value with secret-looking fields replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass(slots=True)
class Entry:
    id: int
    time: float  # mock clock
    method: str
    path: str
    query: str
    operation: str | None
    tenant: str | None
    status: int
    duration_ms: float
    request_headers: list[tuple[bytes, bytes]]
    request_body: Any  # the parsed body, or the raw bytes when it did not parse
    response_body: bytes
    error: str | None = None
    near_miss: dict[str, str] | None = None
    fault: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation": self.operation,
            "tenant": self.tenant,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "request_headers": {
                k.decode("latin-1"): REDACTED if k.decode("latin-1").lower() in SECRET_HEADERS else v.decode("latin-1")
                for k, v in self.request_headers
            },
            "request_body": _clip(redact(_decode(self.request_body))),
            "response_body": _clip(redact(_decode(self.response_body))),
            "error": self.error,
            "near_miss": self.near_miss,
            "fault": self.fault,
        }


def _decode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return bytes(value[: BODY_LIMIT + 1]).decode("utf-8", "replace")
    return value


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > BODY_LIMIT:
        return value[:BODY_LIMIT] + f"... ({len(value) - BODY_LIMIT} more characters)"
    return value


class Journal:
    """A ring buffer of ``Entry``; thread-safe."""

    def __init__(self, limit: int = DEFAULT_JOURNAL_LIMIT) -> None:
        self.limit = limit
        self._entries: deque[Entry] = deque(maxlen=limit)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.total = 0  # requests journaled since the last clear, including those that fell off

    def record(self, **fields: Any) -> Entry:
        with self._lock:
            entry = Entry(id=next(self._ids), **fields)
            self._entries.append(entry)
            self.total += 1
        return entry

    def query(
        self,
        *,
        operation: str | None = None,
        status: int | None = None,
        tenant: str | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        with self._lock:
            entries = list(self._entries)
        found = [
            e
            for e in entries
            if (operation is None or e.operation == operation)
            and (status is None or e.status == status)
            and (tenant is None or e.tenant == tenant)
            and (since is None or e.id > since)
        ]
        return found[-limit:] if limit else found

    def clear(self) -> int:
        with self._lock:
            dropped = len(self._entries)
            self._entries.clear()
            self.total = 0
            return dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
