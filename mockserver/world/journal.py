"""The request journal: a bounded record of the vendor requests the mock answered.

Bounded twice: by entries (``limit``, 2,000 by default) and by the bytes the entries keep
(``max_bytes``, 8 MiB by default); the oldest entries go first. Each entry is bounded at record
time, whatever the request was: the first ``HEADERS_KEPT`` headers, each value cut to a few hundred
bytes, the path and query cut to ~1 KiB, and the request and response bodies kept as raw bytes cut
to ``BODY_LIMIT`` (plus a margin) with their full size. Nothing deep or large is kept: a request
with an 8 MiB header or a 1 MiB body costs a few KiB.

Reading an entry decodes what was kept and redacts it with the rules of ``redact`` (credential
headers, secret-looking keys and ``key=value`` pairs, credential shapes such as ``Bearer …`` or
``sk-…``, in parsed and unparsed bodies alike). A body is shown parsed when it is complete, JSON
and at most ``MAX_DEPTH`` deep, otherwise as text; so reading never fails on a deep body and costs
at most a few KiB of work per entry. For a 404, 405 or validation failure the entry says which
operation was closest and why the request did not match it (``near_miss``).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from .redact import REDACTED, is_secret_name, redact_header, redact_text, redact_value

__all__ = ["DEFAULT_JOURNAL_BYTES", "DEFAULT_JOURNAL_LIMIT", "Entry", "Journal"]

DEFAULT_JOURNAL_LIMIT = 2000
DEFAULT_JOURNAL_BYTES = 8 * 1024 * 1024
BODY_LIMIT = 2048  # characters of a body shown
HEADER_LIMIT = 256  # characters of a header value shown
HEADERS_KEPT = 64
TEXT_LIMIT = 1024  # characters of the path, the query and a near-miss reason shown
MAX_DEPTH = 32  # a body nested deeper is shown as text
# Kept beyond what is shown, so that a credential cut by a limit is still recognised, and hidden.
_MARGIN = 256
_NAME_LIMIT = 64
_HEADER_KEPT = HEADER_LIMIT + _MARGIN
# Headers that fit in this many bytes in all are kept as they came (each is cut when shown).
_HEADERS_BUDGET = 8 * 1024
_BODY_KEPT = BODY_LIMIT + _MARGIN
_TEXT_KEPT = TEXT_LIMIT + _MARGIN
_OVERHEAD = 512  # bytes an entry costs beyond what it keeps (the object, its small fields)
_UNPARSED = object()
_chain = itertools.chain.from_iterable
_new_entry = tuple.__new__  # Entry(...) without its Python-level __new__: the same tuple
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


class Entry(NamedTuple):
    """One journaled request, bounded; ``to_dict`` is what the control plane shows.

    A named tuple: one is made for every request, in one step, and a tuple of immutable values is
    soon left alone by the garbage collector however many the journal keeps.
    """

    id: int
    time: float  # mock clock
    method: str
    path: str
    query: bytes | str
    operation: str | None
    tenant: str | None
    status: int
    duration_ms: float
    request_headers: tuple[tuple[bytes, bytes], ...]  # names and values cut (a bytes slice copies)
    headers_dropped: int  # headers beyond HEADERS_KEPT
    request_body: bytes  # the first BODY_LIMIT + margin bytes
    request_size: int
    response_body: bytes
    response_size: int
    error: str | None
    near_miss: tuple[str, str] | None  # (operation, reason)
    fault: str | None
    size: int  # bytes this entry keeps, for the journal's budget

    def to_dict(self) -> dict[str, Any]:
        headers = {}
        for raw_name, raw_value in self.request_headers:
            name = raw_name.decode("latin-1")
            headers[name] = _clip(redact_header(name, raw_value.decode("latin-1")), HEADER_LIMIT)
        if self.headers_dropped:
            headers["..."] = f"{self.headers_dropped} more headers"
        near = self.near_miss
        return {
            "id": self.id,
            "time": self.time,
            "method": self.method,
            "path": _clip(redact_text(_utf8(self.path)), TEXT_LIMIT),
            "query": _clip(redact_query(_text(self.query)), TEXT_LIMIT),
            "operation": self.operation,
            "tenant": self.tenant,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "request_headers": headers,
            "request_body": show_body(self.request_body, self.request_size),
            "request_body_bytes": self.request_size,
            "response_body": show_body(self.response_body, self.response_size),
            "response_body_bytes": self.response_size,
            "error": self.error,
            "near_miss": None
            if near is None
            else {"operation": near[0], "reason": _clip(redact_text(_utf8(near[1])), TEXT_LIMIT)},
            "fault": self.fault,
        }


def redact_query(query: str) -> str:
    """A query string as it may be shown: each parameter redacted by name, and by shape once decoded."""
    if not query:
        return query
    shown = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        decoded_name, decoded = unquote_plus(name), unquote_plus(value)
        if sep and is_secret_name(decoded_name):
            shown.append(f"{name}={REDACTED}")
            continue
        redacted = redact_text(decoded)
        shown.append(part if redacted == decoded else f"{name}{sep}{redacted}")
    return "&".join(shown)


def show_body(kept: bytes, size: int) -> Any:
    """A body as it may be shown: parsed JSON when complete and shallow, else text; redacted."""
    if not size:
        return None
    complete = len(kept) == size
    if complete and size <= BODY_LIMIT:
        parsed = _parse(kept)
        if parsed is not _UNPARSED:
            return redact_value(parsed)
    text = _clip(redact_text(kept.decode("utf-8", "replace")), BODY_LIMIT)
    return text if complete else f"{text[:BODY_LIMIT]}... ({size} bytes in all)"


def _reject(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _parse(raw: bytes) -> Any:
    # Only what serialises back as JSON is shown parsed: a lone surrogate (\ud800) or NaN, which
    # the standard library reads but JSON cannot carry, is shown as text.
    if _SURROGATE.search(raw) is not None:
        return _UNPARSED
    try:
        value = json.loads(raw, parse_constant=_reject)
    except (ValueError, RecursionError):
        return _UNPARSED
    # Depth-first without recursion: a body deeper than MAX_DEPTH is shown as text.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return _UNPARSED
        stack.extend((child, depth + 1) for child in children)
    return value


def _utf8(text: str) -> str:
    # A path or a message may carry lone surrogates (from percent-decoding): show them replaced.
    return text if text.isascii() else text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def _cut_headers(received: Sequence[tuple[bytes, bytes]]) -> tuple[tuple[tuple[bytes, bytes], ...], int, int]:
    """The first ``HEADERS_KEPT`` headers, names and values cut; the bytes they keep; how many more."""
    headers = tuple((name[:_NAME_LIMIT], value[:_HEADER_KEPT]) for name, value in received[:HEADERS_KEPT])
    size = sum(len(name) + len(value) for name, value in headers)
    return headers, size, max(0, len(received) - HEADERS_KEPT)


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class Journal:
    """A ring buffer of ``Entry``, bounded by count and by bytes; thread-safe.

    Args:
        limit: entries kept (0: no journal).
        max_bytes: bytes the entries may keep in all (approximately: what each keeps, plus a fixed
            overhead per entry); the newest entry is always kept.
    """

    def __init__(self, limit: int = DEFAULT_JOURNAL_LIMIT, max_bytes: int = DEFAULT_JOURNAL_BYTES) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self._entries: deque[Entry] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.total = 0  # requests journaled since the last clear, including those that fell off
        self.bytes = 0  # bytes the kept entries hold

    def record(
        self,
        time: float,
        method: str,
        path: str,
        query: bytes | str,
        operation: str | None,
        tenant: str | None,
        status: int,
        duration_ms: float,
        request_headers: Sequence[tuple[bytes, bytes]],
        request_body: bytes | memoryview,
        response_body: bytes | memoryview,
        error: str | None = None,
        near_miss: dict[str, str] | None = None,
        fault: str | None = None,
    ) -> Entry:
        """Keep a bounded copy of one request (never a reference to anything it could change).

        The request pipeline calls it positionally for every request (keywords cost more there).
        """
        # Slices only (decoding and redaction wait until the entry is read). Written for speed:
        # it runs for every request, so helpers are inlined and the tuple is made without the
        # named tuple's Python-level constructor.
        header_bytes = sum(map(len, _chain(request_headers)))
        if len(request_headers) <= HEADERS_KEPT and header_bytes <= _HEADERS_BUDGET:
            headers, dropped = tuple(request_headers), 0  # the usual request: kept whole, cut when shown
        else:
            headers, header_bytes, dropped = _cut_headers(request_headers)
        if len(path) > _TEXT_KEPT:
            path = path[:_TEXT_KEPT]
        if len(query) > _TEXT_KEPT:
            query = query[:_TEXT_KEPT]  # bytes as the server gave it, or text: decoded when shown
        # Most bodies are small bytes: kept as they are (the same object; bytes never change).
        request_size, response_size = len(request_body), len(response_body)
        kept_request = (
            request_body
            if request_size <= _BODY_KEPT and type(request_body) is bytes
            else bytes(request_body[:_BODY_KEPT])
        )
        kept_response = (
            response_body
            if response_size <= _BODY_KEPT and type(response_body) is bytes
            else bytes(response_body[:_BODY_KEPT])
        )
        size = _OVERHEAD + len(path) + len(query) + header_bytes + len(kept_request) + len(kept_response)
        near = None
        if near_miss is not None:
            near = (near_miss["operation"], near_miss["reason"][: TEXT_LIMIT + _MARGIN])
            size += len(near[1])
        if len(method) > _NAME_LIMIT:
            method = method[:_NAME_LIMIT]
        with self._lock:
            # fmt: off
            entry = _new_entry(Entry, (
                next(self._ids), time, method, path, query, operation, tenant, status, duration_ms,
                headers, dropped, kept_request, request_size, kept_response, response_size, error, near,
                fault, size,
            ))
            # fmt: on
            entries = self._entries
            entries.append(entry)
            self.bytes += size
            self.total += 1
            if len(entries) > self.limit or self.bytes > self.max_bytes:
                while len(entries) > 1 and (len(entries) > self.limit or self.bytes > self.max_bytes):
                    self.bytes -= entries.popleft().size
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
            self.bytes = 0
            return dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
