"""Fixture files: the default world, the format's schema, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver import World
from mockserver.fixtures import FixtureError, fixture_schema, load_fixture_file, load_fixture_text

from .conftest import DEFAULT_FIXTURE, ROOT

DOC_ROOMS = {
    "customer_session_1",
    "vip_session_42",
    "support_session_1",
    "room_123",
    "room_456",
    "order_confirmation_room",
    "vip_customer_session",
}


def test_default_fixture_has_the_docs_world() -> None:
    world = World()
    world.load(load_fixture_file(DEFAULT_FIXTURE))
    for secret in ("your_secret", "YOUR_API_SECRET"):
        account = world.bithuman.authenticate(secret)
        assert set(account.agents["A12345678"].active_rooms()) >= DOC_ROOMS
    assert any(not agent.active_rooms() for agent in world.bithuman.accounts["demo"].agents.values())
    assert world.bithuman.dialect_of(world.bithuman.accounts["demo-legacy"]) == "legacy"


@pytest.mark.parametrize("path", sorted((ROOT / "fixtures").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_fixture_is_valid(path: Path) -> None:
    load_fixture_file(path)


def test_schema_is_shipped_and_2020_12() -> None:
    assert fixture_schema()["$schema"].endswith("2020-12/schema")


@pytest.mark.parametrize(
    ("text", "place", "words"),
    [
        ("version: 2\n", "1: version", "1 was expected"),
        ("bithuman:\n  accounts:\n    - id: a\n", "3: bithuman.accounts[0]", "secrets"),
        (
            "bithuman:\n  accounts:\n    - id: a\n      secrets: [s]\n      dialect: klingon\n",
            "5: bithuman.accounts[0].dialect",
            "klingon",
        ),
        ("bithuman:\n  acounts: []\n", "2: bithuman", "acounts"),
        (
            "bithuman:\n  accounts:\n    - {id: a, secrets: [s]}\n    - {id: b, secrets: [s]}\n",
            "4: bithuman.accounts[1].secrets[0]",
            "already belongs",
        ),
        (
            "bithuman:\n  accounts:\n    - {id: a, secrets: [s]}\n    - {id: a, secrets: [t]}\n",
            "4: bithuman.accounts[1].id",
            "used twice",
        ),
        (
            "bithuman:\n  accounts:\n    - id: a\n      secrets: [s]\n      agents: [{code: X}, {code: X}]\n",
            "5: bithuman.accounts[0].agents[1].code",
            "defined twice",
        ),
        ("bithuman: [\n", "2", "not valid YAML"),
    ],
)
def test_errors_name_the_place(text: str, place: str, words: str) -> None:
    with pytest.raises(FixtureError) as err:
        load_fixture_text(text, "world.yaml")
    message = str(err.value)
    assert f"world.yaml:{place}" in message, message
    assert words in message


def test_missing_file() -> None:
    with pytest.raises(FixtureError, match="No such file"):
        load_fixture_file("/nonexistent/world.yaml")


def test_clock_and_seed_from_a_fixture() -> None:
    world = World()
    world.load(load_fixture_text("seed: 5\nclock: {freeze_at: '2024-01-15T10:30:00Z'}\n"))
    assert world.clock.frozen and world.clock.now() == 1705314600.0
    assert world.ids.seed == 5


def test_rate_limited_fixture_limits_on_the_mock_clock() -> None:
    world = World()
    world.load(load_fixture_file(ROOT / "fixtures" / "rate-limited.yaml"))
    account = world.bithuman.authenticate("YOUR_API_SECRET")
    assert all(world.bithuman.admit(account) for _ in range(30))
    with pytest.raises(Exception, match="Rate limit"):
        world.bithuman.admit(account)
    world.clock.advance(2)
    assert world.bithuman.admit(account)


def test_no_active_rooms_fixture() -> None:
    world = World()
    world.load(load_fixture_file(ROOT / "fixtures" / "no-active-rooms.yaml"))
    with pytest.raises(Exception, match="No active rooms found for agent A12345678"):
        world.bithuman.bithuman_speak(world.bithuman.authenticate("your_secret"), "A12345678", "hi", None)
