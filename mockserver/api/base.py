"""What every vendor's HTTP layer shares: the per-request ``Exchange``, JSON responses, ``Family``.

A *family* is one error envelope and one way of authenticating: bitHuman, Agora agents, Agora
telephony (and phone numbers), and the control plane. The router asks the operation's family to
authenticate the exchange and to render any ``DomainError`` — the one place each envelope is built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..spec import Operation
    from ..world import World
    from ..world.errors import DomainError, ErrorCode

__all__ = ["Exchange", "Family", "json_response"]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, media_type: str = "application/json"
) -> Response:
    """A JSON response serialised with orjson."""
    try:
        content = orjson.dumps(body)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which a valid request may carry and a handler echo
        # (get_agent_turns' page_index has no maximum); the standard library writes them.
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content, status_code=status, headers=headers, media_type=media_type)


@dataclass(slots=True)
class Exchange:
    """One request on its way through the pipeline: what the handler gets."""

    operation: Operation
    world: World
    request: Request
    path: dict[str, str]
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    principal: Any = None  # what the family authenticated (an account, a customer, ...)
    project: Any = None  # the Agora project the path's appid names, once authorised
    headers: dict[str, str] = field(default_factory=dict)  # added to the response, error or not


class Family:
    """One vendor's envelope. Subclasses override what differs."""

    name = "family"
    vendor = True  # vendor traffic: journaled and subject to fault rules; the control plane is neither

    def authenticate(self, ex: Exchange) -> None:
        """Check credentials; set ``ex.principal``. Raise ``DomainError`` to refuse."""

    def reauthenticate(self, ex: Exchange) -> None:
        """Check the credentials again, against the world as it is now, without metering.

        The router calls it once the body is read, with no await left before the handler: the
        world may have changed while the body was uploading (the account deleted, the secret
        rotated), and the handler must act for who the caller is now, not who it was.
        """

    def tenant(self, ex: Exchange) -> str | None:
        """The tenant id of an authenticated exchange (for fault rules and the journal)."""
        return None

    def error_tables(self) -> Mapping[str, Mapping[ErrorCode, object]]:  # pragma: no cover - abstract
        """Name -> the table ``render`` looks codes up in (one per dialect); each must map every code."""
        raise NotImplementedError

    def render(self, error: DomainError, ex: Exchange | None) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self, ex: Exchange | None, response: Response) -> Response:
        """Add the headers every response of this family carries (``ex`` is None before routing)."""
        if ex is not None and ex.headers:
            # Appending raw headers is much cheaper than MutableHeaders.update on the hot path.
            response.raw_headers.extend(
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in ex.headers.items()
            )
        return response
