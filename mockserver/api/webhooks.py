"""bitHuman's account webhooks API (``/v1/webhooks``): thin handlers named after the operationIds.

Authentication and errors are the bitHuman family's (``api/bithuman.py``); the webhooks live in
``world/webhooks.py``. Success bodies are ``{"success": true, "data": ...}`` (facts §6.1).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from starlette.responses import Response

from ..world.webhooks import Notification
from .base import Exchange, json_response

__all__ = [
    "bithuman_create_webhook",
    "bithuman_delete_webhook",
    "bithuman_get_webhook",
    "bithuman_list_webhook_deliveries",
    "bithuman_list_webhooks",
    "bithuman_test_webhook",
]


def bithuman_create_webhook(ex: Exchange) -> Response:
    """POST /v1/webhooks: the secret is in this answer only."""
    hook = ex.world.webhooks.bithuman_create_webhook(ex.principal.id, ex.body)
    return json_response({"success": True, "data": hook.to_dict(with_secret=True)})


def bithuman_list_webhooks(ex: Exchange) -> Response:
    hooks = ex.world.webhooks.bithuman_list_webhooks(ex.principal.id)
    return json_response({"success": True, "data": [h.to_dict() for h in hooks]})


def bithuman_get_webhook(ex: Exchange) -> Response:
    hook = ex.world.webhooks.bithuman_get_webhook(ex.principal.id, ex.path["webhook_id"])
    return json_response({"success": True, "data": hook.to_dict()})


def bithuman_delete_webhook(ex: Exchange) -> Response:
    ex.world.webhooks.bithuman_delete_webhook(ex.principal.id, ex.path["webhook_id"])
    return json_response({"success": True, "deleted": True})


async def bithuman_test_webhook(ex: Exchange) -> Response:
    """POST /v1/webhooks/{id}/test: send a ``ping`` and answer what came of it.

    The ping goes through the sender like any event (its thread, its timeout); this request waits
    for that one attempt, and only this request waits.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Notification] = loop.create_future()

    def settle(n: Notification) -> None:
        if not done.done():
            done.set_result(n)

    def finished(n: Notification) -> None:  # in the sender's thread
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(settle, n)

    hooks = ex.world.webhooks
    n = hooks.bithuman_test_webhook(ex.principal.id, ex.path["webhook_id"], finished)
    await asyncio.wait_for(done, hooks.settings.timeout + 5)
    last = n.attempts[-1]
    data = {"delivered": n.state == "delivered", "status_code": last.status, "attempts": len(n.attempts)}
    return json_response({"success": True, "data": data})


def bithuman_list_webhook_deliveries(ex: Exchange) -> Response:
    found = ex.world.webhooks.bithuman_list_webhook_deliveries(ex.principal.id, ex.path["webhook_id"])
    return json_response({"success": True, "data": [_delivery(n) for n in found]})


def _delivery(n: Notification) -> dict[str, object]:
    last = n.attempts[-1] if n.attempts else None
    created = n.to_dict()["created"]
    return {
        "id": n.notice_id,
        "event_type": n.event,
        "status_code": last.status if last else None,
        "attempts": len(n.attempts),
        "delivered": n.state == "delivered",
        "created_at": _iso(created),
        "updated_at": _iso(last.at if last else created),
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
