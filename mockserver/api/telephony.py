"""Agora telephony and phone numbers over HTTP: thin handlers and the
``{error_type, description}`` envelope (api-facts §2.9-2.10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from ..world.agora import Principal, Project
from ..world.errors import DomainError, ErrorCode
from .agora import AgoraFamily, retry_after
from .base import Exchange, json_response

__all__ = [
    "TelephonyFamily",
    "add_phone_number",
    "delete_phone_number",
    "get_call",
    "get_phone_number",
    "hangup_call",
    "list_calls",
    "list_phone_numbers",
    "start_call",
    "update_phone_number",
]

_ERRORS: dict[ErrorCode, tuple[int, str]] = {
    # Every validation failure but a malformed number is 422 (the documented status).
    ErrorCode.MALFORMED_JSON: (422, "unprocessable_content"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (422, "unprocessable_content"),
    ErrorCode.MISSING_FIELD: (422, "unprocessable_content"),
    ErrorCode.INVALID_FIELD: (422, "unprocessable_content"),
    ErrorCode.INVALID: (422, "unprocessable_content"),
    ErrorCode.CONCURRENCY_LIMIT: (422, "unprocessable_content"),
    ErrorCode.INVALID_PHONE_FORMAT: (400, "invalid_phone_format"),
    ErrorCode.UNAUTHORIZED: (401, "unauthorized"),
    ErrorCode.MISSING_AUTH: (401, "unauthorized"),
    ErrorCode.FORBIDDEN: (401, "unauthorized"),
    ErrorCode.NOT_FOUND: (404, "not_found"),
    ErrorCode.ROUTE_NOT_FOUND: (404, "not_found"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "method_not_allowed"),
    ErrorCode.CONFLICT: (409, "conflict"),
    ErrorCode.PHONE_NUMBER_EXISTS: (409, "phone_number_exists"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "payload_too_large"),
    ErrorCode.INTERNAL: (500, "internal_server_error"),
    # Statuses fault rules can inject.
    ErrorCode.UNPROCESSABLE: (422, "unprocessable_content"),
    ErrorCode.RATE_LIMITED: (429, "rate_limited"),
    ErrorCode.BAD_GATEWAY: (502, "bad_gateway"),
    ErrorCode.UNAVAILABLE: (503, "service_unavailable"),
    ErrorCode.TIMEOUT: (504, "gateway_timeout"),
    # Codes of the other families and of the guard (which sets the HTTP status it means).
    ErrorCode.AGENT_NOT_FOUND: (404, "not_found"),
    ErrorCode.NO_ACTIVE_ROOMS: (404, "not_found"),
    ErrorCode.INVALID_FIXTURE: (422, "unprocessable_content"),
    ErrorCode.URI_TOO_LONG: (422, "unprocessable_content"),
    ErrorCode.HEADER_TOO_LARGE: (422, "unprocessable_content"),
    ErrorCode.MISDIRECTED_REQUEST: (422, "unprocessable_content"),
}


class TelephonyFamily(AgoraFamily):
    """Agora's credentials and projects, the telephony envelope ``{error_type, description}``."""

    name = "telephony"

    def error_tables(self) -> Mapping[str, Mapping[ErrorCode, object]]:
        return {"telephony": _ERRORS}

    def render(self, error: DomainError, ex: Exchange | None) -> Response:
        status, error_type = _ERRORS[error.code]
        status = error.details.get("fault_status", status)  # an injected fault chooses its status
        return json_response({"error_type": error_type, "description": error.message}, status, retry_after(error))


def _principal(ex: Exchange) -> Principal:
    principal: Principal = ex.principal
    return principal


def _project(ex: Exchange) -> Project:
    project: Project = ex.project
    return project


# -- calls ---------------------------------------------------------------------------------------


def list_calls(ex: Exchange) -> Response:
    """GET …/projects/{appid}/call"""
    calls, cursor, total = ex.world.telephony.list_calls(_project(ex), ex.query)
    items = [c.to_dict(with_reason=False) for c in calls]
    return json_response(
        {"data": {"count": len(items), "list": items}, "meta": {"cursor": cursor, "total": total}, "status": "ok"}
    )


def start_call(ex: Exchange) -> Response:
    """POST …/projects/{appid}/call"""
    try:
        placed = ex.world.telephony.start_call(_principal(ex), _project(ex), ex.body)
    except DomainError as error:
        if error.code == "conflict":  # a name or uid in use: the call API documents no 409
            raise DomainError(ErrorCode.INVALID, error.message) from None
        raise
    return json_response({"agent_id": placed.agent.agent_id})


def get_call(ex: Exchange) -> Response:
    """GET …/projects/{appid}/calls/{agent_id}"""
    return json_response(ex.world.telephony.get_call(_project(ex), ex.path["agent_id"]).to_dict())


def hangup_call(ex: Exchange) -> Response:
    """POST …/projects/{appid}/calls/{agent_id}/hangup: ends the call and its agent."""
    ex.world.telephony.hangup_call(_project(ex), ex.path["agent_id"])
    return json_response({})


# -- phone numbers (account level) ---------------------------------------------------------------


def list_phone_numbers(ex: Exchange) -> Response:
    """GET /v2/phone-numbers: a bare array."""
    numbers = ex.world.telephony.list_phone_numbers(_principal(ex).customer)
    return json_response([n.to_dict() for n in numbers])


def add_phone_number(ex: Exchange) -> Response:
    """POST /v2/phone-numbers: 201."""
    record = ex.world.telephony.add_phone_number(_principal(ex).customer, ex.body)
    return json_response(record.to_dict(), 201)


def get_phone_number(ex: Exchange) -> Response:
    """GET /v2/phone-numbers/{phone_number} (``+`` or ``%2B``)."""
    record = ex.world.telephony.get_phone_number(_principal(ex).customer, ex.path["phone_number"])
    return json_response(record.to_dict())


def update_phone_number(ex: Exchange) -> Response:
    """PATCH /v2/phone-numbers/{phone_number}"""
    body: dict[str, Any] = ex.body or {}
    record = ex.world.telephony.update_phone_number(_principal(ex).customer, ex.path["phone_number"], body)
    return json_response(record.to_dict())


def delete_phone_number(ex: Exchange) -> Response:
    """DELETE /v2/phone-numbers/{phone_number}: 204, no body."""
    ex.world.telephony.delete_phone_number(_principal(ex).customer, ex.path["phone_number"])
    return Response(status_code=204)
