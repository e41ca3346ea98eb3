"""The run's target, built once per process from the command line (conftest.py calls ``configure``).

Test modules build their schemathesis schema at import time, before fixtures exist, so the target
lives here rather than in a fixture. It is created on first use, which under xdist happens in each
worker and never in the controller, and closed (arranged tenants deleted) when pytest ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

from mockserver.client import ASGITransport, ControlClient, ControlError, HTTPTransport

from .credentials import Credentials
from .http import Http, Recorded
from .real_env import RealEnv
from .target import DEFAULT_FIXTURE, IN_PROCESS_URL, Target
from .throttle import Throttle

__all__ = ["Options", "close", "configure", "in_process_target", "options", "target"]


@dataclass(frozen=True)
class Options:
    target: str = "mock"
    base_url: str | None = None
    allow_costly: bool = False
    allow_destructive: bool = False
    thorough: bool = False


_options = Options()
_target: Target | None = None


def configure(opts: Options) -> None:
    global _options
    _options = opts


def options() -> Options:
    return _options


def target() -> Target:
    """The run's target, arranged on first use."""
    global _target
    if _target is None:
        _target = _build(_options)
    return _target


def close() -> None:
    global _target
    if _target is not None:
        _target.close()
        _target = None


def in_process_target(app: Any, *, thorough: bool = False, counted: bool = True) -> Target:
    """A mock target for an ASGI app of this process, with a fresh tenant of each vendor arranged.

    ``counted=False`` keeps what it answers out of the run's summary (the suite's self-tests).
    """
    http = Http(TestClient(app, base_url=IN_PROCESS_URL, raise_server_exceptions=True), record=counted)
    # Recorded: control-plane calls show in failures' replays.
    control = ControlClient(Recorded(ASGITransport(app, IN_PROCESS_URL), record=counted))
    target = Target(
        "mock",
        IN_PROCESS_URL,
        IN_PROCESS_URL,
        app=app,
        control=control,
        http=http,
        thorough=thorough,
        counted=counted,
    )
    _arrange(target)
    return target


def _arrange(target: Target) -> None:
    bithuman, agora = target.arrange_bithuman(), target.arrange_agora()
    target.credentials = Credentials(
        bithuman_secret=bithuman.bithuman_secret,
        bithuman_agent=bithuman.bithuman_agent,
        bithuman_rooms=bithuman.bithuman_rooms,
        agora_customer=agora.agora_customer,
        agora_secret=agora.agora_secret,
        agora_appid=agora.agora_appid,
        agora_from_number=agora.agora_from_number,
        agora_to_number=agora.agora_to_number,
    )


def _build(opts: Options) -> Target:
    if opts.target == "mock":
        from mockserver import World, create_app

        return in_process_target(create_app(World(seed=11), fixtures=[DEFAULT_FIXTURE]), thorough=opts.thorough)
    if opts.target == "url":
        assert opts.base_url, "--target url needs --base-url"
        url = opts.base_url.rstrip("/")
        control = ControlClient(Recorded(HTTPTransport(url, timeout=30.0)))
        try:
            control.get_health()
        except ControlError as exc:
            raise RuntimeError(f"{url} is not an agent-mockserver (GET /_mock/health answered {exc.status})") from exc
        target = Target(
            "url",
            url,
            url,
            control=control,
            http=Http(httpx.Client(timeout=30.0)),
            allow_costly=True,
            allow_destructive=True,
            thorough=opts.thorough,
        )
        _arrange(target)
        return target
    env = RealEnv.read()
    return Target(
        "real",
        env.bithuman_url,
        env.agora_url,
        env=env,
        allow_costly=opts.allow_costly,
        allow_destructive=opts.allow_destructive,
        thorough=opts.thorough,
        # bitHuman: the documented per-account write bucket (burst = the per-minute number; we
        # keep a burst of 1 so probes and retries never drain it). Agora documents no number.
        throttles={"bithuman": Throttle(env.bithuman_per_minute / 60.0), "agora": Throttle(env.agora_per_second)},
        credentials=Credentials(
            bithuman_secret=env.bithuman_secret,
            bithuman_agent=env.bithuman_agent,
            bithuman_rooms=[env.bithuman_room] if env.bithuman_room else [],
            agora_customer=env.agora_customer,
            agora_secret=env.agora_secret,
            agora_appid=env.agora_appid,
            agora_from_number=env.agora_from,
            agora_to_number=env.agora_to,
        ),
    )
