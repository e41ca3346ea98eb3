"""Domain errors: a code and a message as data, never an HTTP response.

Each vendor's API layer renders these in its own envelope (see ``mockserver/api/``); the world only
says *what* went wrong. ``details`` carries the values a renderer needs to word the vendor's own
message (for example the agent code).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DomainError"]


class DomainError(Exception):
    """Something the caller did that the simulated vendor refuses.

    Codes used by the world: ``missing_auth``, ``unauthorized``, ``agent_not_found``,
    ``no_active_rooms``, ``rate_limited``, ``not_found``, ``conflict``, ``invalid``.
    Codes used by the HTTP layer for request-level failures: ``malformed_json``,
    ``unsupported_media_type``, ``payload_too_large``, ``missing_field``, ``invalid_field``,
    ``route_not_found``, ``method_not_allowed``, ``internal``.
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r}, **{self.details!r})"
