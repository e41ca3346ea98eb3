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
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ..world import World
from ..world.bithuman import Account, Delivery
from ..world.errors import DomainError, ErrorCode
from ..world.ratelimit import Admission
from .base import Exchange, Family, json_response

__all__ = ["BitHumanFamily", "bithuman_add_context", "bithuman_speak"]

# code -> (status, vendor code, message) per dialect; ``{...}`` are filled from the error details.
# A message of ``None`` keeps the one the error carries (it already says what was wrong).
_CURRENT: dict[ErrorCode, tuple[int, str, str | None]] = {
    ErrorCode.MISSING_AUTH: (401, "MISSING_AUTH", "Missing api-secret header"),
    ErrorCode.UNAUTHORIZED: (401, "UNAUTHORIZED", "Invalid API secret"),
    ErrorCode.AGENT_NOT_FOUND: (404, "NOT_FOUND", "Agent not found for code: {agent_code}"),
    ErrorCode.NO_ACTIVE_ROOMS: (404, "NOT_FOUND", None),
    ErrorCode.MISSING_FIELD: (400, "MISSING_PARAM", None),
    ErrorCode.INVALID_FIELD: (400, "VALIDATION_ERROR", None),
    ErrorCode.INVALID: (400, "VALIDATION_ERROR", None),
    ErrorCode.MALFORMED_JSON: (400, "VALIDATION_ERROR", None),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (400, "VALIDATION_ERROR", None),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "PAYLOAD_TOO_LARGE", None),
    ErrorCode.ROUTE_NOT_FOUND: (404, "NOT_FOUND", None),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "METHOD_NOT_ALLOWED", None),
    ErrorCode.RATE_LIMITED: (429, "RATE_LIMITED", None),
    ErrorCode.INTERNAL: (500, "INTERNAL_ERROR", None),
    # Statuses fault rules can inject (BH-ERR codes).
    ErrorCode.FORBIDDEN: (403, "ACCOUNT_SUSPENDED", None),
    ErrorCode.NOT_FOUND: (404, "NOT_FOUND", None),
    ErrorCode.UNPROCESSABLE: (422, "VALIDATION_ERROR", None),
    ErrorCode.UNAVAILABLE: (503, "NO_AVAILABLE_WORKERS", None),
    ErrorCode.BAD_GATEWAY: (503, "NO_AVAILABLE_WORKERS", None),
    ErrorCode.TIMEOUT: (503, "NO_AVAILABLE_WORKERS", None),
    ErrorCode.CONCURRENCY_LIMIT: (503, "NO_AVAILABLE_WORKERS", None),
    # Codes of the other vendors and of the guard: bitHuman documents none of them, and answers any
    # request it cannot act on with a validation error (the guard sets the HTTP status it means).
    ErrorCode.CONFLICT: (400, "VALIDATION_ERROR", None),
    ErrorCode.PHONE_NUMBER_EXISTS: (400, "VALIDATION_ERROR", None),
    ErrorCode.INVALID_PHONE_FORMAT: (400, "VALIDATION_ERROR", None),
    ErrorCode.INVALID_FIXTURE: (400, "VALIDATION_ERROR", None),
    ErrorCode.URI_TOO_LONG: (400, "VALIDATION_ERROR", None),
    ErrorCode.HEADER_TOO_LARGE: (400, "VALIDATION_ERROR", None),
    ErrorCode.MISDIRECTED_REQUEST: (400, "VALIDATION_ERROR", None),
}
_LEGACY: dict[ErrorCode, tuple[int, str, str | None]] = {
    **_CURRENT,
    ErrorCode.MISSING_AUTH: (401, "UNAUTHORIZED", "Invalid api-secret"),
    ErrorCode.UNAUTHORIZED: (401, "UNAUTHORIZED", "Invalid api-secret"),
    ErrorCode.AGENT_NOT_FOUND: (404, "AGENT_NOT_FOUND", "Agent with code '{agent_code}' not found"),
    ErrorCode.NO_ACTIVE_ROOMS: (404, "NO_ACTIVE_ROOMS", "No active sessions found for agent"),
    ErrorCode.MISSING_FIELD: (422, "VALIDATION_ERROR", None),
    ErrorCode.INVALID_FIELD: (422, "VALIDATION_ERROR", None),
    ErrorCode.INVALID: (422, "VALIDATION_ERROR", None),
    ErrorCode.MALFORMED_JSON: (422, "VALIDATION_ERROR", None),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (422, "VALIDATION_ERROR", None),
    ErrorCode.NOT_FOUND: (404, "AGENT_NOT_FOUND", None),
    ErrorCode.CONFLICT: (422, "VALIDATION_ERROR", None),
    ErrorCode.PHONE_NUMBER_EXISTS: (422, "VALIDATION_ERROR", None),
    ErrorCode.INVALID_PHONE_FORMAT: (422, "VALIDATION_ERROR", None),
    ErrorCode.INVALID_FIXTURE: (422, "VALIDATION_ERROR", None),
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

    def authenticate(self, ex: Exchange) -> None:
        ex.credential = ex.world.bithuman.credential_of(ex.header(b"api-secret"))
        account = ex.principal = ex.world.bithuman.account_for(ex.credential)
        admission = ex.world.bithuman.admit(account)
        if admission is not None:
            ex.headers.update(_limit_headers(admission))

    def finish(self, ex: Exchange | None, response: Response) -> Response:
        # Every response carries the request id the contract documents, a refusal made before any
        # operation was chosen too (unknown route, wrong method, the guard).
        response.raw_headers.append((b"x-request-id", b"req_%012x" % next(self._request_ids)))
        return Family.finish(self, ex, response)

    def reauthenticate(self, ex: Exchange) -> None:
        # The rate-limit token was taken once, by ``authenticate``.
        ex.principal = ex.world.bithuman.account_for(ex.credential)

    def tenant(self, ex: Exchange) -> str | None:
        return ex.principal.id if ex.principal is not None else None

    def error_tables(self) -> Mapping[str, Mapping[ErrorCode, object]]:
        return _TABLES

    def render(self, error: DomainError, ex: Exchange | None) -> Response:
        account: Account | None = ex.principal if ex is not None else None
        # Before authentication the agent code in the path may still name the dialect; on an
        # unknown route the server's default speaks.
        agent_code = ex.path.get("agent_code") if ex is not None else None
        dialect = self.world.bithuman.dialect_of(account, agent_code)
        status, code, template = _TABLES[dialect][error.code]
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


def _success(ex: Exchange, delivery: Delivery) -> Response:
    account: Account = ex.principal
    dialect = account.dialect or ex.world.bithuman.default_dialect  # dialect_of, for a known account
    if dialect == "legacy":
        data: dict[str, Any] = {"agent_code": delivery.agent_code}
        if ex.operation.operation_id == "bithuman_add_context":
            data["context_type"] = delivery.context_type
        data["delivered_to_rooms"] = len(delivery.rooms)
        data["timestamp"] = _iso(delivery.time)
        message = _SUCCESS_MESSAGE[ex.operation.operation_id]
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


def bithuman_speak(ex: Exchange) -> Response:
    """POST /v1/agent/{agent_code}/speak"""
    body = ex.body
    delivery = ex.world.bithuman.bithuman_speak(
        ex.principal, ex.path["agent_code"], body["message"], body.get("room_id")
    )
    return _success(ex, delivery)


def bithuman_add_context(ex: Exchange) -> Response:
    """POST /v1/agent/{agent_code}/add-context"""
    body = ex.body
    delivery = ex.world.bithuman.bithuman_add_context(
        ex.principal, ex.path["agent_code"], body["context"], body.get("type"), body.get("room_id")
    )
    return _success(ex, delivery)
