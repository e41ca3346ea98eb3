"""RFC 7807 problem details: the control plane's one error renderer."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Call, Family, json_response
from ..world.errors import DomainError

__all__ = ["ProblemFamily"]

_STATUS: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "Malformed body"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "missing_field": (422, "Missing field"),
    "invalid_field": (422, "Invalid field"),
    "invalid": (422, "Invalid value"),
    "invalid_fixture": (422, "Invalid fixture"),
    "not_found": (404, "Not found"),
    "route_not_found": (404, "No such route"),
    "method_not_allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict"),
    "payload_too_large": (413, "Payload too large"),
    "internal": (500, "Internal error"),
}


class ProblemFamily(Family):
    name = "problem"
    vendor = False  # the dashboard polls the control plane: keep journal and faults for vendor traffic

    def render(self, error: DomainError, call: Call | None) -> Response:
        status, title = _STATUS.get(error.code, _STATUS["internal"])
        body = {
            "type": f"https://agent-mockserver.invalid/problems/{error.code}",
            "title": title,
            "status": status,
            "detail": error.message,
        }
        if call is not None:
            body["instance"] = call.request.url.path
        extra = {k: v for k, v in error.details.items() if isinstance(v, str | int | float | bool | list)}
        body.update({k: v for k, v in extra.items() if k not in body})
        return json_response(body, status, media_type="application/problem+json")
