"""Domain errors: a code and a message as data, never an HTTP response.

Each vendor's API layer renders these in its own envelope (see ``mockserver/api/``); the world only
says *what* went wrong. ``details`` carries the values a renderer needs to word the vendor's own
message (for example the agent code).

The codes are one declared set, ``ErrorCode``: every family's table maps each of them (checked when
the app is built), so a new code cannot silently become a 500 in one vendor's envelope.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

__all__ = ["DomainError", "ErrorCode", "missing_codes"]


class ErrorCode(StrEnum):
    """Every reason the mock refuses a request. A ``StrEnum``: it compares equal to its value."""

    # Credentials and permissions.
    MISSING_AUTH = "missing_auth"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    # State of the world.
    NOT_FOUND = "not_found"
    AGENT_NOT_FOUND = "agent_not_found"
    NO_ACTIVE_ROOMS = "no_active_rooms"
    CONFLICT = "conflict"
    PHONE_NUMBER_EXISTS = "phone_number_exists"
    CONCURRENCY_LIMIT = "concurrency_limit"
    RATE_LIMITED = "rate_limited"
    # What the request says.
    INVALID = "invalid"
    INVALID_FIELD = "invalid_field"
    MISSING_FIELD = "missing_field"
    INVALID_PHONE_FORMAT = "invalid_phone_format"
    INVALID_FIXTURE = "invalid_fixture"
    MALFORMED_JSON = "malformed_json"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    # How the request reached the server (routing and the guard).
    ROUTE_NOT_FOUND = "route_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    URI_TOO_LONG = "uri_too_long"
    HEADER_TOO_LARGE = "header_too_large"
    MISDIRECTED_REQUEST = "misdirected_request"
    # The mock itself, and the statuses fault rules inject.
    INTERNAL = "internal"
    UNPROCESSABLE = "unprocessable"
    BAD_GATEWAY = "bad_gateway"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"


def missing_codes(table: Iterable[str]) -> list[ErrorCode]:
    """The codes a renderer's table does not map, in declaration order (empty when complete)."""
    present = set(table)
    return [code for code in ErrorCode if code not in present]


class DomainError(Exception):
    """Something the caller did that the simulated vendor refuses."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        # A plain string is accepted where it names a declared code (a contract's ``x-error-code``);
        # anything else fails here, where it was raised, not as a 500 far away.
        self.code = ErrorCode(code)
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"DomainError({self.code.value!r}, {self.message!r}, **{self.details!r})"
