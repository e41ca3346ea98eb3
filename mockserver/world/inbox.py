"""The event inbox: what each agent was told to say or know, and what came of it.

Bounded per tenant (a ring buffer), so a long-running mock never grows without limit. Event ids
are global and increasing, so ``since`` works across tenants and a reader can resume where it was.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["DEFAULT_INBOX_LIMIT", "Event", "Inbox"]

DEFAULT_INBOX_LIMIT = 1000


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
    """

    def __init__(self, limit: int = DEFAULT_INBOX_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the inbox limit must be at least 1")
        self.limit = limit
        self._by_tenant: dict[str, deque[Event]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[Event], None], ...] = ()  # copied on write: safe to iterate

    def record(self, **fields: Any) -> Event:
        """Append an event; ``fields`` are the ``Event`` fields but ``id``."""
        with self._lock:
            event = Event(id=next(self._ids), **fields)
            buffer = self._by_tenant.get(event.tenant)
            if buffer is None:
                buffer = self._by_tenant[event.tenant] = deque(maxlen=self.limit)
            buffer.append(event)
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

        With ``limit``, the *latest* ``limit`` matching events are returned (still in order).
        """
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
        return found[-limit:] if limit else found

    def clear(self, tenant: str | None = None) -> int:
        """Forget the events of one tenant, or of all. Returns how many were dropped."""
        with self._lock:
            if tenant is None:
                dropped = sum(len(b) for b in self._by_tenant.values())
                self._by_tenant.clear()
            else:
                dropped = len(self._by_tenant.pop(tenant, ()))
            return dropped

    def __len__(self) -> int:
        with self._lock:
            return sum(len(b) for b in self._by_tenant.values())
