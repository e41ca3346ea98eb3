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
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope

if TYPE_CHECKING:
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
    if headers or status < 200 or status in (204, 304):
        return Response(content, status_code=status, headers=headers, media_type=media_type)
    return _JsonResponse(content, status, media_type)


class _JsonResponse(Response):
    """A ``Response`` whose two headers are written directly: ``Response.__init__`` works out
    what any media type and header set needs, which costs more than the rest of a typical answer."""

    def __init__(self, body: bytes, status: int, media_type: str) -> None:
        self.status_code = status
        self.media_type = media_type
        self.background = None
        self.body = body
        kind = _JSON_TYPES.get(media_type) or media_type.encode("latin-1")
        self.raw_headers = [(b"content-length", b"%d" % len(body)), (b"content-type", kind)]


_JSON_TYPES = {name: name.encode() for name in ("application/json", "application/problem+json")}


@dataclass(slots=True)
class Exchange:
    """One request on its way through the pipeline: what the handler gets."""

    operation: Operation
    world: World
    scope: Scope
    receive: Receive
    path: dict[str, str]
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    principal: Any = None  # what the family authenticated (an account, a customer, ...)
    project: Any = None  # the Agora project the path's appid names, once authorised
    headers: dict[str, str] = field(default_factory=dict)  # added to the response, error or not
    credential: Any = None  # what the family checked the credentials with, kept for ``reauthenticate``
    _received: dict[bytes, bytes] | None = None  # the request's headers by name, built on first use
    _request: Request | None = None

    @property
    def request(self) -> Request:
        """The Starlette request, made on first use: most operations never need it."""
        if self._request is None:
            self._request = Request(self.scope, self.receive)
        return self._request

    def header(self, name: bytes) -> str | None:
        """A request header (the first of that name; ``name`` in lower case, as ASGI gives it).

        Cheaper than Starlette's ``request.headers``, which the pipeline would build for every
        request to read three headers.
        """
        received = self._received
        if received is None:
            # ASGI header names are lower-case; reversed, so the first of a repeated name wins.
            received = self._received = dict(reversed(list(self.scope.get("headers", ()))))
        value = received.get(name)
        return value.decode("latin-1") if value is not None else None


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
            raw = response.raw_headers
            for name, value in ex.headers.items():
                raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        return response
