"""Agora Conversational AI Engine REST v2, agent operations: the ``{detail, reason}`` envelope.

The agents' behaviour is not simulated yet: each operation validates its request against the
contract and then answers a vendor-style 501 ``NotImplemented``, so callers see at once what
is missing instead of a fake success.
"""

from __future__ import annotations

from starlette.responses import Response

from ..world import World
from ..world.errors import DomainError
from .base import Call, Family, json_response

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
_ERRORS: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "InvalidRequestBody"),
    "unsupported_media_type": (400, "InvalidRequestBody"),
    "missing_field": (400, "MissingRequiredField"),
    "invalid_field": (400, "InvalidFieldValue"),
    "invalid": (400, "InvalidFieldValue"),
    "unauthorized": (401, "InvalidPermission"),
    "missing_auth": (401, "InvalidPermission"),
    "not_found": (404, "TaskNotFound"),
    # An unknown route has no documented reason; the pre-v2.7 catch-all is the least misleading.
    "route_not_found": (404, "InvalidRequest"),
    "method_not_allowed": (405, "InvalidRequest"),
    "conflict": (409, "TaskConflict"),
    "payload_too_large": (413, "InvalidRequestBody"),
    "rate_limited": (429, "ResourceQuotaLimitExceeded"),
    "internal": (500, "InternalError"),
    "not_implemented": (501, "NotImplemented"),
}


class AgoraFamily(Family):
    name = "agora"

    def __init__(self, world: World) -> None:
        self.world = world

    def render(self, error: DomainError, call: Call | None) -> Response:
        status, reason = _ERRORS.get(error.code, _ERRORS["internal"])
        return json_response({"detail": error.message, "reason": reason}, status)


def not_built(call: Call) -> Response:
    """The operation exists in the contract but its behaviour is not simulated yet."""
    op = call.operation
    raise DomainError(
        "not_implemented",
        f"{op.method} {op.path} ({op.operation_id}) is in the contract but not simulated by this "
        "version of the mock yet; the request itself was valid",
    )


start_agent = list_agents = get_agent = get_agent_history = get_agent_turns = not_built
stop_agent = update_agent = speak_agent = interrupt_agent = think_agent = not_built
