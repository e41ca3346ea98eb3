"""``create_app``: the ASGI application serving both vendors and the control plane.

Routes come from the two specs (the vendors' ``openapi.yaml`` and the control plane's
``admin/openapi.yaml``); each operationId is served by the function of the same name in
``api/`` or ``admin/handlers.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp

from .accesslog import AccessLog
from .admin import ProblemFamily, dashboard, faults, journal, stream
from .admin import chaos as admin_chaos
from .admin import coverage as admin_coverage
from .admin import handlers as admin_handlers
from .admin import webhooks as admin_webhooks
from .api import agora, bithuman, telephony
from .api import webhooks as api_webhooks
from .api.base import Exchange, Family
from .contract import load_contract
from .docs_page import DocsPages
from .fixtures import load_fixture_file
from .guard import Guard, GuardSettings
from .routing import DEFAULT_BODY_LIMIT, NotFound, SpecRouter, bind, build_endpoints
from .spec import load_spec
from .webhooks import attach as attach_webhooks
from .world import World

__all__ = ["MockApp", "create_app", "default_handlers"]


class MockApp(Starlette):
    """Starlette, without the two middlewares it wraps every app in.

    Every endpoint renders its own refusals in its vendor's envelope and catches what it did not
    expect (see ``pipeline``), so Starlette's ``ExceptionMiddleware`` would only wrap every request
    and its ``send`` once more. Its ``ServerErrorMiddleware`` would answer an exception escaping
    the app with a plain 500 and raise it again, which is what uvicorn (and the test clients) do
    with an exception anyway; each layer costs every request a call and a wrapped ``send``.
    """

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


def default_handlers() -> dict[str, Callable[[Exchange], Any]]:
    """operationId -> handler, from every module that serves operations."""
    table: dict[str, Callable[[Exchange], Any]] = {}
    vendor = (bithuman, agora, telephony, api_webhooks)
    admin = (admin_handlers, dashboard, stream, journal, faults, admin_webhooks, admin_chaos, admin_coverage)
    for module in (*vendor, *admin):
        for name in module.__all__:
            value = getattr(module, name)
            if callable(value) and not isinstance(value, type):
                table[name] = value
    return table


def create_app(
    world: World | None = None,
    *,
    fixtures: Iterable[str | Path] = (),
    seed: int | None = None,
    bithuman_dialect: str = "current",
    body_limit: int = DEFAULT_BODY_LIMIT,
    handlers: Mapping[str, Callable[[Exchange], Any]] | None = None,
    access_log: bool = False,
    control_token: str | None = None,
    allowed_hosts: Iterable[str] | None = None,
) -> Starlette:
    """Build the mock.

    Args:
        world: an existing world to serve (a new one is made otherwise).
        fixtures: fixture files applied at start-up; ``reset`` returns to them.
        seed: seed for generated ids (new world only).
        bithuman_dialect: ``current``, ``transitional`` or ``legacy`` (new world only).
        body_limit: the largest request body accepted, in bytes.
        handlers: replaces the operationId -> handler table (tests use it).
        access_log: wrap the app in the one-line-per-request logger.
        control_token: when set, every control-plane request must carry it (see docs/security.md).
        allowed_hosts: ``Host`` names served; ``None`` serves any (an app called in process).
            ``MockServer`` and ``mockserver serve`` set them when they bind.

    Raises:
        MissingHandlerError: an operation of a spec has no handler.
        FixtureError: a fixture file is invalid.
    """
    world = world or World(seed=seed, bithuman_dialect=bithuman_dialect)
    for path in fixtures:
        world.load(load_fixture_file(path), boot=True)
    vendor_spec, admin_spec = load_spec(), load_spec("admin/openapi.yaml")
    families: dict[str, Family] = {
        "bitHuman Agent Context": bithuman.BitHumanFamily(world),
        "bitHuman Webhooks": bithuman.BitHumanFamily(world),
        "Agora Agents": agora.AgoraFamily(world),
        "Agora Telephony": telephony.TelephonyFamily(world),
        "Agora Phone Numbers": telephony.TelephonyFamily(world),
        "Control plane": ProblemFamily(),
    }
    table = handlers if handlers is not None else default_handlers()
    bound = bind(vendor_spec, table, families) + bind(admin_spec, table, families)
    endpoints = build_endpoints(bound, world, body_limit)
    known = [(b.operation.method, b.operation.path, b.operation.operation_id) for b in bound]

    # An unknown path is answered in the envelope of the tag whose prefix it is under (the
    # contract's table: each tag's x-path-prefix, or what its operations' paths alone start with).
    def prefixes() -> list[tuple[str, Family]]:
        return [(pattern, families[tag]) for pattern, tag in load_contract().prefixes() if tag in families]

    not_found = NotFound(prefixes, families["Control plane"], known, world)
    app = MockApp()
    # Routing is the spec's table (see SpecRouter); Starlette keeps the middleware stack around it.
    # The contract (/openapi.yaml, /openapi.json) and the browsable docs (/docs) are paths no
    # operation has: served where an unknown path would be answered 404.
    app.router = SpecRouter(endpoints, DocsPages(not_found))  # type: ignore[assignment]
    app.state.world = world
    app.state.webhooks = attach_webhooks(world)  # delivers webhooks in a thread of its own, once configured
    app.state.started = time.monotonic()
    app.state.guard = GuardSettings(
        allowed_hosts=tuple(allowed_hosts) if allowed_hosts is not None else None, control_token=control_token or None
    )
    app.add_middleware(Guard, family_for=not_found.family_for, settings=app.state.guard)
    if access_log:
        app.add_middleware(AccessLog)
    return app
