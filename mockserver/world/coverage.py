"""What clients exercised, per tenant: the raw records of the coverage report.

Two kinds of record, both plain string keys counted per tenant:

- a request to a vendor operation: ``op <operationId> <status>[ <reason>]``, plus the delivery
  outcome of a bitHuman request (``mockserver/coverage.py`` builds them in the request pipeline);
- what happened in the world (a lifecycle transition, a speak or think outcome, a barge-in, a call
  outcome, a chaos scenario acting), read from the inbox as events are recorded.

Only what the suite's own requests reached counts: a world outcome is kept pending for its tenant
and credited when that tenant's next vendor request is recorded (the client could then see it);
outcomes nothing ever looked at afterwards, and requests to the control plane, never count.
"""

from __future__ import annotations

import threading

from .inbox import Event

__all__ = ["MAX_TENANTS", "Coverage", "outcome_key"]

MAX_TENANTS = 100_000  # tenants with records (our bound); the oldest are forgotten first
ANONYMOUS = ""  # requests that no tenant authenticated (a wrong or missing credential)


def outcome_key(event: Event) -> str | None:
    """The coverage key of an inbox event, or None if it is not an outcome the report counts."""
    kind, outcome, data = event.kind, event.outcome, event.data
    if kind == "lifecycle":
        if outcome == "RUNNING":
            return "lifecycle STARTING -> RUNNING (ready)"
        if outcome == "STOPPING":
            return f"lifecycle RUNNING -> STOPPING ({data.get('reason', 'leave')})"
        if outcome == "STOPPED":
            return "lifecycle STOPPING -> STOPPED (done)"
        if outcome == "FAILED":
            return f"lifecycle {data.get('from', 'RUNNING')} -> FAILED (failure)"
        return None
    if kind == "chaos":
        return f"chaos {outcome}"
    if kind == "call":
        if outcome == "answered":
            return "call answered"
        if outcome == "ringing":
            return "call inbound"
        return f"call {data['why']}" if outcome in ("failed", "hung_up") and data.get("why") else None
    if kind in ("speech", "think"):
        if outcome == "interrupted" and data.get("caused_by") == "start_of_speech":
            return "conversation barge-in"
        if event.operation == "speak_agent" and "priority" in data:
            return f"conversation speak {data['priority']} while {data['state']}"
        if event.operation == "think_agent" and "action" in data:
            return f"conversation think {data['action']} while {data['state']}"
        return None
    if kind == "interrupt":
        return "conversation interrupt while " + ("busy" if outcome == "interrupted" else "idle")
    return None


class Coverage:
    """Counts of coverage keys per tenant (``""``: unauthenticated requests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Per tenant, a count per *tuple* of keys (a request's keys come together): one dict
        # update per request, keys counted one by one only when read. Plain dicts: a Counter is
        # made and merged in Python code, which cost more than the rest of coverage together.
        self._counts: dict[str, dict[tuple[str, ...], int]] = {}
        self._pending: dict[str, dict[tuple[str, ...], int]] = {}

    def observe(self, event: Event) -> None:
        """An inbox listener: keep the event's outcome pending until its tenant's next request."""
        key = outcome_key(event)
        if key is not None:
            with self._lock:
                pending = self._pending.get(event.tenant)
                if pending is None:
                    if len(self._pending) >= MAX_TENANTS:
                        del self._pending[next(iter(self._pending))]
                    pending = self._pending[event.tenant] = {}
                pending[(key,)] = pending.get((key,), 0) + 1

    def record(self, tenant: str | None, keys: tuple[str, ...]) -> None:
        """A vendor request of ``tenant`` was answered: count its keys and the outcomes it reached."""
        name = tenant or ANONYMOUS
        with self._lock:
            counts = self._counts.get(name)
            if counts is None:
                if len(self._counts) >= MAX_TENANTS:
                    del self._counts[next(iter(self._counts))]
                counts = self._counts[name] = {}
            counts[keys] = counts.get(keys, 0) + 1
            pending = self._pending.pop(name, None) if tenant else None
            if pending:
                for key, n in pending.items():
                    counts[key] = counts.get(key, 0) + n

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """The counts of one tenant (``""``: unauthenticated), or of all tenants summed."""
        with self._lock:
            parts = [self._counts.get(tenant, {})] if tenant is not None else list(self._counts.values())
            grouped = [dict(part) for part in parts]
        total: dict[str, int] = {}
        for part in grouped:
            for keys, n in part.items():
                for key in keys:
                    total[key] = total.get(key, 0) + n
        return total

    def tenants(self) -> list[str]:
        with self._lock:
            return list(self._counts)

    def clear(self, tenant: str | None = None) -> None:
        with self._lock:
            if tenant is None:
                self._counts.clear()
                self._pending.clear()
            else:
                self._counts.pop(tenant, None)
                self._pending.pop(tenant, None)
