"""The request pipeline of one path: ``PathEndpoint``.

Each request goes through one pipeline: method -> authenticate -> fault rules -> body size -> read
-> authenticate again (the world may have changed meanwhile) -> parse -> validate (path, query,
body) -> handler -> response, and any refusal on the way is a ``DomainError`` that the operation's
family renders in its vendor's envelope. Nothing escapes as a framework error page: an unexpected
exception is logged and rendered as the vendor's 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import coverage
from .api.base import Exchange, Family
from .body import parse_body, read_body
from .spec import Operation, check_body, check_params
from .world import World
from .world.errors import DomainError, ErrorCode
from .world.faults import FaultRule
from .world.ratelimit import DEFAULT_TIER, WRITE_TIER_PER_MINUTE, Admission

__all__ = ["FAULT_STATUSES", "JOURNAL_ENTRY", "Bound", "PathEndpoint", "Trace", "journal"]

logger = logging.getLogger("mockserver")


@dataclass(frozen=True, slots=True)
class Bound:
    operation: Operation
    handler: Callable[[Exchange], Any]
    is_async: bool
    family: Family


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
        trace = Trace(scope, time.perf_counter())
        bound = self.by_method.get(scope["method"])
        if bound is None:
            ops = ", ".join(f"{m} {b.operation.operation_id}" for m, b in sorted(self.by_method.items()))
            error = DomainError(
                ErrorCode.METHOD_NOT_ALLOWED,
                f"Method {scope['method']} is not allowed on {scope['path']}; allowed: {self.allow}",
                allow=self.allow,
            )
            response = self.any_family.finish(None, self.any_family.render(error, None))
            response.headers["Allow"] = self.allow
            if self.vendor:
                trace.response, trace.failure = response, error
                trace.near_miss = {
                    "operation": ops,
                    "reason": f"the path matches, the method {scope['method']} does not",
                }
                journal(self.world, trace)
            await response(scope, receive, send)
            return
        ex = Exchange(bound.operation, self.world, scope, receive, scope.get("path_params", {}))
        family = bound.family
        op = trace.operation = bound.operation
        try:
            family.authenticate(ex)
            trace.tenant = family.tenant(ex)
            faults = self.world.faults
            fault = (
                faults.pick(op.operation_id, trace.tenant, _agent_of(ex)) if family.vendor and faults.armed else None
            )
            if fault is not None:
                trace.fault = fault
                if fault.kind == "drop":
                    trace.raw = await _drain(receive, ex.header(b"content-length"), self.body_limit)
                    journal(self.world, trace)
                    await _drop(send)
                    return
                await _apply(fault, self.world, ex)
            raw = trace.raw = await read_body(receive, ex.header(b"content-length"), self.body_limit)
            # From here to the handler nothing awaits: authenticate again against the world as it
            # is now, since it may have changed while the body was uploading or a fault delayed us.
            family.reauthenticate(ex)
            if op.params_validator is not None or (op.parameters and scope["query_string"]):
                ex.query = check_params(op, ex.path, ex.request.query_params)
            if op.body is not None:
                ex.body = parse_body(op, ex.header(b"content-type"), raw)
                check_body(op.body, ex.body)
            result = await bound.handler(ex) if bound.is_async else bound.handler(ex)
            response = family.finish(ex, result)
        except DomainError as error:
            trace.failure = error
            response = family.finish(ex, family.render(error, ex))
        except Exception:  # the mock has a bug: say so in the vendor's envelope, never a bare page
            logger.exception("unhandled error in %s", op.operation_id)
            trace.failure = DomainError(ErrorCode.INTERNAL, "Internal error in the mock server (see its log)")
            response = family.finish(ex, family.render(trace.failure, ex))
        coverage.record_request(self.world, family, ex, response, trace.failure, trace.tenant)
        if family.vendor and self.world.journal.limit:
            failure = trace.failure
            if failure is not None and failure.code in _NEAR_MISS_CODES:
                trace.near_miss = {"operation": op.operation_id, "reason": failure.message}
            trace.response = response
            journal(self.world, trace)
        await response(scope, receive, send)


# Refusals for which the journal names the operation the request was meant for, and why it failed.
_NEAR_MISS_CODES = frozenset(
    {
        ErrorCode.MISSING_FIELD,
        ErrorCode.INVALID_FIELD,
        ErrorCode.INVALID_PHONE_FORMAT,
        ErrorCode.MALFORMED_JSON,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ErrorCode.PAYLOAD_TOO_LARGE,
    }
)
# An injected status -> the code each family renders it as (its envelope keeps the status).
_FAULT_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_FIELD,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.UNPROCESSABLE,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL,
    502: ErrorCode.BAD_GATEWAY,
    503: ErrorCode.UNAVAILABLE,
    504: ErrorCode.TIMEOUT,
}
FAULT_STATUSES = tuple(sorted(_FAULT_CODES))


def _agent_of(ex: Exchange) -> str | None:
    return ex.path.get("agent_id") or ex.path.get("agent_code")


async def _apply(rule: FaultRule, world: World, ex: Exchange) -> None:
    """Delay, or refuse, as the fault rule says (``drop`` is handled by the caller)."""
    if rule.kind == "latency":
        await asyncio.sleep(world.faults.jitter(rule))
        return
    if rule.kind == "rate_limit":
        now = world.clock.now()
        bucket = getattr(ex.principal, "rate_limit", None)  # a bitHuman account's own limit, if any
        limit = bucket.per_minute if bucket is not None else WRITE_TIER_PER_MINUTE[DEFAULT_TIER]
        admission = Admission(False, limit, 0, int(now + rule.retry_after), rule.retry_after)
        raise DomainError(
            ErrorCode.RATE_LIMITED, rule.message or "Rate limit exceeded (injected fault)", admission=admission
        )
    status = rule.status or 500
    raise DomainError(
        _FAULT_CODES.get(status, ErrorCode.INTERNAL),
        rule.message or f"Injected fault: HTTP {status}",
        fault_status=status,
    )


async def _drain(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The request's body, read to its end before a drop (an oversized one is not kept).

    Closing a socket that still holds unread bytes makes the kernel answer with a reset, and a
    client may then see ``connection reset`` instead of the cut response, or nothing at all: the
    drop would look different from run to run.
    """
    try:
        return await read_body(receive, declared, limit)
    except DomainError:  # over the limit: the connection is cut anyway
        return b""


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


