"""Hostile inputs and unbounded growth (issue 14): each attack report, and the class it stands for.

Every answer here is a clear 4xx in the vendor's envelope or the control plane's problem+json,
never a 500; what cannot be refused is bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import World
from mockserver.fixtures import MAX_DEPTH, MAX_NODES, FixtureError, load_fixture_file, load_fixture_text, parse_yaml

YAML = {"Content-Type": "application/yaml"}

# The reported 496-byte document: nine levels of nine aliases, 9**9 (387 million) strings expanded.
BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


# -- 1. YAML alias bombs, size and depth ---------------------------------------------------------


def test_alias_bomb_is_refused_before_it_expands(client: TestClient) -> None:
    r = client.post("/_mock/fixtures", content=BILLION_LAUGHS, headers=YAML)
    body = _problem(r, 400)
    assert "expands to more than" in body["detail"]
    assert len(r.content) < 2000  # the offending value is never echoed


def test_aliases_within_the_bound_still_work() -> None:
    document = parse_yaml("room: &r {id: s1, active: false}\nagain: *r\n")
    assert document["again"] == {"id": "s1", "active": False}


@pytest.mark.parametrize("levels", [7, 8, 9])
def test_every_bomb_level_is_bounded(levels: int) -> None:
    lines = BILLION_LAUGHS.splitlines()[:levels]
    with pytest.raises(FixtureError, match="expands to more than"):
        load_fixture_text("\n".join(lines), "bomb.yaml")


def test_a_wide_flat_document_is_bounded_too() -> None:
    with pytest.raises(FixtureError, match=f"more than {MAX_NODES} nodes"):
        load_fixture_text("[" + ",".join(["1"] * (MAX_NODES + 1)) + "]")


def test_fixture_files_are_bounded(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS)
    with pytest.raises(FixtureError, match="bomb.yaml:6: the document expands"):
        load_fixture_file(bomb)
    big = tmp_path / "big.yaml"
    big.write_text("description: " + "x" * (1024 * 1024 + 1))
    with pytest.raises(FixtureError, match="larger than 1048576 bytes"):
        load_fixture_file(big)


def test_oversized_yaml_body_is_413(client: TestClient) -> None:
    r = client.post("/_mock/fixtures", content="description: " + "x" * (1024 * 1024), headers=YAML)
    _problem(r, 413)


# -- 2. depth, and all-or-nothing loading ------------------------------------------------------


def test_yaml_nested_900_levels_is_a_4xx(client: TestClient) -> None:
    r = client.post("/_mock/fixtures", content="[" * 900 + "]" * 900, headers=YAML)
    assert f"deeper than {MAX_DEPTH}" in _problem(r, 400)["detail"]


def test_json_nested_900_levels_is_a_4xx(client: TestClient) -> None:
    r = client.post(
        "/_mock/fixtures",
        content="{" + '"description": [' * 900 + "]" * 900 + "}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_fixture_that_fails_half_way_changes_nothing(client: TestClient) -> None:
    before = client.get("/_mock/faults").json()
    r = client.post(
        "/_mock/fixtures",
        json={"faults": [{"kind": "error", "operation": "bithuman_speak", "status": 503}], "clock": {"freeze_at": "x"}},
    )
    assert "clock.freeze_at" in _problem(r, 422)["detail"]
    assert client.get("/_mock/faults").json() == before


def test_a_conflict_with_the_world_rolls_the_whole_document_back(client: TestClient, world: World) -> None:
    # The second account's secret belongs to an existing account the document does not replace:
    # only applying it can find that out, after the first account and the fault are in.
    tenants = world.tenants()
    clock = client.get("/_mock/clock").json()
    r = client.post(
        "/_mock/fixtures",
        json={
            "seed": 99,
            "clock": {"freeze_at": 0},
            "faults": [{"kind": "rate_limit"}],
            "bithuman": {
                "accounts": [
                    {"id": "new-one", "secrets": ["fresh"]},
                    {"id": "thief", "secrets": ["legacy_api_secret"]},
                ]
            },
        },
    )
    _problem(r, 409)
    assert world.tenants() == tenants
    assert client.get("/_mock/faults").json() == []
    assert client.get("/_mock/clock").json() == clock
    assert world.seed == 1234
    assert (
        client.post("/v1/agent/A12345678/speak", json={"message": "hi"}, headers={"api-secret": "fresh"}).status_code
        == 401
    )


def test_replace_that_fails_keeps_the_world(client: TestClient, world: World) -> None:
    tenants = world.tenants()
    client.post("/v1/agent/A12345678/speak", json={"message": "hi"}, headers={"api-secret": "YOUR_API_SECRET"})
    events = client.get("/_mock/inbox").json()["count"]
    r = client.post(
        "/_mock/fixtures?replace=true",
        json={"bithuman": {"accounts": [{"id": "x", "secrets": ["s"]}]}, "clock": {"freeze_at": "x"}},
    )
    assert r.status_code == 422
    assert world.tenants() == tenants
    assert client.get("/_mock/inbox").json()["count"] == events


# -- 3. clock inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"at": 1e300},
        {"at": -1},
        {"at": 253402300800},
        {"at": "99999-01-01T00:00:00Z"},
        {"at": "0001-01-01T00:00:00+14:00"},
        {"at": "x" * 100},
    ],
)
def test_freeze_out_of_range_is_refused_and_nothing_breaks(client: TestClient, body: dict[str, Any]) -> None:
    r = client.post("/_mock/clock/freeze", json=body)
    assert r.status_code in (400, 422), r.text
    assert len(r.content) < 1000
    _everything_still_answers(client)


def test_advance_past_year_9999_is_refused(client: TestClient) -> None:
    assert client.post("/_mock/clock/freeze", json={"at": "9999-12-01T00:00:00Z"}).status_code == 200
    r = client.post("/_mock/clock/advance", json={"seconds": 31536000})
    assert "9999" in _problem(r, 422)["detail"]
    assert client.post("/_mock/clock/advance", json={"seconds": 3600}).status_code == 200
    _everything_still_answers(client)


@pytest.mark.parametrize("body", [{"speed": 0}, {"speed": -1}, {"speed": 1e300}])
def test_resume_speed_is_bounded(client: TestClient, body: dict[str, Any]) -> None:
    _problem(client.post("/_mock/clock/resume", json=body), 422)


def test_a_fast_clock_stops_at_year_9999() -> None:
    real = [0.0]
    world = World()
    world.clock.__init__(lambda: real[0])  # type: ignore[misc]
    world.clock.freeze(253402300000)
    world.clock.resume(10000)
    real[0] = 1e9
    assert world.clock.now() == 253402300799


def test_fixture_clock_out_of_range_is_refused() -> None:
    with pytest.raises(FixtureError, match="clock.freeze_at"):
        load_fixture_text("clock: {freeze_at: 1.0e+300}")
    with pytest.raises(FixtureError, match="clock.freeze_at: 'yesterday' is not an ISO-8601"):
        load_fixture_text("clock: {freeze_at: yesterday}")


def _everything_still_answers(client: TestClient) -> None:
    assert client.get("/_mock/clock").status_code == 200
    assert client.get("/_mock/inbox").status_code == 200
    legacy = client.post(
        "/v1/agent/A12345678/speak", json={"message": "hi"}, headers={"api-secret": "legacy_api_secret"}
    )
    assert legacy.status_code == 200
    assert client.get("/_mock/inbox").status_code == 200
