"""Routing is data: one Starlette route per path of a spec, bound by operationId.

Every operation in the document is served by the handler of the same name (a missing one fails
start-up), and every family renders every error code (an unmapped one fails start-up too). Each
path is served by a ``PathEndpoint`` (``pipeline.py``); a path no route matches by ``NotFound``, in
the envelope of the vendor whose prefix it is under.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .api.base import Exchange, Family
from .body import DEFAULT_BODY_LIMIT
from .contract import PathTable
from .pipeline import Bound, PathEndpoint, Trace, journal
from .spec import Spec
from .world import World
from .world.errors import DomainError, ErrorCode, missing_codes

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "MissingHandlerError",
    "NotFound",
    "SpecRouter",
    "bind",
    "build_endpoints",
    "check_families",
]


class MissingHandlerError(RuntimeError):
    """The spec has operations no handler serves, or a family cannot render every error code."""


def check_families(families: Mapping[str, Family]) -> None:
    """Refuse to start when a family's error table misses a declared code (it would become a 500)."""
    gaps = [
        f"{tag} ({name}): {', '.join(missing)}"
        for tag, family in families.items()
        for name, table in family.error_tables().items()
        if (missing := missing_codes(table))
    ]
    if gaps:
        raise MissingHandlerError(f"error code(s) not mapped by a family: {'; '.join(gaps)}")


def bind(spec: Spec, handlers: Mapping[str, Callable[[Exchange], Any]], families: Mapping[str, Family]) -> list[Bound]:
    """Pair each operation with its handler (same name) and its family (by tag)."""
    missing = sorted(op for op in spec.operations if op not in handlers)
    if missing:
        raise MissingHandlerError(f"no handler for operation(s): {', '.join(missing)}")
    unknown_tags = sorted({op.tag for op in spec.operations.values()} - set(families))
    if unknown_tags:
        raise MissingHandlerError(f"no error family for tag(s): {', '.join(unknown_tags)}")
    check_families(families)
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


class NotFound:
    """The app for paths no route matches: the envelope of the vendor whose prefix it is under."""

    def __init__(
        self,
        prefixes: Callable[[], list[tuple[str, Family]]],  # gives (path pattern, family) pairs
        fallback: Family,
        known: list[tuple[str, str, str]],
        world: World | None = None,
    ) -> None:
        # Asked for on the first refusal or unknown path, not at start-up: deriving the table from
        # the contract and compiling its patterns was a tenth of the mock's own start-up.
        self._prefix_source = prefixes
        self._prefixes: list[tuple[re.Pattern[str], Family]] | None = None
        self.fallback = fallback
        self.known = known  # (method, path template, operationId), for the "closest route" hint
        self.world = world
        # Paths longer than twice the longest route get no hint (see ``closest``).
        self.hint_limit = 2 * max((len(template) for _, template, _ in known), default=0) + 16

    @property
    def prefixes(self) -> list[tuple[re.Pattern[str], Family]]:
        """Patterns (regular expressions matched at the start of a path), most specific first."""
        if self._prefixes is None:
            # Two threads may both build it the first time: either list is the same.
            pairs = sorted(self._prefix_source(), key=lambda pair: -len(pair[0]))
            self._prefixes = [(re.compile(p), f) for p, f in pairs]
        return self._prefixes

    def family_for(self, path: str) -> Family:
        return next((family for prefix, family in self.prefixes if prefix.match(path)), self.fallback)

    def closest(self, method: str, path: str) -> tuple[str, str, str] | None:
        """(methods, template, operationId) of the route most like ``path``, if any is close."""
        # difflib is quadratic in the length of what it compares: a path far longer than any
        # route cannot be a typo of one, and comparing it would block the server for a while.
        if len(path) > self.hint_limit:
            return None
        import difflib  # here: only an unknown path needs it, and start-up should not import it

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
        trace = Trace(scope, time.perf_counter())
        closest = self.closest(method, path)
        hint = f"; closest route: {closest[0]} {closest[1]}" if closest else ""
        error = DomainError(ErrorCode.ROUTE_NOT_FOUND, f"No route for {method} {path}{hint}", path=path)
        family = self.family_for(path)
        response = family.finish(None, family.render(error, None))
        if family.vendor and self.world is not None:
            trace.response, trace.failure = response, error
            if closest:
                trace.near_miss = {"operation": closest[2], "reason": f"no route for {method} {path}"}
            journal(self.world, trace)
        await response(scope, receive, send)