@dataclass(slots=True)
class Trace:
    """What the journal keeps of one request, filled in as the request goes through the pipeline."""

    scope: Scope
    started: float  # perf_counter() when the request reached its endpoint
    operation: Operation | None = None  # None: no operation was chosen (unknown route, wrong method)
    tenant: str | None = None
    raw: bytes = b""  # the body as sent, parsed or not: the journal parses what it shows
    fault: FaultRule | None = None
    response: Response | None = None  # None: the connection was dropped
    failure: DomainError | None = None
    near_miss: dict[str, str] | None = None  # the operation meant, and why it failed


# The ASGI scope key under which ``journal`` leaves the request's entry (read by the access log).
JOURNAL_ENTRY = "mockserver.journal_entry"


def journal(world: World, trace: Trace) -> None:
    """Record one request in the world's journal, which keeps a bounded copy (redacted when read)."""
    if not world.journal.limit:
        return
    scope, op, response, failure, fault = trace.scope, trace.operation, trace.response, trace.failure, trace.fault
    # The access log reads the operation, tenant and error code from here instead of recomputing.
    scope[JOURNAL_ENTRY] = world.journal.record(
        world.clock.now(),
        scope["method"],
        scope["path"],
        scope.get("query_string", b""),
        op.operation_id if op is not None else None,
        trace.tenant,
        response.status_code if response is not None else 0,
        (time.perf_counter() - trace.started) * 1000,
        scope.get("headers", []),
        trace.raw,
        response.body if response is not None else b"",
        failure.code if failure is not None else None,
        trace.near_miss,
        fault.describe() if fault is not None else None,
    )
