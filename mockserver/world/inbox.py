"""The event inbox: what each agent was told to say or know, and what came of it.

Bounded per tenant (a ring buffer) and in all (tenants come and go: past the total, the tenant
written to least recently loses its oldest events first), so a long-running mock never grows
without limit. Event ids are global and increasing, so ``since`` works across tenants and a reader
pages through them without a gap: oldest first after ``since``, at most ``limit`` at a time.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["DEFAULT_INBOX_LIMIT", "DEFAULT_INBOX_TOTAL", "Event", "Inbox"]

DEFAULT_INBOX_LIMIT = 1000
DEFAULT_INBOX_TOTAL = 100_000


@dataclass(slots=True)
class Event:
    """One thing an agent was told, or one change it went through.

    ``kind`` is ``speech`` or ``context`` for bitHuman deliveries; ``outcome`` says what came of it
    (``delivered`` for bitHuman, whose agents speak outside the mock).
    """

    id: int
    time: float
    vendor: str
    tenant: str
    agent: str
    room: str | None
    kind: str
    text: str
    operation: str
    outcome: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "at": datetime.fromtimestamp(self.time, UTC).isoformat().replace("+00:00", "Z"),
            "vendor": self.vendor,
            "tenant": self.tenant,
            "agent": self.agent,
            "room": self.room,
            "kind": self.kind,
            "text": self.text,
            "operation": self.operation,
            "outcome": self.outcome,
            "data": self.data,
        }


class Inbox:
    """Per-tenant ring buffers of events.

    Args:
        limit: how many events each tenant keeps; older ones fall off.
        total: how many events all tenants keep together (at least ``limit``).
    """

    def __init__(self, limit: int = DEFAULT_INBOX_LIMIT, total: int = DEFAULT_INBOX_TOTAL) -> None:
        if limit < 1:
            raise ValueError("the inbox limit must be at least 1")
        self.limit = limit
        self.total = max(total, limit)
        # Ordered by last write (a written tenant moves to the end), so the first is the stalest.
        self._by_tenant: dict[str, deque[Event]] = {}
        self._count = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[Event], None], ...] = ()  # copied on write: safe to iterate

    def record(
        self,
        *,
        time: float,
        vendor: str,
        tenant: str,
        agent: str,
        room: str | None,
        kind: str,
        text: str,
        operation: str,
        outcome: str,
        data: dict[str, Any] | None = None,
    ) -> Event:
        """Append an event (the ``Event`` fields but ``id``)."""
        with self._lock:
            # Positional: one event is recorded per delivery, and keywords cost more.
            event = Event(
                next(self._ids), time, vendor, tenant, agent, room, kind, text, operation, outcome, data or {}
            )
            buffer = self._by_tenant.pop(event.tenant, None)
            if buffer is None:
                buffer = deque(maxlen=self.limit)
            self._by_tenant[event.tenant] = buffer
            if len(buffer) < self.limit:
                self._count += 1  # else the ring drops its oldest: the count stays
            buffer.append(event)
            while self._count > self.total:
                stalest = next(iter(self._by_tenant))
                dropped_from = self._by_tenant[stalest]
                dropped_from.popleft()
                self._count -= 1
                if not dropped_from:
                    del self._by_tenant[stalest]
        for listener in self._listeners:
            listener(event)
        return event

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every new event (in the recording thread; it must not block).

        Returns a function that unsubscribes.
        """
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def query(
        self,
        *,
        tenant: str | None = None,
        vendor: str | None = None,
        agent: str | None = None,
        room: str | None = None,
        kind: str | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events in the order they happened, filtered; ``since`` is an exclusive event id.

        With ``limit`` and ``since``, the *oldest* ``limit`` events after ``since`` (a page: pass
        the last id as the next ``since``); with ``limit`` alone, the *latest* ``limit`` events.
        Both are in the order they happened. See ``page`` for whether more follow.
        """
        return self.page(tenant=tenant, vendor=vendor, agent=agent, room=room, kind=kind, since=since, limit=limit)[0]

    def page(
        self,
        *,
        tenant: str | None = None,
        vendor: str | None = None,
        agent: str | None = None,
        room: str | None = None,
        kind: str | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> tuple[list[Event], bool]:
        """``query``, and whether more matching events follow the page (after ``since`` only)."""
        with self._lock:
            if tenant is not None:
                sources: Iterable[Event] = list(self._by_tenant.get(tenant, ()))
            else:
                sources = sorted(itertools.chain.from_iterable(self._by_tenant.values()), key=lambda e: e.id)
        found = [
            e
            for e in sources
            if (vendor is None or e.vendor == vendor)
            and (agent is None or e.agent == agent)
            and (room is None or e.room == room)
            and (kind is None or e.kind == kind)
            and (since is None or e.id > since)
        ]
        if not limit:
            return found, False
        if since is None:
            return found[-limit:], False  # no cursor: the latest, as before paging existed
        return found[:limit], len(found) > limit

    def clear(self, tenant: str | None = None) -> int:
        """Forget the events of one tenant, or of all. Returns how many were dropped."""
        with self._lock:
            if tenant is None:
                dropped = self._count
                self._by_tenant.clear()
            else:
                dropped = len(self._by_tenant.pop(tenant, ()))
            self._count -= dropped
            return dropped

    def __len__(self) -> int:
        return self._count
