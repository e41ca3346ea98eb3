"""The drift report: replay a recording against the mock and say where the answers differ.

The recorded requests are replayed in order against a mock arranged from the recording itself
(``fixture_from``), in process (on a mock clock that follows the recorded times) or at a URL, each
with the placeholder credential of its recorded one. Ids the mock makes up (an agent it started)
replace the recorded ones in later requests. Each answer is compared with the recorded one:

- the status;
- the error code (bitHuman ``error.code`` or legacy ``error``, Agora ``reason``, telephony
  ``error_type``);
- the set of fields and their JSON types at every depth (arrays by the fields of their items;
  integers and decimals are both ``number``), when both statuses agree;
- the headers clients rely on: ``Retry-After``, ``X-RateLimit-*``, ``Allow`` (its methods) and the
  media type of ``Content-Type``.

No other value is compared: ids, times, counts, states and free text differ between any two
runs. The contract violations the proxy saw (``_violations`` of each entry) are part of the report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import orjson

from ..app import create_app
from ..client.transport import ASGITransport, HTTPTransport, Response, Transport
from ..fixtures import check_document
from ..world import World
from .fixture_from import fixture_from_entries, replay_headers

__all__ = ["NOT_COMPARED", "DriftReport", "EntryResult", "Finding", "compare", "replay"]

NOT_COMPARED = "field values (ids, times, counts, states, free text); only their presence and JSON type are"
RELIED_ON = ("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "allow")
_NOT_SENT = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "api-secret", "authorization", "cookie"}
)
_MAX_DEPTH = 32


@dataclass(slots=True)
class Finding:
    kind: str  # status | error_code | field | header | contract | replay
    detail: str


@dataclass(slots=True)
class EntryResult:
    index: int
    method: str
    path: str
    operation: str | None
    real_status: int
    mock_status: int | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return bool(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "real_status": self.real_status,
            "mock_status": self.mock_status,
            "findings": [{"kind": f.kind, "detail": f.detail} for f in self.findings],
        }


@dataclass(slots=True)
class DriftReport:
    entries: list[EntryResult]
    target: str

    @property
    def drift(self) -> bool:
        return any(e.drift for e in self.entries)

    def findings(self) -> Iterator[tuple[EntryResult, Finding]]:
        for entry in self.entries:
            for finding in entry.findings:
                yield entry, finding

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "exchanges": len(self.entries),
            "drifted": sum(e.drift for e in self.entries),
            "not_compared": NOT_COMPARED,
            "entries": [e.to_dict() for e in self.entries],
        }

    def json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def text(self) -> str:
        drifted = [e for e in self.entries if e.drift]
        lines = [f"drift: {len(self.entries)} exchanges replayed against {self.target}, {len(drifted)} differ"]
        for entry in drifted:
            lines.append(
                f"  #{entry.index} {entry.method} {entry.path} [{entry.operation or '?'}] "
                f"real {entry.real_status}, mock {entry.mock_status if entry.mock_status is not None else '-'}"
            )
            lines += [f"      {f.kind}: {f.detail}" for f in entry.findings]
        lines.append(f"not compared: {NOT_COMPARED}")
        return "\n".join(lines)

    def markdown(self) -> str:
        drifted = [e for e in self.entries if e.drift]
        lines = [
            "# Drift report",
            "",
            f"{len(self.entries)} recorded exchanges replayed against {self.target}; **{len(drifted)} differ**.",
            "",
            f"Not compared: {NOT_COMPARED}.",
            "",
        ]
        if drifted:
            lines += ["| # | request | operation | real | mock | difference |", "|---|---|---|---|---|---|"]
            for entry, finding in self.findings():
                cell = _md(f"{finding.kind}: {finding.detail}")
                lines.append(
                    f"| {entry.index} | `{entry.method} {_md(entry.path)}` | {entry.operation or '?'} | "
                    f"{entry.real_status} | {entry.mock_status if entry.mock_status is not None else '-'} | {cell} |"
                )
        return "\n".join(lines) + "\n"

    def junit(self) -> str:
        failures = sum(e.drift for e in self.entries)
        cases = []
        for entry in self.entries:
            name = quoteattr(f"#{entry.index} {entry.method} {entry.path}")
            classname = quoteattr(f"drift.{entry.operation or 'unknown'}")
            if entry.drift:
                text = escape("\n".join(f"{f.kind}: {f.detail}" for f in entry.findings))
                message = quoteattr(entry.findings[0].detail[:200])
                failure = f"<failure message={message}>{text}</failure>"
                cases.append(f"  <testcase name={name} classname={classname}>{failure}</testcase>")
            else:
                cases.append(f"  <testcase name={name} classname={classname}/>")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="drift" tests="{len(self.entries)}" failures="{failures}" errors="0">\n'
            + "\n".join(cases)
            + "\n</testsuite>\n"
        )


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- comparing ---------------------------------------------------------------------------------


def error_code(body: Any) -> str | None:
    """The vendor's error code in an error body, whichever envelope it is in."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    if body.get("success") is False and isinstance(error, str):
        return error
    for key in ("reason", "error_type"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape(value: Any, where: str = "", depth: int = 0, out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every field path (``data.list[].agent_id``) of a JSON value with the types seen there."""
    out = {} if out is None else out
    if where:
        out.setdefault(where, set()).add(_kind(value))
    if depth >= _MAX_DEPTH:
        return out
    if isinstance(value, dict):
        for key, item in value.items():
            shape(item, f"{where}.{key}" if where else str(key), depth + 1, out)
    elif isinstance(value, list):
        for item in value[:100]:
            shape(item, f"{where}[]", depth + 1, out)
    return out


def _body(content: bytes) -> Any:
    try:
        return orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return None


def _media(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def compare(real_status: int, real_headers: dict[str, str], real_content: bytes, mock: Response) -> list[Finding]:
    """What differs between a recorded answer and the mock's (headers with lower-case names)."""
    findings = [Finding("status", f"real {real_status}, mock {mock.status}")] if real_status != mock.status else []
    real_body, mock_body = _body(real_content), _body(mock.content)
    real_code, mock_code = error_code(real_body), error_code(mock_body)
    if (real_status >= 400 or mock.status >= 400) and real_code != mock_code:
        findings.append(Finding("error_code", f"real {real_code!r}, mock {mock_code!r}"))
    if real_status == mock.status:
        real_shape, mock_shape = shape(real_body), shape(mock_body)
        for path in sorted(set(real_shape) | set(mock_shape)):
            if path not in mock_shape:
                findings.append(
                    Finding("field", f"{path}: only in the real answer ({'/'.join(sorted(real_shape[path]))})")
                )
            elif path not in real_shape:
                findings.append(
                    Finding("field", f"{path}: only in the mock's answer ({'/'.join(sorted(mock_shape[path]))})")
                )
            elif real_shape[path] != mock_shape[path] and "null" not in real_shape[path] | mock_shape[path]:
                findings.append(
                    Finding(
                        "field",
                        f"{path}: real {'/'.join(sorted(real_shape[path]))}, mock {'/'.join(sorted(mock_shape[path]))}",
                    )
                )
        if real_content and mock.content and _media(real_headers) != _media(mock.headers):
            findings.append(
                Finding("header", f"content-type: real {_media(real_headers)!r}, mock {_media(mock.headers)!r}")
            )
    for name in RELIED_ON:
        real, ours = real_headers.get(name), mock.headers.get(name)
        if (real is None) != (ours is None):
            where = "the real answer" if ours is None else "the mock's answer"
            findings.append(Finding("header", f"{name}: only in {where}"))
        elif name == "allow" and real is not None and ours is not None and _methods(real) != _methods(ours):
            findings.append(Finding("header", f"allow: real {real!r}, mock {ours!r}"))
    return findings


def _methods(value: str) -> set[str]:
    return {m.strip().upper() for m in value.split(",") if m.strip()}


# -- replaying ---------------------------------------------------------------------------------


def _ids(real: Any, mock: Any, found: dict[str, str], depth: int = 0) -> None:
    # The same place in both answers: an id-like string there maps the recorded id to the mock's.
    if depth > _MAX_DEPTH:
        return
    if isinstance(real, dict) and isinstance(mock, dict):
        for key, value in real.items():
            other = mock.get(key)
            if (
                (key == "id" or key.endswith("_id"))
                and isinstance(value, str)
                and isinstance(other, str)
                and value
                and value != other
            ):
                found.setdefault(value, other)
            else:
                _ids(value, other, found, depth + 1)
    elif isinstance(real, list) and isinstance(mock, list):
        for a, b in zip(real[:100], mock[:100], strict=False):
            _ids(a, b, found, depth + 1)


def _substitute(value: Any, ids: dict[str, str], depth: int = 0) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _substitute(v, ids, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, ids, depth + 1) for v in value]
    return value


def _started(entry: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(entry.get("startedDateTime"))).timestamp()
    except ValueError:
        return None


def arranged_transport(document: dict[str, Any], against: str | None, world: World | None = None) -> Transport:
    """A transport to a mock holding ``document``: ``world`` (or a new one) in process, or the one at ``against``."""
    if against is None:
        world = world or World(seed=0)
        world.load(document, boot=True)
        return ASGITransport(create_app(world))
    transport = HTTPTransport(against)
    answer = transport.request(
        "POST", "/_mock/fixtures?replace=true", orjson.dumps(document), {"content-type": "application/json"}
    )
    if answer.status != 200:
        raise ValueError(f"{against} refused the recording's fixture: {answer.status} {answer.content[:300]!r}")
    return transport


def replay(entries: list[dict[str, Any]], *, against: str | None = None) -> DriftReport:
    """Replay recorded HAR entries against the mock arranged from them; compare every answer.

    Args:
        entries: the recording (``har.read_har``).
        against: a served mock's base URL (its world is replaced by the recording's fixture);
            None replays in process.
    """
    document = check_document(fixture_from_entries(entries), "<recording>")
    world = World(seed=0)
    transport = arranged_transport(document, against, world)
    ids: dict[str, str] = {}
    results: list[EntryResult] = []
    # In process, the mock's clock follows the recording: frozen at its first request, moved on to
    # each request's recorded start, so what depends on time (an agent's start-up, a rate limit's
    # refill) is where it was when the real service answered.
    first = next((t for t in map(_started, entries) if t is not None), None)
    if against is None and first is not None:
        world.clock.freeze(first)
    try:
        for index, entry in enumerate(entries, 1):
            started = _started(entry)
            if against is None and started is not None and started > world.clock.now():
                world.clock.advance(started - world.clock.now())
            results.append(_replay_one(transport, index, entry, ids))
    finally:
        transport.close()
    return DriftReport(results, against or "the mock, in process")


def _replay_one(transport: Transport, index: int, entry: dict[str, Any], ids: dict[str, str]) -> EntryResult:
    request, response = entry["request"], entry.get("response") or {}
    parts = urlsplit(str(request.get("url", "")))
    path = "/".join(ids.get(segment, segment) for segment in parts.path.split("/"))
    target = path + (f"?{parts.query}" if parts.query else "")
    method = str(request.get("method", "GET"))
    real_status = int(response.get("status") or 0)
    result = EntryResult(index, method, parts.path, entry.get("_operation"), real_status, None)
    result.findings += [Finding("contract", str(v)) for v in entry.get("_violations") or []]
    if real_status == 0 or entry.get("comment"):
        result.findings.append(
            Finding("replay", f"not replayed: the service gave no answer ({entry.get('comment', '')})")
        )
        return result
    post = request.get("postData") or {}
    if "truncated" in str(post.get("comment", "")):
        result.findings.append(Finding("replay", "not replayed: the recorded request body was truncated"))
        return result
    headers = {
        str(h["name"]).lower(): str(h["value"])
        for h in request.get("headers") or []
        if str(h.get("name", "")).lower() not in _NOT_SENT
    }
    headers.update(replay_headers(entry))
    body: bytes | None = None
    text = post.get("text")
    if isinstance(text, str) and text:
        parsed = _body(text.encode())
        body = orjson.dumps(_substitute(parsed, ids)) if parsed is not None else text.encode()
    answer = transport.request(method, target, body, headers)
    result.mock_status = answer.status
    content = response.get("content") or {}
    real_content = str(content.get("text") or "").encode()
    real_headers = {str(h["name"]).lower(): str(h["value"]) for h in response.get("headers") or []}
    if "truncated" in str(content.get("comment", "")):
        real_content = b""  # a cut body cannot be compared; the rest still is
    result.findings += compare(real_status, real_headers, real_content, answer)
    _ids(_body(real_content), _body(answer.content), ids)
    return result
