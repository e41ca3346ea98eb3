"""Control-plane handlers for vendor webhooks, one per operationId of ``admin/openapi.yaml``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.responses import Response

from ..api.base import Exchange, json_response
from ..world.webhooks import Notification, report_agora_error

# The Console's codes for a check that got no valid answer (webhooks-facts §4).
CHECK_TIMEOUT, CHECK_UNREACHABLE, CHECK_CERTIFICATE = 590, 591, 592

__all__ = [
    "check_agora_webhook",
    "delete_agora_webhook",
    "delete_bithuman_webhook",
    "get_agora_webhook",
    "get_bithuman_webhook",
    "get_webhooks",
    "list_webhook_deliveries",
    "report_agora_agent_error",
    "resend_webhook_delivery",
    "set_agora_webhook",
    "set_bithuman_webhook",
    "update_webhook_settings",
]


def _overview(ex: Exchange) -> dict[str, Any]:
    hooks = ex.world.webhooks
    return {
        "settings": hooks.settings.to_dict(),
        "stats": hooks.stats(),
        "agora": [s.to_dict() for s in hooks.subscriptions.values()],
        "bithuman": [s.to_dict() for s in hooks.bithuman.values()],
    }


def get_webhooks(ex: Exchange) -> Response:
    return json_response(_overview(ex))


def update_webhook_settings(ex: Exchange) -> Response:
    ex.world.webhooks.update_settings(ex.body)
    return json_response(_overview(ex))


def list_webhook_deliveries(ex: Exchange) -> Response:
    query = ex.query
    found = ex.world.webhooks.list(tenant=query.get("tenant"), event=query.get("event"), state=query.get("state"))
    limit = query.get("limit")
    found = found[-limit:] if limit else found
    return json_response(
        {"count": len(found), "stats": ex.world.webhooks.stats(), "deliveries": [n.to_dict() for n in found]}
    )


def resend_webhook_delivery(ex: Exchange) -> Response:
    return json_response(ex.world.webhooks.resend(int(ex.path["delivery_id"])).to_dict(), 202)


def set_agora_webhook(ex: Exchange) -> Response:
    body = ex.body
    sub = ex.world.webhooks.set_agora(ex.path["appid"], body["url"], body["secret"], body.get("events"))
    return json_response(sub.to_dict())


def get_agora_webhook(ex: Exchange) -> Response:
    return json_response(ex.world.webhooks.get_agora(ex.path["appid"]).to_dict())


def delete_agora_webhook(ex: Exchange) -> Response:
    ex.world.webhooks.delete_agora(ex.path["appid"])
    return Response(status_code=204)


def report_agora_agent_error(ex: Exchange) -> Response:
    agent = report_agora_error(ex.world, ex.path["appid"], ex.path["agent_id"], ex.body)
    return json_response({"agent_id": agent.agent_id, "status": agent.conversation.status})


def set_bithuman_webhook(ex: Exchange) -> Response:
    body = ex.body
    sub = ex.world.webhooks.set_bithuman(ex.path["account_id"], body["url"], body.get("headers"), body.get("events"))
    return json_response(sub.to_dict())


def get_bithuman_webhook(ex: Exchange) -> Response:
    return json_response(ex.world.webhooks.get_bithuman(ex.path["account_id"]).to_dict())


def delete_bithuman_webhook(ex: Exchange) -> Response:
    ex.world.webhooks.delete_bithuman(ex.path["account_id"])
    return Response(status_code=204)


async def check_agora_webhook(ex: Exchange) -> Response:
    """Send one test notification per subscribed event and report each as the Console does."""
    loop = asyncio.get_running_loop()
    hooks = ex.world.webhooks
    pending: set[int] = set()
    all_done = asyncio.Event()

    def settle(n: Notification) -> None:
        pending.discard(n.id)
        if not pending:
            all_done.set()

    def finished(n: Notification) -> None:  # in the sender's thread
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, n)

    sent = hooks.check_agora(ex.path["appid"], finished)
    pending.update(n.id for n in sent)
    if pending:
        # A sender busy with other receivers may not get to these in time: they report as unanswered.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_done.wait(), hooks.settings.timeout + 5)
    results = [_check_result(n) for n in sent]
    return json_response({"ok": all(r["ok"] for r in results), "results": results})


def _check_result(n: Notification) -> dict[str, Any]:
    if not n.attempts:
        return {"event": n.event, "code": CHECK_TIMEOUT, "ok": False, "json_reply": False, "error": "not sent in time"}
    attempt = n.attempts[-1]
    code = attempt.status
    if code is None:
        error = attempt.error or ""
        if error.startswith("no answer"):
            code = CHECK_TIMEOUT
        elif "SSL" in error or "certificate" in error.lower():
            code = CHECK_CERTIFICATE
        else:
            code = CHECK_UNREACHABLE
    return {
        "event": n.event,
        "code": code,
        "ok": attempt.status == 200 and attempt.json_reply,  # the Console also wants a JSON body
        "json_reply": attempt.json_reply,
        "error": attempt.error,
    }
