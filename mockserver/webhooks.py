"""The webhook sender: delivers the world's notifications over HTTP, off the request path.

One daemon thread per world runs its own asyncio loop with an ``httpx.AsyncClient``, so a slow,
failing or unreachable receiver never slows or fails a vendor API call: the API only queues a
notification (``WebhookWorld``, bounded) and wakes the loop. Every notification is sent by a task of
its own, so one receiver that hangs holds up nobody else.

The world is lazy (it replays scheduled events when it is read), but webhooks must fire when things
happen: while a webhook is configured, the loop ticks every ``TICK_S`` of real time, and at once
after the clock is frozen, advanced or resumed, and the world replays what fell due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from .world import World
from .world.webhooks import Attempt, Notification

__all__ = ["TICK_S", "WebhookSender", "attach"]

TICK_S = 0.1
CONCURRENCY = 32  # requests in flight at once, across receivers
if TYPE_CHECKING:
    import httpx

log = logging.getLogger("mockserver.webhooks")


class WebhookSender:
    """Delivers ``world.webhooks``'s notifications; started by the first webhook configured."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._started = threading.Lock()
        self._stopping = False
        self._wake_pending = False
        world.webhooks.wake = self.wake
        world.webhooks.activate = self.start
        world.clock.subscribe(self.wake)

    def start(self) -> None:
        """Start the delivery thread (once; later calls do nothing)."""
        with self._started:
            if self._thread is not None:
                return
            ready = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(ready,), name="mockserver-webhooks", daemon=True)
            self._thread.start()
            ready.wait(10)

    def wake(self) -> None:
        """Ask the loop to tick and send what is due now (from any thread; never blocks).

        Wake-ups are coalesced: each one writes to the loop's self-pipe, which costs the calling
        thread a GIL hand-over, so a burst of API requests asks once until the loop has woken.
        """
        loop = self._loop
        if loop is None or self._wake_pending:
            return
        self._wake_pending = True
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._woken)

    def _woken(self) -> None:
        self._wake_pending = False
        if self._wakeup is not None:
            self._wakeup.set()

    def stop(self) -> None:
        self._stopping = True
        self.wake()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        ready.set()
        limit = asyncio.Semaphore(CONCURRENCY)
        tasks: set[asyncio.Task[None]] = set()
        # No kept-alive connections: the thread outlives servers and receivers that come and go
        # (tests), and an idle pooled socket would outlive them too.
        import httpx  # here, not at import: serving without webhooks never pays for it

        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=limits) as client:
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), TICK_S)
                self._wakeup.clear()
                hooks = self.world.webhooks
                try:
                    if hooks.active:
                        hooks.tick()
                    due = hooks.due(self.world.clock.now())
                except Exception:  # a bug here must not end deliveries for good
                    log.exception("webhook tick failed")
                    continue
                for notification in due:
                    task = asyncio.create_task(self._send(client, limit, notification))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            for task in tasks:
                task.cancel()

    async def _send(self, client: httpx.AsyncClient, limit: asyncio.Semaphore, n: Notification) -> None:
        import httpx

        hooks = self.world.webhooks
        async with limit:
            at = self.world.clock.now()
            body, headers = n.render(at)
            number = len(n.attempts) + 1
            status: int | None = None
            error: str | None = None
            json_reply = False
            started = time.perf_counter()
            try:
                reply = await client.post(n.url, content=body, headers=headers, timeout=hooks.settings.timeout)
                status = reply.status_code
                try:
                    reply.json()
                    json_reply = True
                except ValueError:
                    pass
            except httpx.TimeoutException:
                error = f"no answer within {hooks.settings.timeout:g} s"
            except httpx.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
            except Exception as exc:  # never leave a notification "sending" for ever, whatever went wrong
                log.exception("webhook attempt to %s failed unexpectedly", n.url)
                error = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
            duration = (time.perf_counter() - started) * 1000
        hooks.finish(n, Attempt(number, at, status, error, duration, json_reply))


def attach(world: World) -> WebhookSender:
    """Give ``world`` a sender (idle until a webhook is configured); one per world."""
    sender: WebhookSender | None = getattr(world, "_webhook_sender", None)
    if sender is None:
        sender = WebhookSender(world)
        world._webhook_sender = sender  # type: ignore[attr-defined]
        if world.webhooks.active:  # fixtures configured one already
            sender.start()
    return sender
