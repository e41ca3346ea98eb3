"""Agora Conversational AI Engine REST v2, agent operations: thin handlers and the
``{detail, reason}`` envelope (api-facts §2.2-2.8).

Every 2xx carries a JSON object, since the official SDK parses the body of every operation but
``leave`` (an empty 200 makes it raise).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from ..world import World
from ..world.agora import AgoraAgent, Principal, Project
from ..world.errors import DomainError, ErrorCode
from .base import Exchange, Family, json_response

__all__ = [
    "AgoraFamily",
    "get_agent",
    "get_agent_history",
    "get_agent_turns",
    "interrupt_agent",
    "list_agents",
    "speak_agent",
    "start_agent",
    "stop_agent",
    "think_agent",
    "update_agent",
]

# code -> (status, reason); the reason names are the SDK's AgentErrorResponse values (§2.8).
_ERRORS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.MALFORMED_JSON: (400, "InvalidRequestBody"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (400, "InvalidRequestBody"),
    ErrorCode.MISSING_FIELD: (400, "MissingRequiredField"),
    ErrorCode.INVALID_FIELD: (400, "InvalidFieldValue"),
    ErrorCode.INVALID: (400, "InvalidFieldValue"),
    # 401 has no documented reason; InvalidPermission is the nearest of the SDK's values.
    ErrorCode.UNAUTHORIZED: (401, "InvalidPermission"),
    ErrorCode.MISSING_AUTH: (401, "InvalidPermission"),
    ErrorCode.FORBIDDEN: (403, "InvalidPermission"),
    ErrorCode.NOT_FOUND: (404, "TaskNotFound"),
    # An unknown route has no documented reason; the pre-v2.7 catch-all is the least misleading.
    ErrorCode.ROUTE_NOT_FOUND: (404, "InvalidRequest"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "InvalidRequest"),
    ErrorCode.CONFLICT: (409, "TaskConflict"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "InvalidRequestBody"),
    ErrorCode.CONCURRENCY_LIMIT: (422, "ConcurrencyLimitExceeded"),
    ErrorCode.RATE_LIMITED: (429, "ResourceQuotaLimitExceeded"),
    ErrorCode.INTERNAL: (500, "InternalError"),
    # Statuses fault rules can inject (§2.8).
    ErrorCode.UNPROCESSABLE: (422, "ResourceQuotaLimitExceeded"),
    ErrorCode.BAD_GATEWAY: (502, "ServiceUnavailable"),
    ErrorCode.UNAVAILABLE: (503, "ServiceUnavailable"),
    ErrorCode.TIMEOUT: (504, "TaskOperationTimeout"),
    # Codes of the other families and of the guard (which sets the HTTP status it means).
    ErrorCode.AGENT_NOT_FOUND: (404, "TaskNotFound"),
    ErrorCode.NO_ACTIVE_ROOMS: (404, "TaskNotFound"),
    ErrorCode.PHONE_NUMBER_EXISTS: (409, "TaskConflict"),
    ErrorCode.INVALID_PHONE_FORMAT: (400, "InvalidFieldValue"),
    ErrorCode.INVALID_FIXTURE: (400, "InvalidRequestBody"),
    ErrorCode.URI_TOO_LONG: (400, "InvalidRequest"),
    ErrorCode.HEADER_TOO_LARGE: (400, "InvalidRequest"),
    ErrorCode.MISDIRECTED_REQUEST: (400, "InvalidRequest"),
}


def authenticate(ex: Exchange) -> None:
    """Shared by the agent and telephony families: who calls, and which project the path names."""
    principal = ex.world.agora.authenticate(ex.header(b"authorization"))
    ex.principal = principal
    appid = ex.path.get("appid")
    if appid is not None:
        ex.project = ex.world.agora.project_for(principal, appid)


def tenant_of(ex: Exchange) -> str | None:
    principal: Principal | None = ex.principal
    return principal.customer.id if principal is not None else None


def retry_after(error: DomainError) -> dict[str, str] | None:
    """The Retry-After header of a 429 (the SDK honours it when retries are on)."""
    admission = error.details.get("admission")
    return {"Retry-After": str(admission.retry_after)} if admission is not None else None


class AgoraFamily(Family):
    name = "agora"

    def __init__(self, world: World) -> None:
        self.world = world
        self._request_ids = itertools.count(1)

    def authenticate(self, ex: Exchange) -> None:
        authenticate(ex)

    def reauthenticate(self, ex: Exchange) -> None:
        authenticate(ex)

    def tenant(self, ex: Exchange) -> str | None:
        return tenant_of(ex)

    def error_tables(self) -> Mapping[str, Mapping[ErrorCode, object]]:
        return {"agora": _ERRORS}

    def render(self, error: DomainError, ex: Exchange | None) -> Response:
        status, reason = _ERRORS[error.code]
        status = error.details.get("fault_status", status)  # an injected fault chooses its status
        body: dict[str, Any] = {"detail": error.message, "reason": reason}
        if status == 409 and "agent_id" in error.details:
            body["agent_id"] = error.details["agent_id"]  # the already-started agent (§2.8)
        return json_response(body, status, retry_after(error))


def _project(ex: Exchange) -> Project:
    project: Project = ex.project
    return project


def _action_reply(ex: Exchange, agent: AgoraAgent) -> Response:
    return json_response({"agent_id": agent.agent_id, "channel": agent.channel, "start_ts": int(ex.world.clock.now())})


def _status(agent: AgoraAgent, ex: Exchange) -> Response:
    return json_response(
        {"agent_id": agent.agent_id, "create_ts": int(agent.created), "status": agent.conversation.status}
    )


def start_agent(ex: Exchange) -> Response:
    """POST …/projects/{appid}/join"""
    principal: Principal = ex.principal
    agent = ex.world.agora.start_agent(principal, _project(ex), ex.body)
    return _status(agent, ex)


def list_agents(ex: Exchange) -> Response:
    """GET …/projects/{appid}/agents"""
    page, cursor, total = ex.world.agora.list_agents(_project(ex), ex.query)
    items = [
        {
            "start_ts": int(a.created),
            "status": a.conversation.status,
            "agent_id": a.agent_id,
            "name": a.name,
            "channel": a.channel,
        }
        for a in page
    ]
    return json_response(
        {"data": {"count": len(items), "list": items}, "meta": {"cursor": cursor, "total": total}, "status": "ok"}
    )


def get_agent(ex: Exchange) -> Response:
    """GET …/agents/{agent_id}"""
    agent = ex.world.agora.get_agent(_project(ex), ex.path["agent_id"])
    conv = agent.conversation
    return json_response(
        {
            "message": conv.message,
            "start_ts": int(agent.created),
            "stop_ts": conv.stop_ts(),
            "status": conv.status,
            "name": agent.name,
            "agent_id": agent.agent_id,
        }
    )


def get_agent_history(ex: Exchange) -> Response:
    """GET …/agents/{agent_id}/history"""
    agent = ex.world.agora.get_agent_history(_project(ex), ex.path["agent_id"])
    return json_response(
        {
            "agent_id": agent.agent_id,
            "start_ts": int(agent.created),
            "status": "RUNNING",
            "contents": list(agent.conversation.history),
        }
    )


def get_agent_turns(ex: Exchange) -> Response:
    """GET …/agents/{agent_id}/turns"""
    agent = ex.world.agora.get_agent_turns(_project(ex), ex.path["agent_id"])
    page_index = ex.query.get("page_index", 1)
    turns, total_pages = agent.conversation.turns_page(page_index, ex.query.get("page_size", 50))
    return json_response(
        {
            "agent_id": agent.agent_id,
            "name": agent.name,
            "channel": agent.channel,
            "total_turn_count": len(agent.conversation.turns),
            "pagination": {
                "page_index": page_index,
                "total_pages": total_pages,
                "is_last_page": page_index >= total_pages,
            },
            "turns": [t.to_dict(agent.agent_id, agent.channel) for t in turns],
        }
    )


def stop_agent(ex: Exchange) -> Response:
    """POST …/agents/{agent_id}/leave: stops asynchronously (STOPPING, then STOPPED)."""
    ex.world.agora.stop_agent(_project(ex), ex.path["agent_id"])
    return json_response({})


def update_agent(ex: Exchange) -> Response:
    """POST …/agents/{agent_id}/update"""
    agent = ex.world.agora.update_agent(_project(ex), ex.path["agent_id"], (ex.body or {}).get("properties") or {})
    return _status(agent, ex)


def speak_agent(ex: Exchange) -> Response:
    """POST …/agents/{agent_id}/speak"""
    body = ex.body
    interruptable = body.get("interruptable")
    agent, _ = ex.world.agora.speak_agent(
        _project(ex),
        ex.path["agent_id"],
        body["text"],
        body.get("priority") or "INTERRUPT",
        True if interruptable is None else interruptable,
    )
    return _action_reply(ex, agent)


def interrupt_agent(ex: Exchange) -> Response:
    """POST …/agents/{agent_id}/interrupt"""
    agent = ex.world.agora.interrupt_agent(_project(ex), ex.path["agent_id"])
    return _action_reply(ex, agent)


def think_agent(ex: Exchange) -> Response:
    """POST …/agents/{agent_id}/think"""
    agent, _ = ex.world.agora.think_agent(_project(ex), ex.path["agent_id"], ex.body)
    return _action_reply(ex, agent)
