"""The world on its own: purity, clock, inbox, ids, reset."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.world import Clock, DomainError, Inbox, World
from mockserver.world.ratelimit import TokenBucket

WORLD = Path(__file__).resolve().parents[1] / "mockserver" / "world"
WEB = {"starlette", "uvicorn", "httpx", "httpx2", "orjson", "sse_starlette"}


def test_world_imports_no_web_code_statically() -> None:
    for source in WORLD.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in WEB, f"{source.name} imports {name}"
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                raise AssertionError(f"{source.name} imports from outside the world: {node.module}")


def test_world_imports_no_web_code_at_run_time() -> None:
    # Importing mockserver.world runs mockserver/__init__.py first; what matters is that the
    # world does not need the web: load it as a top-level package from its own folder.
    code = (
        "import sys, importlib.util; "
        f"spec = importlib.util.spec_from_file_location('world', {str(WORLD / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(WORLD)!r}]); "
        "m = importlib.util.module_from_spec(spec); sys.modules['world'] = m; spec.loader.exec_module(m); "
        "m.World(seed=1); "
        f"print(sorted(x for x in sys.modules if x.split('.')[0] in {sorted(WEB)!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- clock ---------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_clock_follows_real_time_by_default() -> None:
    real = FakeTime()
    clock = Clock(real)
    real.t += 5
    assert clock.now() == 1005.0


def test_clock_freeze_advance_resume_speed() -> None:
    real = FakeTime()
    clock = Clock(real)
    assert clock.freeze() == 1000.0
    real.t += 100
    assert clock.now() == 1000.0
    assert clock.advance(30) == 1030.0
    clock.resume(speed=10)
    real.t += 1
    assert clock.now() == 1040.0
    clock.freeze(at=5)
    assert clock.now() == 5.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.resume(speed=0)
    clock.reset()
    assert clock.now() == real.t and not clock.frozen


def test_advancing_a_running_clock_keeps_it_running() -> None:
    real = FakeTime()
    clock = Clock(real)
    clock.advance(60)
    real.t += 1
    assert clock.now() == 1061.0


# -- inbox ---------------------------------------------------------------------------------------


def _event(inbox: Inbox, tenant: str, text: str, room: str | None = None) -> None:
    inbox.record(
        time=0.0,
        vendor="bithuman",
        tenant=tenant,
        agent="A",
        room=room,
        kind="speech",
        text=text,
        operation="bithuman_speak",
        outcome="delivered",
    )


def test_inbox_is_bounded_per_tenant() -> None:
    inbox = Inbox(limit=3)
    for i in range(10):
        _event(inbox, "t1", f"m{i}")
    _event(inbox, "t2", "other")
    assert [e.text for e in inbox.query(tenant="t1")] == ["m7", "m8", "m9"]
    assert len(inbox) == 4
    assert [e.id for e in inbox.query()] == [8, 9, 10, 11]


def test_inbox_filters_since_and_limit() -> None:
    inbox = Inbox()
    _event(inbox, "a", "1", room="r1")
    _event(inbox, "b", "2", room="r2")
    _event(inbox, "a", "3", room="r2")
    assert [e.text for e in inbox.query(room="r2")] == ["2", "3"]
    assert [e.text for e in inbox.query(since=1)] == ["2", "3"]
    assert [e.text for e in inbox.query(limit=1)] == ["3"]
    assert inbox.clear("a") == 2
    assert [e.text for e in inbox.query()] == ["2"]


def test_inbox_listeners_see_every_event() -> None:
    inbox = Inbox()
    seen: list[str] = []
    stop = inbox.subscribe(lambda e: seen.append(e.text))
    _event(inbox, "a", "x")
    stop()
    _event(inbox, "a", "y")
    assert seen == ["x"]


# -- token bucket --------------------------------------------------------------------------------


def test_token_bucket_refills_continuously() -> None:
    bucket = TokenBucket(60, now=0.0)
    assert all(bucket.take(0.0).allowed for _ in range(60))
    denied = bucket.take(0.0)
    assert not denied.allowed and denied.retry_after == 1 and denied.reset_at == 60
    assert bucket.take(1.0).allowed
    assert not bucket.take(1.0).allowed


# -- ids and reset -------------------------------------------------------------------------------


def test_same_seed_same_ids() -> None:
    a, b = World(seed=3), World(seed=3)
    assert [a.bithuman.create_account().id for _ in range(3)] == [b.bithuman.create_account().id for _ in range(3)]
    assert a.bithuman.create_agent(next(iter(a.bithuman.accounts))).code.startswith("A")


def test_reset_all_returns_to_boot_state() -> None:
    world = World(seed=1)
    world.load(
        {"bithuman": {"accounts": [{"id": "x", "secrets": ["s"], "agents": [{"code": "A1", "rooms": ["r"]}]}]}},
        boot=True,
    )
    first_id = world.bithuman.create_account().id
    world.bithuman.close_room("x", "A1", "r")
    world.clock.freeze(0)
    world.reset()
    assert set(world.tenants()) == {"x"}
    assert world.bithuman.accounts["x"].agents["A1"].rooms["r"].active
    assert not world.clock.frozen
    assert world.bithuman.create_account().id == first_id  # ids reseeded


def test_reset_one_tenant() -> None:
    world = World()
    world.load(
        {"bithuman": {"accounts": [{"id": "x", "secrets": ["s"], "agents": [{"code": "A1", "rooms": ["r"]}]}]}},
        boot=True,
    )
    world.bithuman.create_account("y", secrets=["t"])
    world.bithuman.close_room("x", "A1", "r")
    world.reset("x")
    assert world.bithuman.accounts["x"].agents["A1"].rooms["r"].active
    assert "y" in world.tenants()
    world.reset("y")
    assert "y" not in world.tenants()
    with pytest.raises(DomainError) as err:
        world.reset("nobody")
    assert err.value.code == "not_found"


def test_secret_belongs_to_one_account() -> None:
    world = World()
    world.bithuman.create_account("a", secrets=["same"])
    with pytest.raises(DomainError) as err:
        world.bithuman.create_account("b", secrets=["same"])
    assert err.value.code == "conflict"
