"""What the run covered, and how to replay what failed.

Every request the suite sends is recorded here: schemathesis' calls and checks through its hooks
(``record_case``, ``record_checks``), the model tests' calls through ``Http`` (``record_http``).
The terminal summary lists, per operation, how often it was called and with which statuses, and
per check how often it passed or failed; under xdist each worker's counts travel to the
controller in ``workeroutput``. Failures of the model tests get the last requests as ``curl``
commands, secrets masked.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from mockserver.contract import load_contract
from mockserver.spec import Operation, load_spec

__all__ = [
    "STATS",
    "Stats",
    "as_curl",
    "mask",
    "operation_of",
    "record_case",
    "record_checks",
    "record_http",
    "recent_curls",
    "vendor_of",
]

SENSITIVE = ("secret", "authorization", "token", "key", "password", "credential", "auth")
FILTERED = "[Filtered]"
_SKIPPED_HEADERS = {"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"}


def vendor_of(path: str) -> str | None:
    """``bithuman``, ``agora``, ``control`` (the control plane) or None, as the contract's tags say."""
    return load_contract().vendor_of(path)


def operation_of(method: str, path: str) -> Operation | None:
    """The vendor operation a request is for, or None (control plane, unknown route)."""
    op = load_contract().match(method, path)
    return op if op is not None and op.operation_id in load_spec().operations else None


def all_operations() -> list[str]:
    return sorted(load_spec().operations)


@dataclass
class Stats:
    """Counts of one process (or, merged, of the whole run)."""

    conformance: Counter[str] = field(default_factory=Counter)  # "op status" -> calls by schemathesis
    model: Counter[str] = field(default_factory=Counter)  # "op status" -> calls by the model tests
    checks: Counter[str] = field(default_factory=Counter)  # "check outcome" -> times
    links: Counter[str] = field(default_factory=Counter)  # "source -> target status" in the stateful phase

    def to_json(self) -> str:
        return json.dumps({name: dict(getattr(self, name)) for name in ("conformance", "model", "checks", "links")})

    def merge_json(self, text: str) -> None:
        for name, counts in json.loads(text).items():
            getattr(self, name).update(counts)


STATS = Stats()
_RECENT: deque[str] = deque(maxlen=12)


def record_case(operation_id: str | None, status: int) -> None:
    STATS.conformance[f"{operation_id} {status}"] += 1


def record_checks(results: list[Any]) -> None:
    for result in results:
        STATS.checks[f"{result.name} {result.status.name.lower()}"] += 1


def record_link(source: str, target: str, status: int) -> None:
    STATS.links[f"{source} -> {target} {status}"] += 1


def record_http(response: Any) -> None:
    """An httpx2 response of a model test: counted, and kept for the failure's replay."""
    request = response.request
    path = request.url.path
    operation = operation_of(request.method, path)
    if operation is not None:
        STATS.model[f"{operation.operation_id} {response.status_code}"] += 1
    _RECENT.append(
        f"{as_curl(request.method, str(request.url), dict(request.headers), request.content)}"
        f"    # -> {response.status_code}"
    )


def forget_recent() -> None:
    _RECENT.clear()


def recent_curls() -> str:
    return "\n".join(_RECENT)


def mask(value: Any) -> Any:
    """A JSON value with every sensitive-looking member replaced by ``[Filtered]``."""
    if isinstance(value, dict):
        return {k: FILTERED if _sensitive(str(k)) else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SENSITIVE)


def as_curl(method: str, url: str, headers: dict[str, str], body: bytes | None) -> str:
    """A curl command that replays a request, with credentials and secret-looking body fields masked."""
    parts = ["curl", "-X", method.upper()]
    for name, value in headers.items():
        if name.lower() in _SKIPPED_HEADERS:
            continue
        parts += ["-H", f"{name}: {FILTERED if _sensitive(name) else value}"]
    if body:
        try:
            text = json.dumps(mask(json.loads(body)), ensure_ascii=False)
        except ValueError:
            text = body.decode("utf-8", "replace")
        parts += ["-d", text]
    parts.append(url)
    return " ".join(shlex.quote(p) for p in parts)


# -- the terminal summary ---------------------------------------------------------------------


def summary_lines(stats: Stats, target: str) -> list[str]:
    lines = [f"target: {target}"]
    operations = all_operations()
    by_op: dict[str, Counter[str]] = {op: Counter() for op in operations}
    for source in (stats.conformance, stats.model):
        for key, count in source.items():
            op, _, status = key.rpartition(" ")
            if op in by_op:
                by_op[op][status] += count
    covered = [op for op in operations if by_op[op]]
    lines.append(f"operations exercised: {len(covered)}/{len(operations)}")
    for op in operations:
        statuses = ", ".join(f"{s}x{n}" for s, n in sorted(by_op[op].items())) or "not called"
        conformance = sum(n for k, n in stats.conformance.items() if k.rpartition(" ")[0] == op)
        lines.append(
            f"  {op:<22} {conformance:>6} generated + {sum(by_op[op].values()) - conformance:>5} model  [{statuses}]"
        )
    checks: dict[str, Counter[str]] = {}
    for key, count in stats.checks.items():
        name, _, outcome = key.rpartition(" ")
        checks.setdefault(name, Counter())[outcome] += count
    lines.append(f"schemathesis checks run: {len(checks)}")
    for name in sorted(checks):
        lines.append(f"  {name:<30} " + ", ".join(f"{o} {n}" for o, n in sorted(checks[name].items())))
    if stats.links:
        targets: dict[str, Counter[str]] = {}
        for key, count in stats.links.items():
            link, _, status = key.rpartition(" ")
            targets.setdefault(link, Counter())[status] += count
        lines.append(f"stateful links followed: {len(targets)}")
        for link in sorted(targets):
            lines.append(f"  {link:<46} " + ", ".join(f"{s}x{n}" for s, n in sorted(targets[link].items())))
    return lines
