"""Waiting for webhook deliveries on conditions (every attempt is an inbox event), never on time."""

from __future__ import annotations

import threading
from typing import Any

from mockserver.world import World
from mockserver.world.webhooks import Notification


def finished(world: World, tenant: str, event: int, *, attempts: int = 1, timeout: float = 10) -> Notification:
    """The first notification of ``event`` for ``tenant``, once ``attempts`` attempts are recorded
    and it is not in flight."""
    hooks = world.webhooks
    done = threading.Event()

    def check(*_: Any) -> None:
        found = [n for n in hooks.list(tenant=tenant, event=event) if len(n.attempts) >= attempts]
        if found and found[0].state != "sending":
            done.set()

    unsubscribe = world.inbox.subscribe(check)
    try:
        check()
        assert done.wait(timeout), ([n.to_dict() for n in hooks.list(tenant=tenant)], _sender_stacks())
    finally:
        unsubscribe()
    return hooks.list(tenant=tenant, event=event)[0]


def _sender_stacks() -> str:
    """Where every webhook sender thread is, for a failure message."""
    import sys
    import traceback

    frames = sys._current_frames()
    out = []
    for thread in threading.enumerate():
        if thread.name.startswith("mockserver-webhooks") and thread.ident in frames:
            out.append(f"--- {thread.name}\n" + "".join(traceback.format_stack(frames[thread.ident])))
    return "\n".join(out) or "no sender thread"
