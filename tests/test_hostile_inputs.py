"""Hostile inputs and unbounded growth (issue 14): each attack report, and the class it stands for.

Every answer here is a clear 4xx in the vendor's envelope or the control plane's problem+json,
never a 500; what cannot be refused is bounded.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import World
from mockserver.fixtures import MAX_DEPTH, MAX_NODES, FixtureError, load_fixture_file, load_fixture_text, parse_yaml
from mockserver.world import agora as world_agora
from mockserver.world import bithuman as world_bithuman
from mockserver.world import faults as world_faults
from mockserver.world import telephony as world_telephony
from mockserver.world.agora import MAX_LIVE_AGENTS, STOPPED_KEPT, Principal
from mockserver.world.conversation import QUEUE_LIMIT, Conversation
from mockserver.world.errors import DomainError
from mockserver.world.inbox import Inbox

from .conftest import DEFAULT_FIXTURE

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


# -- 4. unbounded growth ---------------------------------------------------------------------------

AGORA = "/api/conversational-ai-agent/v2"
DEMO_AUTH = {"authorization": "Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode()}


def _join_body(name: str, uid: str = "0", channel: str = "hostile") -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "channel": channel,
            "token": "",
            "agent_rtc_uid": uid,
            "remote_rtc_uids": ["*"],
            "idle_timeout": 0,
            "llm": {"url": "https://llm.example/v1/chat/completions"},
            "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus"}},
        },
    }


def _start(world: World, name: str, **kw: Any) -> str:
    customer = world.agora.get_customer("demo-customer-id")
    project = world.agora.get_project("demo-app-id")
    return world.agora.start_agent(Principal(customer), project, _join_body(name, **kw)).agent_id


def test_a_project_without_a_limit_still_has_one(client: TestClient, world: World) -> None:
    world.agora.update_project("demo-app-id", {"concurrency_limit": None})
    for i in range(MAX_LIVE_AGENTS):
        _start(world, f"a{i}")
    r = client.post(f"{AGORA}/projects/demo-app-id/join", json=_join_body("one-more"), headers=DEMO_AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "ConcurrencyLimitExceeded"
    assert f"limit {MAX_LIVE_AGENTS}" in r.json()["detail"]
    # A finished agent frees its place, and a new one may reuse its name.
    world.agora.fail_agent("demo-app-id", world.agora.get_project("demo-app-id").live_names["a7"], "bye")
    r = client.post(f"{AGORA}/projects/demo-app-id/join", json=_join_body("a7"), headers=DEMO_AUTH)
    assert r.status_code == 200, r.text


def test_join_looks_at_a_constant_number_of_agents(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.load(load_fixture_file(DEFAULT_FIXTURE))
    world.clock.freeze(1705314600.0)
    world.agora.update_project("demo-app-id", {"concurrency_limit": None})
    for i in range(300):
        _start(world, f"a{i}", uid=str(1000 + i))
    advanced: list[int] = []
    original = Conversation.advance
    monkeypatch.setattr(Conversation, "advance", lambda self, now: advanced.append(1) or original(self, now))
    _start(world, "a0-again", uid="5")
    with pytest.raises(DomainError, match="name 'a5' is already in use"):
        _start(world, "a5")
    with pytest.raises(DomainError, match="agent_rtc_uid '1009' is already used"):
        _start(world, "new", uid="1009")
    assert len(advanced) <= 6  # the new agent itself, and one clash each: never the 300 others


def test_finished_agents_are_forgotten_beyond_the_bound(world: World) -> None:
    world.load(load_fixture_file(DEFAULT_FIXTURE))
    project = world.agora.get_project("demo-app-id")
    for i in range(STOPPED_KEPT + 50):
        agent_id = _start(world, f"a{i}")
        world.agora.fail_agent("demo-app-id", agent_id, "done")
    assert len(project.agents) <= STOPPED_KEPT + project.live_limit


def test_the_append_queue_of_one_agent_is_bounded(client: TestClient, world: World) -> None:
    agent_id = _start(world, "talker")
    project = world.agora.get_project("demo-app-id")
    world.agora.speak_agent(project, agent_id, "a long first sentence " * 10, "INTERRUPT", True)
    for i in range(QUEUE_LIMIT):
        assert world.agora.speak_agent(project, agent_id, f"then {i}", "APPEND", True)[1] == "queued"
    url = f"{AGORA}/projects/demo-app-id/agents/{agent_id}/speak"
    r = client.post(url, json={"text": "one too many", "priority": "APPEND"}, headers=DEMO_AUTH)
    assert r.status_code == 429, r.text
    assert r.json()["reason"] == "ResourceQuotaLimitExceeded" and "queued" in r.json()["detail"]
    think = client.post(
        f"{AGORA}/projects/demo-app-id/agents/{agent_id}/think",
        json={"text": "also", "on_speaking_action": "append"},
        headers=DEMO_AUTH,
    )
    assert think.status_code == 429, think.text
    # INTERRUPT still works: it drops the queue.
    r = client.post(url, json={"text": "now", "priority": "INTERRUPT"}, headers=DEMO_AUTH)
    assert r.status_code == 200
    assert len(world.agora.agent("demo-app-id", agent_id).conversation.queue) == 0


def test_a_user_queued_behind_speech_is_bounded(client: TestClient, world: World) -> None:
    agent_id = _start(world, "talker")
    project = world.agora.get_project("demo-app-id")
    world.agora.speak_agent(project, agent_id, "a long first sentence " * 10, "INTERRUPT", False)
    for i in range(QUEUE_LIMIT):
        world.agora.user_says("demo-app-id", agent_id, f"hello {i}")
    r = client.post(f"/_mock/agora/projects/demo-app-id/agents/{agent_id}/user/say", json={"text": "more"})
    assert "queued" in _problem(r, 409)["detail"]


@pytest.mark.parametrize(
    ("module", "bound", "method", "path", "body"),
    [
        ("bithuman", "MAX_ACCOUNTS", "POST", "/_mock/bithuman/accounts", {}),
        ("bithuman", "MAX_AGENTS", "POST", "/_mock/bithuman/accounts/demo/agents", {}),
        ("bithuman", "MAX_ROOMS", "POST", "/_mock/bithuman/accounts/demo/agents/A12345678/rooms", {}),
        ("agora", "MAX_CUSTOMERS", "POST", "/_mock/agora/customers", {}),
        ("agora", "MAX_PROJECTS", "POST", "/_mock/agora/customers/demo-customer-id/projects", {}),
        ("faults", "MAX_RULES", "POST", "/_mock/faults", {"kind": "latency", "latency_ms": 1}),
    ],
)
def test_control_plane_collections_are_bounded(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    bound: str,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    target = {"bithuman": world_bithuman, "agora": world_agora, "faults": world_faults}[module]
    monkeypatch.setattr(target, bound, 1)
    for _ in range(2):
        r = client.request(method, path, json=body)
        if r.status_code != 201:
            break
    assert "at most 1" in _problem(r, 422)["detail"]


def test_phone_numbers_of_a_customer_are_bounded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world_telephony, "MAX_PHONE_NUMBERS", 1)
    number = {
        "provider": "byo",
        "label": "x",
        "phone_number": "+15550100999",
        "outbound_config": {"address": "sip.example.com", "transport": "tls"},
    }
    r = client.post(f"{AGORA}/phone-numbers", json=number, headers=DEMO_AUTH)
    assert r.status_code == 422, r.text
    assert "at most 1 phone numbers" in r.json()["description"]


def test_the_inbox_is_bounded_in_all() -> None:
    inbox = Inbox(limit=3, total=5)
    for tenant in ("old", "mid", "new"):
        for i in range(3):
            inbox.record(**_event_fields(tenant, f"{tenant}{i}"))
    assert len(inbox) == 5
    # The tenant written to least recently lost its events first.
    assert [e.text for e in inbox.query()] == ["mid1", "mid2", "new0", "new1", "new2"]
    assert inbox.clear() == 5 and len(inbox) == 0


# -- 5. lossless inbox paging ----------------------------------------------------------------------


def test_inbox_pages_are_lossless(client: TestClient, world: World) -> None:
    for i in range(25):
        world.inbox.record(**_event_fields("pager", f"m{i}"))
    seen: list[str] = []
    cursor = 0
    for _ in range(10):
        page = client.get("/_mock/inbox", params={"tenant": "pager", "since": cursor, "limit": 10}).json()
        seen += [e["text"] for e in page["events"]]
        cursor = page["next"]
        if not page["more"]:
            break
    assert seen == [f"m{i}" for i in range(25)]
    empty = client.get("/_mock/inbox", params={"tenant": "pager", "since": cursor, "limit": 10}).json()
    assert empty["events"] == [] and empty["next"] == cursor and empty["more"] is False
    # Without `since`, `limit` still keeps the latest (documented).
    latest = client.get("/_mock/inbox", params={"tenant": "pager", "limit": 2}).json()
    assert [e["text"] for e in latest["events"]] == ["m23", "m24"]


def _event_fields(tenant: str, text: str) -> dict[str, Any]:
    return {
        "time": 0.0,
        "vendor": "bithuman",
        "tenant": tenant,
        "agent": "A1",
        "room": "r",
        "kind": "speech",
        "text": text,
        "operation": "bithuman_speak",
        "outcome": "delivered",
    }


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        ("/_mock/bithuman/accounts", {}, {"id": "huge", "secrets": ["s"], "dialect": "z" * 500_000}),
        ("/v1/agent/A12345678/speak", {"api-secret": "YOUR_API_SECRET"}, {"message": "hi", "room_id": ["q" * 400_000]}),
        ("/v1/agent/A12345678/speak", {"api-secret": "YOUR_API_SECRET"}, {"messag" + "e" * 300_000: "hi", "type": 1}),
    ],
)
def test_a_validation_error_never_echoes_a_huge_value_whole(
    client: TestClient, path: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    r = client.post(path, json=body, headers=headers)
    assert 400 <= r.status_code < 500
    assert len(r.content) < 2_000, r.text[:300]


def test_a_fixture_the_world_cannot_apply_is_a_422_not_a_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = client.app.state.world  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> list[str]:
        raise TypeError("a combination the schema admits")

    monkeypatch.setattr(world, "load", broken)
    r = client.post("/_mock/fixtures", json={"bithuman": {"accounts": []}})
    problem = _problem(r, 422)
    assert "unchanged" in problem["detail"]


def test_a_catastrophic_responder_pattern_cannot_hold_the_server(client: TestClient) -> None:
    # "(a+)+$" against "aaa…b" backtracks 2^n times with the standard library's re.
    r = client.patch(
        "/_mock/agora/projects/demo-app-id",
        json={"responder": [{"match": "(a+)+$", "reply": "matched"}, {"match": "a", "reply": "fallback"}]},
    )
    assert r.status_code == 200, r.text
    project = client.app.state.world.agora.projects["demo-app-id"]  # type: ignore[attr-defined]
    assert project.reply_to("a" * 40 + "b") == "fallback"  # the runaway rule counts as no match
    assert project.reply_to("aaa") == "matched"


def test_responder_rules_are_bounded_in_size_and_expansion(client: TestClient) -> None:
    too_long = client.patch(
        "/_mock/agora/projects/demo-app-id", json={"responder": [{"match": "x" * 501, "reply": "r"}]}
    )
    _problem(too_long, 422)
    r = client.patch("/_mock/agora/projects/demo-app-id", json={"responder": [{"match": ".", "reply": "{text}" * 300}]})
    assert r.status_code == 200, r.text
    project = client.app.state.world.agora.projects["demo-app-id"]  # type: ignore[attr-defined]
    assert len(project.reply_to("y" * 5_000)) == 10_000
