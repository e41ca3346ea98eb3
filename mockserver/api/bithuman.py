"""bitHuman Agent Context API over HTTP: two thin handlers and the one place errors are rendered.

Three dialects, one per generation of the vendor's docs (api-facts §1.4-1.5), chosen per account
or per server:
- ``current`` (bitHuman's OpenAPI file, Errors and Agents pages): flat success body with the room
  lists; errors ``{error:{code,message,httpStatus},status,status_code}`` with
  ``MISSING_AUTH``/``UNAUTHORIZED`` 401, ``NOT_FOUND`` 404 (two messages), 400 validation.
- ``transitional`` (the Agent Context page with the status/code table): flat success body
  ``{agent_code, context_type, delivered_to_rooms}``; errors ``{success:false,error,message}`` with
  ``UNAUTHORIZED`` 401 (missing or invalid), ``AGENT_NOT_FOUND``/``NO_ACTIVE_ROOMS`` 404 and 422
  ``VALIDATION_ERROR``.
- ``legacy`` (the imaginex-era page): ``{success,message,data{...,timestamp}}``; errors as in
  ``transitional``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ..world import World
from ..world.bithuman import Account, Delivery
from ..world.errors import DomainError
from ..world.ratelimit import Admission
from .base import Call, Family, json_response

__all__ = ["BitHumanFamily", "bithuman_add_context", "bithuman_speak"]

# code -> (status, vendor code, message) per dialect; ``{...}`` are filled from the error details.
# A message of ``None`` keeps the one the error carries (it already says what was wrong).
_CURRENT: dict[str, tuple[int, str, str | None]] = {
    "missing_auth": (401, "MISSING_AUTH", "Missing api-secret header"),
    "unauthorized": (401, "UNAUTHORIZED", "Invalid API secret"),
    "agent_not_found": (404, "NOT_FOUND", "Agent not found for code: {agent_code}"),
    "no_active_rooms": (404, "NOT_FOUND", None),
    "missing_field": (400, "MISSING_PARAM", None),
    "invalid_field": (400, "VALIDATION_ERROR", None),
    "invalid": (400, "VALIDATION_ERROR", None),
    "malformed_json": (400, "VALIDATION_ERROR", None),
    "unsupported_media_type": (400, "VALIDATION_ERROR", None),
    "payload_too_large": (413, "PAYLOAD_TOO_LARGE", None),
    "route_not_found": (404, "NOT_FOUND", None),
    "method_not_allowed": (405, "METHOD_NOT_ALLOWED", None),
    "rate_limited": (429, "RATE_LIMITED", None),
    "internal": (500, "INTERNAL_ERROR", None),
    # Statuses fault rules can inject (BH-ERR codes).
    "forbidden": (403, "ACCOUNT_SUSPENDED", None),
    "not_found": (404, "NOT_FOUND", None),
    "unprocessable": (422, "VALIDATION_ERROR", None),
    "unavailable": (503, "NO_AVAILABLE_WORKERS", None),
    "bad_gateway": (503, "NO_AVAILABLE_WORKERS", None),
    "timeout": (503, "NO_AVAILABLE_WORKERS", None),
}
_LEGACY: dict[str, tuple[int, str, str | None]] = {
    **_CURRENT,
    "missing_auth": (401, "UNAUTHORIZED", "Invalid api-secret"),
    "unauthorized": (401, "UNAUTHORIZED", "Invalid api-secret"),
    "agent_not_found": (404, "AGENT_NOT_FOUND", "Agent with code '{agent_code}' not found"),
    "no_active_rooms": (404, "NO_ACTIVE_ROOMS", "No active sessions found for agent"),
    "missing_field": (422, "VALIDATION_ERROR", None),
    "invalid_field": (422, "VALIDATION_ERROR", None),
    "invalid": (422, "VALIDATION_ERROR", None),
    "malformed_json": (422, "VALIDATION_ERROR", None),
    "unsupported_media_type": (422, "VALIDATION_ERROR", None),
    "not_found": (404, "AGENT_NOT_FOUND", None),
}
# The table page documents the legacy codes and statuses; only its success bodies are flat.
_TABLES = {"current": _CURRENT, "transitional": _LEGACY, "legacy": _LEGACY}

_SUCCESS_MESSAGE = {
    "bithuman_speak": "Speech triggered successfully",
    "bithuman_add_context": "Context added successfully",
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _limit_headers(admission: Admission) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(admission.limit),
        "X-RateLimit-Remaining": str(admission.remaining),
        "X-RateLimit-Reset": str(admission.reset_at),
    }


class BitHumanFamily(Family):
    """Authenticates ``api-secret``, meters the account, renders every dialect."""

    name = "bithuman"

    def __init__(self, world: World) -> None:
        self.world = world
        self._request_ids = itertools.count(1)

    def authenticate(self, call: Call) -> None:
        call.headers["X-Request-Id"] = f"req_{next(self._request_ids):012x}"
        account = call.world.bithuman.authenticate(call.request.headers.get("api-secret"))
        call.principal = account
        admission = call.world.bithuman.admit(account)
        if admission is not None:
            call.headers.update(_limit_headers(admission))

    def reauthenticate(self, call: Call) -> None:
        # The rate-limit token was taken once, by ``authenticate``.
        call.principal = call.world.bithuman.authenticate(call.request.headers.get("api-secret"))

    def tenant(self, call: Call) -> str | None:
        return call.principal.id if call.principal is not None else None

    def render(self, error: DomainError, call: Call | None) -> Response:
        account: Account | None = call.principal if call is not None else None
        # Before authentication the agent code in the path may still name the dialect; on an
        # unknown route the server's default speaks.
        agent_code = call.path.get("agent_code") if call is not None else None
        dialect = self.world.bithuman.dialect_of(account, agent_code)
        status, code, template = _TABLES[dialect].get(error.code, _CURRENT["internal"])
        status = error.details.get("fault_status", status)  # an injected fault chooses its status
        message = template.format(**error.details) if template else error.message
        headers: dict[str, str] = {}
        admission = error.details.get("admission")
        if isinstance(admission, Admission):
            headers = {**_limit_headers(admission), "Retry-After": str(admission.retry_after)}
        if dialect != "current":
            body: dict[str, Any] = {"success": False, "error": code, "message": message}
        else:
            body = {
                "error": {"code": code, "message": message, "httpStatus": status},
                "status": "error",
                "status_code": status,
            }
        return json_response(body, status, headers)


def _success(call: Call, delivery: Delivery) -> Response:
    account: Account = call.principal
    dialect = call.world.bithuman.dialect_of(account)
    if dialect == "legacy":
        data: dict[str, Any] = {"agent_code": delivery.agent_code}
        if call.operation.operation_id == "bithuman_add_context":
            data["context_type"] = delivery.context_type
        data["delivered_to_rooms"] = len(delivery.rooms)
        data["timestamp"] = _iso(delivery.time)
        message = _SUCCESS_MESSAGE[call.operation.operation_id]
        return json_response({"success": True, "message": message, "data": data})
    if dialect == "transitional":
        # Exactly the page's example body: no room lists yet.
        return json_response(
            {
                "agent_code": delivery.agent_code,
                "context_type": delivery.context_type,
                "delivered_to_rooms": len(delivery.rooms),
            }
        )
    return json_response(
        {
            "agent_code": delivery.agent_code,
            "context_type": delivery.context_type,
            "delivered_to_rooms": len(delivery.rooms),
            "rooms": delivery.rooms,
            "rooms_skipped": [],
            "rooms_failed": [],
        }
    )


def bithuman_speak(call: Call) -> Response:
    """POST /v1/agent/{agent_code}/speak"""
    body = call.body
    delivery = call.world.bithuman.bithuman_speak(
        call.principal, call.path["agent_code"], body["message"], body.get("room_id")
    )
    return _success(call, delivery)


def bithuman_add_context(call: Call) -> Response:
    """POST /v1/agent/{agent_code}/add-context"""
    body = call.body
    delivery = call.world.bithuman.bithuman_add_context(
        call.principal, call.path["agent_code"], body["context"], body.get("type"), body.get("room_id")
    )
    return _success(call, delivery)
