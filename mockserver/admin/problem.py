"""RFC 7807 problem details: the control plane's one error renderer."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Call, Family, json_response
from ..world.errors import DomainError

__all__ = ["ProblemFamily"]

_STATUS: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "Malformed body"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "unauthorized": (401, "Control token required"),
    "misdirected_request": (421, "Host not allowed"),
    "uri_too_long": (414, "URI too long"),
    "header_too_large": (431, "Request header fields too large"),
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


_WRITES = frozenset({"POST", "PUT", "PATCH"})
_WRITE_TYPES = frozenset({"application/json", "application/yaml", "application/x-yaml", "text/yaml"})


class ProblemFamily(Family):
    name = "problem"
    vendor = False  # the dashboard polls the control plane: keep journal and faults for vendor traffic

    def authenticate(self, call: Call) -> None:
        # A web page on any origin may send a "simple" request (text/plain, a form, or no
        # Content-Type at all) without asking first. Refusing those makes every write a browser
        # can send need a CORS pre-flight, which the mock never grants. A write with no
        # Content-Type is refused only when it comes from a browser: browsers send Origin (or
        # Sec-Fetch-*) on every POST, while curl and test clients sending an empty POST do not.
        # DELETE always needs a pre-flight.
        if call.request.method not in _WRITES:
            return
        headers = call.request.headers
        media = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media in _WRITE_TYPES or media.endswith("+json"):
            return
        if not media and "origin" not in headers and "sec-fetch-site" not in headers:
            return
        shown = f"Content-Type {media!r}" if media else "no Content-Type"
        raise DomainError(
            "unsupported_media_type",
            f"Control-plane writes need Content-Type: application/json (or YAML where accepted); got {shown}",
            content_type=media,
        )

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
