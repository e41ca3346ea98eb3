"""RFC 7807 problem details: the control plane's one error renderer."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from ..api.base import Exchange, Family, json_response
from ..world.errors import DomainError, ErrorCode

__all__ = ["ProblemFamily"]

_STATUS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.MALFORMED_JSON: (400, "Malformed body"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported media type"),
    ErrorCode.UNAUTHORIZED: (401, "Control token required"),
    ErrorCode.MISDIRECTED_REQUEST: (421, "Host not allowed"),
    ErrorCode.URI_TOO_LONG: (414, "URI too long"),
    ErrorCode.HEADER_TOO_LARGE: (431, "Request header fields too large"),
    ErrorCode.MISSING_FIELD: (422, "Missing field"),
    ErrorCode.INVALID_FIELD: (422, "Invalid field"),
    ErrorCode.INVALID: (422, "Invalid value"),
    ErrorCode.INVALID_FIXTURE: (422, "Invalid fixture"),
    ErrorCode.NOT_FOUND: (404, "Not found"),
    ErrorCode.ROUTE_NOT_FOUND: (404, "No such route"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "Method not allowed"),
    ErrorCode.CONFLICT: (409, "Conflict"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "Payload too large"),
    ErrorCode.INTERNAL: (500, "Internal error"),
    # Codes the vendor operations raise; the control plane maps them all so none becomes a 500.
    ErrorCode.FORBIDDEN: (403, "Forbidden"),
    ErrorCode.AGENT_NOT_FOUND: (404, "Not found"),
    ErrorCode.NO_ACTIVE_ROOMS: (404, "No active rooms"),
    ErrorCode.PHONE_NUMBER_EXISTS: (409, "Conflict"),
    ErrorCode.CONCURRENCY_LIMIT: (409, "Concurrency limit reached"),
    ErrorCode.MISSING_AUTH: (401, "Credentials required"),
    ErrorCode.INVALID_PHONE_FORMAT: (422, "Invalid field"),
    ErrorCode.UNPROCESSABLE: (422, "Unprocessable"),
    ErrorCode.RATE_LIMITED: (429, "Too many requests"),
    ErrorCode.BAD_GATEWAY: (502, "Bad gateway"),
    ErrorCode.UNAVAILABLE: (503, "Service unavailable"),
    ErrorCode.TIMEOUT: (504, "Gateway timeout"),
}


_WRITES = frozenset({"POST", "PUT", "PATCH"})
_WRITE_TYPES = frozenset({"application/json", "application/yaml", "application/x-yaml", "text/yaml"})


class ProblemFamily(Family):
    name = "problem"
    vendor = False  # the dashboard polls the control plane: keep journal and faults for vendor traffic

    def authenticate(self, ex: Exchange) -> None:
        # A web page on any origin may send a "simple" request (text/plain, a form, or no
        # Content-Type at all) without asking first. Refusing those makes every write a browser
        # can send need a CORS pre-flight, which the mock never grants. A write with no
        # Content-Type is refused only when it comes from a browser: browsers send Origin (or
        # Sec-Fetch-*) on every POST, while curl and test clients sending an empty POST do not.
        # DELETE always needs a pre-flight.
        if ex.request.method not in _WRITES:
            return
        headers = ex.request.headers
        media = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media in _WRITE_TYPES or media.endswith("+json"):
            return
        if not media and "origin" not in headers and "sec-fetch-site" not in headers:
            return
        shown = f"Content-Type {media!r}" if media else "no Content-Type"
        raise DomainError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"Control-plane writes need Content-Type: application/json (or YAML where accepted); got {shown}",
            content_type=media,
        )

    def error_tables(self) -> Mapping[str, Mapping[ErrorCode, object]]:
        return {"problem": _STATUS}

    def render(self, error: DomainError, ex: Exchange | None) -> Response:
        status, title = _STATUS[error.code]
        body = {
            "type": f"https://agent-mockserver.invalid/problems/{error.code}",
            "title": title,
            "status": status,
            "detail": error.message,
        }
        if ex is not None:
            body["instance"] = ex.request.url.path
        extra = {k: v for k, v in error.details.items() if isinstance(v, str | int | float | bool | list)}
        body.update({k: v for k, v in extra.items() if k not in body})
        return json_response(body, status, media_type="application/problem+json")
