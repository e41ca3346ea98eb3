"""Request bodies: read within a size limit, parsed as the operation's media type."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from .fixtures import YamlLimitError, parse_yaml
from .spec import Operation
from .world.errors import DomainError, ErrorCode

__all__ = ["DEFAULT_BODY_LIMIT", "parse_body", "read_body"]

DEFAULT_BODY_LIMIT = 1024 * 1024  # our choice: the vendors document none
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes before reading them where possible.

    ``declared`` is the request's Content-Length header, if it has one.
    """
    counted = True  # without a declared length, count while reading
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise DomainError(ErrorCode.PAYLOAD_TOO_LARGE, f"Request body is larger than {limit} bytes", limit=limit)
        counted = False  # the server holds the body to its declared length
    # The ASGI messages themselves, as Request.stream reads them, without its async generator:
    # this runs for every request.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if counted and size > limit:
                raise DomainError(
                    ErrorCode.PAYLOAD_TOO_LARGE, f"Request body is larger than {limit} bytes", limit=limit
                )
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_body(op: Operation, content_type: str | None, raw: bytes) -> Any:
    """Parse the body as the operation's media type; an empty body is an empty object."""
    assert op.body is not None
    if not raw.strip():
        # The Agora SDK sends interrupt/hangup with a JSON content type and no body at all.
        return {}
    if content_type == "application/json":  # what nearly every request says: the common case first
        media = content_type
    else:
        media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _YAML_TYPES and any(m in _YAML_TYPES for m in op.body.media_types):
        import yaml  # here, not at import: most requests are JSON, and importing PyYAML is slow

        try:
            return parse_yaml(raw)  # bounded: size, depth and alias expansion
        except YamlLimitError as exc:
            raise DomainError(ErrorCode.MALFORMED_JSON, f"Request body is refused: {exc}") from None
        except yaml.YAMLError as exc:
            raise DomainError(ErrorCode.MALFORMED_JSON, f"Request body is not valid YAML: {exc}") from None
    if media and media != "application/json" and not media.endswith("+json"):
        raise DomainError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {media!r} is not supported; send the body as JSON with Content-Type: application/json",
            content_type=media,
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DomainError(ErrorCode.MALFORMED_JSON, f"Request body is not valid JSON: {exc}") from None
