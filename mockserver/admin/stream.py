"""The control plane's event stream: Server-Sent Events of the inbox, replayed then live."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
from starlette.responses import Response

from ..api.base import Exchange
from ..world.inbox import Event, Inbox

__all__ = ["SSE_BUFFER", "EventFeed", "close_streams", "stream_events"]

SSE_BUFFER = 1000  # events one stream may hold for a client that does not read
SHUTDOWN_GRACE = 1.0  # seconds a stream has to end on its own at shutdown before it is cancelled

_STOP: Any = object()  # queued by ``EventFeed.stop``: the stream ends cleanly


def close_streams(app: Any) -> None:
    """Ask every open event stream of ``app`` to end (the server calls it as it shuts down)."""
    for event in list(getattr(app.state, "open_streams", ())):
        event.set()


class EventFeed:
    """One subscriber's view of the inbox: replay after ``last_id``, then live events, bounded.

    Events are recorded in whatever thread touches the world; the feed's listener hands them to
    the feed's event loop without blocking. When more than ``buffer`` events wait (the client does
    not read), the feed drops them, yields one ``None`` (overflow) and ends: memory stays bounded
    and the client resumes from its Last-Event-ID.
    """

    def __init__(self, inbox: Inbox, filters: dict[str, Any], last_id: int | None, buffer: int = SSE_BUFFER) -> None:
        self.inbox = inbox
        self.filters = filters
        self.last_id = last_id
        self.buffer = buffer
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=buffer)
        self.overflowed = False
        # Subscribe before replaying, so nothing recorded in between is lost (duplicates are skipped).
        self.unsubscribe = inbox.subscribe(self._listener)

    def _listener(self, event: Event) -> None:
        if all(getattr(event, key) == value for key, value in self.filters.items()):
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self.loop.call_soon_threadsafe(self._offer, event)

    def stop(self) -> None:
        """End the feed after what it holds (from the feed's loop)."""
        if not self.overflowed:
            self.overflowed = True  # no more events are taken
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(_STOP)
                return
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(_STOP)

    def _offer(self, event: Event) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[Event | None]:
        try:
            sent = self.last_id or 0
            for event in self.inbox.query(since=self.last_id, **self.filters):
                sent = event.id
                yield event
            while True:
                item = await self.queue.get()
                if item is _STOP:
                    return
                if item is None:
                    yield None
                    return
                if item.id > sent:  # else: already replayed
                    sent = item.id
                    yield item
        finally:
            self.unsubscribe()


async def stream_events(ex: Exchange) -> Response:
    """Server-Sent Events of the inbox: replay after Last-Event-ID, then live, never blocking the mock."""
    filters: dict[str, Any] = {k: ex.query[k] for k in ("tenant", "vendor", "agent", "room", "kind") if k in ex.query}
    header = ex.request.headers.get("last-event-id", "")
    last_id = int(header) if header.isdigit() else ex.query.get("last_event_id")
    feed = EventFeed(ex.world.inbox, filters, last_id)
    # Set when the server shuts down (``close_streams``, or sse-starlette's own signal watch): the
    # stream then ends like any response instead of being cancelled mid-body.
    shutdown = anyio.Event()
    state = ex.request.app.state if "app" in ex.request.scope else None
    streams: set[anyio.Event] | None = None
    if state is not None:
        if not hasattr(state, "open_streams"):
            state.open_streams = set()
        streams = state.open_streams
        streams.add(shutdown)

    async def stop_on_shutdown() -> None:
        await shutdown.wait()
        feed.stop()

    async def messages() -> AsyncIterator[dict[str, Any]]:
        watcher = asyncio.ensure_future(stop_on_shutdown())
        try:
            sent = last_id or 0
            async for event in feed:
                if event is None:
                    reason = f"more than {feed.buffer} events waiting; resume with Last-Event-ID"
                    yield {"event": "overflow", "data": orjson.dumps({"reason": reason, "last_id": sent}).decode()}
                    return
                sent = event.id
                yield {"event": "inbox", "id": str(event.id), "data": orjson.dumps(event.to_dict()).decode()}
        finally:
            watcher.cancel()
            if streams is not None:
                streams.discard(shutdown)

    # Here, not at import: sse-starlette is a good part of a start-up, and most runs open no stream.
    from sse_starlette.sse import EventSourceResponse

    return EventSourceResponse(
        messages(),
        ping=15,
        headers={"Cache-Control": "no-cache"},
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE,
    )
