"""Routing is data: one Starlette route per path of a spec, bound by operationId.

Every operation in the document is served by the handler of the same name (a missing one fails
start-up). Each request goes through one pipeline: method -> authenticate -> body size -> read ->
authenticate again (the world may have changed meanwhile) -> parse -> validate (path, query, body)
-> handler -> response, and any refusal on the way is a
``DomainError`` that the operation's family renders in its vendor's envelope. Nothing escapes as a
framework error page: an unexpected exception is logged and rendered as the vendor's 500.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .api.base import Call, Family
from .contract import PathTable
from .fixtures import YamlLimitError, parse_yaml
from .spec import Operation, Spec, check_body, check_params
from .world import World
from .world.errors import DomainError
from .world.faults import FaultRule
from .world.ratelimit import Admission

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "FAULT_STATUSES",
    "JOURNAL_ENTRY",
    "MissingHandlerError",
    "NotFound",
    "SpecRouter",
    "bind",
    "build_endpoints",
    "journal",
]

logger = logging.getLogger("mockserver")

DEFAULT_BODY_LIMIT = 1024 * 1024  # our choice: the vendors document none
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


class MissingHandlerError(RuntimeError):
    """The spec has operations no handler serves."""


@dataclass(frozen=True, slots=True)
class Bound:
    operation: Operation
    handler: Callable[[Call], Any]
    is_async: bool
    family: Family


def bind(spec: Spec, handlers: Mapping[str, Callable[[Call], Any]], families: Mapping[str, Family]) -> list[Bound]:
    """Pair each operation with its handler (same name) and its family (by tag)."""
    missing = sorted(op for op in spec.operations if op not in handlers)
    if missing:
        raise MissingHandlerError(f"no handler for operation(s): {', '.join(missing)}")
    unknown_tags = sorted({op.tag for op in spec.operations.values()} - set(families))
    if unknown_tags:
        raise MissingHandlerError(f"no error family for tag(s): {', '.join(unknown_tags)}")
    return [
        Bound(op, handlers[op_id], inspect.iscoroutinefunction(handlers[op_id]), families[op.tag])
        for op_id, op in spec.operations.items()
    ]


def build_endpoints(bound: list[Bound], world: World, body_limit: int = DEFAULT_BODY_LIMIT) -> dict[str, PathEndpoint]:
    """Path template -> the endpoint that serves every method of that path."""
    table: dict[str, dict[str, Bound]] = {}
    for b in bound:
        table.setdefault(b.operation.path, {})[b.operation.method] = b
    return {path: PathEndpoint(methods, world, body_limit) for path, methods in table.items()}


class SpecRouter:
    """The ASGI router of the spec paths: the contract's ``PathTable`` of endpoints.

    A request is compared only with the one to three templates of its shape (first segment,
    number of segments); a literal segment wins over a parameter.
    """

    def __init__(self, endpoints: dict[str, PathEndpoint], default: ASGIApp) -> None:
        self.default = default
        self.table = PathTable(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        found = self.table.match(scope["path"])
        if found is None:
            await self.default(scope, receive, send)
            return
        endpoint, scope["path_params"] = found
        await endpoint(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to start or stop: acknowledge the server's lifespan messages.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class PathEndpoint:
    """The ASGI app of one path: picks the operation by method and runs the pipeline."""

    def __init__(self, by_method: dict[str, Bound], world: World, body_limit: int) -> None:
        self.by_method = by_method
        self.world = world
        self.body_limit = body_limit
        self.allow = ", ".join(sorted(by_method))
        self.any_family = next(iter(by_method.values())).family
        self.vendor = any(b.family.vendor for b in by_method.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        bound = self.by_method.get(scope["method"])
        if bound is None:
            ops = ", ".join(f"{m} {b.operation.operation_id}" for m, b in sorted(self.by_method.items()))
            error = DomainError(
                "method_not_allowed",
                f"Method {scope['method']} is not allowed on {scope['path']}; allowed: {self.allow}",
                allow=self.allow,
            )
            response = self.any_family.render(error, None)
            response.headers["Allow"] = self.allow
            if self.vendor:
                near_405 = {"operation": ops, "reason": f"the path matches, the method {scope['method']} does not"}
                journal(self.world, scope, None, None, response, started, error, b"", near_405)
            await response(scope, receive, send)
            return
        call = Call(bound.operation, self.world, request, scope.get("path_params", {}))
        family = bound.family
        op = bound.operation
        raw = b""
        failure: DomainError | None = None
        fault: FaultRule | None = None
        tenant: str | None = None
        try:
            family.authenticate(call)
            tenant = family.tenant(call)
            fault = self.world.faults.pick(op.operation_id, tenant, _agent_of(call)) if family.vendor else None
            if fault is not None:
                if fault.kind == "drop":
                    journal(self.world, scope, call, op, None, started, None, b"", None, fault, tenant)
                    await _drop(send)
                    return
                await _apply(fault, self.world, call)
            raw = await read_body(request, self.body_limit)
            # From here to the handler nothing awaits: authenticate again against the world as it
            # is now, since it may have changed while the body was uploading or a fault delayed us.
            family.reauthenticate(call)
            if op.params_validator is not None or (op.parameters and scope["query_string"]):
                call.query = check_params(op, call.path, request.query_params)
            if op.body is not None:
                call.body = parse_body(op, request.headers.get("content-type"), raw)
                check_body(op.body, call.body)
            result = await bound.handler(call) if bound.is_async else bound.handler(call)
            response = family.finish(call, result)
        except DomainError as error:
            failure = error
            response = family.finish(call, family.render(error, call))
        except Exception:  # the mock has a bug: say so in the vendor's envelope, never a bare page
            logger.exception("unhandled error in %s", op.operation_id)
            failure = DomainError("internal", "Internal error in the mock server (see its log)")
            response = family.render(failure, call)
        if family.vendor and self.world.journal.limit:
            near: dict[str, str] | None = None
            if failure is not None and failure.code in _NEAR_MISS_CODES:
                near = {"operation": op.operation_id, "reason": failure.message}
            journal(self.world, scope, call, op, response, started, failure, raw, near, fault, tenant)
        await response(scope, receive, send)


# Refusals for which the journal names the operation the request was meant for, and why it failed.
_NEAR_MISS_CODES = frozenset(
    {
        "missing_field",
        "invalid_field",
        "invalid_phone_format",
        "malformed_json",
        "unsupported_media_type",
        "payload_too_large",
    }
)
_FAULT_CODES = {
    400: "invalid_field",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal",
    502: "bad_gateway",
    503: "unavailable",
    504: "timeout",
}
FAULT_STATUSES = tuple(sorted(_FAULT_CODES))


def _agent_of(call: Call) -> str | None:
    return call.path.get("agent_id") or call.path.get("agent_code")


async def _apply(rule: FaultRule, world: World, call: Call) -> None:
    """Delay, or refuse, as the fault rule says (``drop`` is handled by the caller)."""
    if rule.kind == "latency":
        await asyncio.sleep(world.faults.jitter(rule))
        return
    if rule.kind == "rate_limit":
        now = world.clock.now()
        bucket = getattr(call.principal, "rate_limit", None)  # a bitHuman account's own limit, if any
        limit = bucket.per_minute if bucket is not None else 720  # else bitHuman's default (Enterprise) tier
        admission = Admission(False, limit, 0, int(now + rule.retry_after), rule.retry_after)
        raise DomainError("rate_limited", rule.message or "Rate limit exceeded (injected fault)", admission=admission)
    status = rule.status or 500
    raise DomainError(
        _FAULT_CODES.get(status, "internal"), rule.message or f"Injected fault: HTTP {status}", fault_status=status
    )


async def _drop(send: Send) -> None:
    # Start a response and never finish it: the server closes the connection mid-body, which is
    # what a client sees when a connection drops.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"', "more_body": True})


# The ASGI scope key under which ``journal`` leaves the request's entry (read by the access log).
JOURNAL_ENTRY = "mockserver.journal_entry"


def journal(
    world: World,
    scope: Scope,
    call: Call | None,
    op: Operation | None,
    response: Response | None,
    started: float,
    failure: DomainError | None,
    raw: bytes,
    near_miss: dict[str, str] | None,
    fault: FaultRule | None = None,
    tenant: str | None = None,
) -> None:
    """Record one request in the world's journal, which keeps a bounded copy (redacted when read)."""
    if not world.journal.limit:
        return
    # The access log reads the operation, tenant and error code from here instead of recomputing.
    scope[JOURNAL_ENTRY] = world.journal.record(
        time=world.clock.now(),
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b""),
        operation=op.operation_id if op is not None else None,
        tenant=tenant,
        status=response.status_code if response is not None else 0,
        duration_ms=(time.perf_counter() - started) * 1000,
        request_headers=scope.get("headers", []),
        request_body=raw,  # the bytes as sent, parsed or not: the journal parses what it shows
        response_body=response.body if response is not None else b"",
        error=failure.code if failure is not None else None,
        near_miss=near_miss,
        fault=fault.describe() if fault is not None else None,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes before reading them where possible."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise DomainError("payload_too_large", f"Request body is larger than {limit} bytes", limit=limit)
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DomainError("payload_too_large", f"Request body is larger than {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(op: Operation, content_type: str | None, raw: bytes) -> Any:
    """Parse the body as the operation's media type; an empty body is an empty object."""
    assert op.body is not None
    if not raw.strip():
        # The Agora SDK sends interrupt/hangup with a JSON content type and no body at all.
        return {}
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _YAML_TYPES and any(m in _YAML_TYPES for m in op.body.media_types):
        try:
            return parse_yaml(raw)  # bounded: size, depth and alias expansion
        except YamlLimitError as exc:
            raise DomainError("malformed_json", f"Request body is refused: {exc}") from None
        except yaml.YAMLError as exc:
            raise DomainError("malformed_json", f"Request body is not valid YAML: {exc}") from None
    if media and media != "application/json" and not media.endswith("+json"):
        raise DomainError(
            "unsupported_media_type",
            f"Content-Type {media!r} is not supported; send the body as JSON with Content-Type: application/json",
            content_type=media,
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DomainError("malformed_json", f"Request body is not valid JSON: {exc}") from None


class NotFound:
    """The app for paths no route matches: the envelope of the vendor whose prefix it is under."""

    def __init__(
        self,
        prefixes: list[tuple[str, Family]],  # (path pattern, family)
        fallback: Family,
        known: list[tuple[str, str, str]],
        world: World | None = None,
    ) -> None:
        # Patterns (regular expressions matched at the start of the path), most specific first.
        self.prefixes = [(re.compile(p), f) for p, f in sorted(prefixes, key=lambda pair: -len(pair[0]))]
        self.fallback = fallback
        self.known = known  # (method, path template, operationId), for the "closest route" hint
        self.world = world
        # Paths longer than twice the longest route get no hint (see ``closest``).
        self.hint_limit = 2 * max((len(template) for _, template, _ in known), default=0) + 16

    def family_for(self, path: str) -> Family:
        return next((family for prefix, family in self.prefixes if prefix.match(path)), self.fallback)

    def closest(self, method: str, path: str) -> tuple[str, str, str] | None:
        """(methods, template, operationId) of the route most like ``path``, if any is close."""
        # difflib is quadratic in the length of what it compares: a path far longer than any
        # route cannot be a typo of one, and comparing it would block the server for a while.
        if len(path) > self.hint_limit:
            return None
        # Compare with each template filled in with the request's own segments, so that
        # "/v1/agent/A1/speek" is close to "/v1/agent/{agent_code}/speak". Only templates within
        # one segment of the path's shape are candidates, and the cheap upper bounds of the
        # ratio rule most of them out before the full comparison.
        segments = path.strip("/").split("/")
        best, best_ratio = None, 0.6
        for known_method, template, _ in self.known:
            parts = template.strip("/").split("/")
            if abs(len(parts) - len(segments)) > 1:
                continue
            if len(parts) == len(segments):
                parts = [s if p.startswith("{") else p for p, s in zip(parts, segments, strict=True)]
            bonus = 0.01 if known_method == method else 0.0
            matcher = difflib.SequenceMatcher(None, "/" + "/".join(parts), path)
            if matcher.real_quick_ratio() + bonus <= best_ratio or matcher.quick_ratio() + bonus <= best_ratio:
                continue
            ratio = matcher.ratio() + bonus
            if ratio > best_ratio:
                best, best_ratio = template, ratio
        if best is None:
            return None
        same_path = [(m, op) for m, p, op in self.known if p == best]
        preferred = next((op for m, op in same_path if m == method), same_path[0][1])
        return "|".join(sorted(m for m, _ in same_path)), best, preferred

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        started = time.perf_counter()
        closest = self.closest(method, path)
        hint = f"; closest route: {closest[0]} {closest[1]}" if closest else ""
        error = DomainError("route_not_found", f"No route for {method} {path}{hint}", path=path)
        family = self.family_for(path)
        response = family.render(error, None)
        if family.vendor and self.world is not None:
            near = {"operation": closest[2], "reason": f"no route for {method} {path}"} if closest else None
            journal(self.world, scope, None, None, response, started, error, b"", near)
        await response(scope, receive, send)
