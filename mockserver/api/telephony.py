"""Agora telephony and phone numbers: the ``{error_type, description}`` envelope (§2.9-2.10).

Behaviour is not simulated yet: valid requests get a vendor-style 501.
"""

from __future__ import annotations

from starlette.responses import Response

from ..world import World
from ..world.errors import DomainError
from .agora import authenticate
from .base import Call, Family, json_response

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

_ERRORS: dict[str, tuple[int, str]] = {
    # Every validation failure but a malformed number is 422 (the documented status).
    "malformed_json": (422, "unprocessable_content"),
    "unsupported_media_type": (422, "unprocessable_content"),
    "missing_field": (422, "unprocessable_content"),
    "invalid_field": (422, "unprocessable_content"),
    "invalid": (422, "unprocessable_content"),
    "invalid_phone_format": (400, "invalid_phone_format"),
    "unauthorized": (401, "unauthorized"),
    "forbidden": (401, "unauthorized"),
    "missing_auth": (401, "unauthorized"),
    "not_found": (404, "not_found"),
    "route_not_found": (404, "not_found"),
    "method_not_allowed": (405, "method_not_allowed"),
    "conflict": (409, "conflict"),
    "phone_number_exists": (409, "phone_number_exists"),
    "payload_too_large": (413, "payload_too_large"),
    "internal": (500, "internal_server_error"),
    "not_implemented": (501, "not_implemented"),
}


class TelephonyFamily(Family):
    name = "telephony"

    def __init__(self, world: World) -> None:
        self.world = world

    def authenticate(self, call: Call) -> None:
        authenticate(call)

    def render(self, error: DomainError, call: Call | None) -> Response:
        status, error_type = _ERRORS.get(error.code, _ERRORS["internal"])
        return json_response({"error_type": error_type, "description": error.message}, status)


def not_built(call: Call) -> Response:
    """The operation exists in the contract but its behaviour is not simulated yet."""
    op = call.operation
    raise DomainError(
        "not_implemented",
        f"{op.method} {op.path} ({op.operation_id}) is in the contract but not simulated by this "
        "version of the mock yet; the request itself was valid",
    )


list_calls = start_call = get_call = hangup_call = not_built
list_phone_numbers = add_phone_number = get_phone_number = update_phone_number = delete_phone_number = not_built
