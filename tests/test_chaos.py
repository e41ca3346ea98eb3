"""Chaos scenarios: bitHuman over plain HTTP, the control plane, fixtures, seeding and scope.

The Agora scenarios, through the official SDK, are in test_chaos_agora.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.fixtures import check_document
from mockserver.world import World
from mockserver.world.chaos import SCENARIOS

from .conftest import DOCS_SECRET, ROOT
from .test_pytest_plugin import INI, PLUGIN  # noqa: F401 (the same nested-session setup)

pytest_plugins = ["pytester"]

SPEAK = "/v1/agent/A12345678/speak"


def add(client: TestClient, scenario: str, **options: Any) -> dict[str, Any]:
    r = client.post("/_mock/chaos/rules", json={"scenario": scenario, **options})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


# -- bitHuman, as a client sees it -------------------------------------------------------------------


def test_room_closes_between_two_deliveries(client: TestClient, world: World) -> None:
    add(client, "room_closes_between_deliveries", tenant="demo", agent="SUPPORT_AGENT")
    first = client.post("/v1/agent/SUPPORT_AGENT/speak", json={"message": "one"}, headers={"api-secret": DOCS_SECRET})
    assert first.status_code == 200, first.text
    second = client.post("/v1/agent/SUPPORT_AGENT/speak", json={"message": "two"}, headers={"api-secret": DOCS_SECRET})
    assert second.status_code == 404
    error = second.json()["error"]
    assert error["code"] == "NOT_FOUND" and error["message"].startswith("No active rooms found")
    kinds = [(e.kind, e.outcome, e.room) for e in world.inbox.query(tenant="demo", agent="SUPPORT_AGENT")]
    assert kinds == [
        ("speech", "delivered", "support_lobby"),
        ("chaos", "room_closes_between_deliveries", "support_lobby"),
    ]


def test_a_named_room_closes_only_once_a_delivery_reached_it(client: TestClient, world: World) -> None:
    add(client, "room_closes_between_deliveries", tenant="demo", agent="A12345678", channel="room_2")
    headers = {"api-secret": DOCS_SECRET}
    one = client.post(SPEAK, json={"message": "a", "room_id": "room_1"}, headers=headers)
    assert one.status_code == 200 and world.bithuman.get_agent("demo", "A12345678").rooms["room_2"].active
    two = client.post(SPEAK, json={"message": "b", "room_id": "room_2"}, headers=headers)
    assert two.status_code == 200 and not world.bithuman.get_agent("demo", "A12345678").rooms["room_2"].active
    three = client.post(SPEAK, json={"message": "c", "room_id": "room_2"}, headers=headers)
    assert three.status_code == 404


def test_rules_given_to_the_world_directly_are_checked_too(world: World) -> None:
    from mockserver.world.errors import DomainError

    for spec in (
        {"scenario": "rtc_drop", "at": "soon"},
        {"scenario": "rtc_drop", "tenant": 5},
        {"scenario": "rtc_drop", "params": [1]},
        {"scenario": "rtc_drop", "probability": "often"},
    ):
        with pytest.raises(DomainError):
            world.chaos.add(spec)


def test_a_burst_trips_the_rate_limit(client: TestClient) -> None:
    add(client, "rate_limit_burst", tenant="demo", times=2, retry_after=3)
    for _ in range(2):
        r = client.post(SPEAK, json={"message": "hi"}, headers={"api-secret": DOCS_SECRET})
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "RATE_LIMITED"
        assert (r.headers["retry-after"], r.headers["x-ratelimit-remaining"]) == ("3", "0")
    assert client.post(SPEAK, json={"message": "hi"}, headers={"api-secret": DOCS_SECRET}).status_code == 200
    # Another tenant was never touched.
    legacy = client.post(SPEAK, json={"message": "hi"}, headers={"api-secret": "legacy_api_secret"})
    assert legacy.status_code == 200


# -- the control plane -----------------------------------------------------------------------------


def test_scenarios_rules_and_their_scope(client: TestClient, world: World) -> None:
    names = [s["name"] for s in client.get("/_mock/chaos/scenarios").json()]
    assert names == list(SCENARIOS)
    rule = add(client, "agent_fails", tenant="t1", params={"when": "thinking"}, times=None, probability=0.5)
    assert rule["params"] == {"when": "thinking", "message": "internal error"} and rule["times"] is None
    add(client, "rtc_drop", tenant="t2")
    assert [r["tenant"] for r in client.get("/_mock/chaos/rules", params={"tenant": "t1"}).json()] == ["t1"]
    assert client.delete("/_mock/chaos/rules", params={"tenant": "t1"}).json() == {"dropped": 1}
    assert client.delete(f"/_mock/chaos/rules/{rule['id']}").status_code == 404
    world.reset("demo")  # a tenant reset drops that tenant's rules only
    assert len(client.get("/_mock/chaos/rules").json()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scenario": "meteor"}, "scenario"),
        ({"scenario": "agent_fails", "when": "dancing"}, "params.when"),
        ({"scenario": "agent_fails", "params": {"count": 3}}, "params.count"),
        ({"scenario": "barge_in_storm", "count": "many"}, "params.count"),
        ({"scenario": "tts_error", "keep_running": "yes"}, "params.keep_running"),
        ({"scenario": "rtc_drop", "whenn": "speaking"}, "whenn"),
        ({"scenario": "rtc_drop", "times": 0}, None),
        ({"scenario": "rtc_drop", "probability": 2}, None),
        ({"scenario": "rtc_drop", "params": []}, None),
    ],
)
def test_bad_rules_get_a_problem_not_a_500(client: TestClient, body: dict[str, Any], field: str | None) -> None:
    r = client.post("/_mock/chaos/rules", json=body)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert r.json().get("field") == field


# -- fixtures --------------------------------------------------------------------------------------


def test_the_fixture_schema_names_every_scenario() -> None:
    schema = json.loads((ROOT / "mockserver" / "fixture.schema.json").read_text())
    assert schema["properties"]["chaos"]["items"]["properties"]["scenario"]["enum"] == list(SCENARIOS)


def test_fixture_chaos_is_applied_and_reapplied_on_reset(world: World) -> None:
    document = check_document(
        {
            "bithuman": {"accounts": [{"id": "shop", "secrets": ["s"]}]},
            "chaos": [{"scenario": "rate_limit_burst", "tenant": "shop"}],
        },
        "<test>",
    )
    world.load(document, boot=True)
    assert [r.scenario for r in world.chaos.list_rules("shop")] == ["rate_limit_burst"]
    world.chaos.clear("shop")
    world.reset("shop")
    assert [r.scenario for r in world.chaos.list_rules("shop")] == ["rate_limit_burst"]


def test_a_fixture_with_a_bad_scenario_parameter_changes_nothing(world: World) -> None:
    document = check_document(
        {
            "bithuman": {"accounts": [{"id": "shop", "secrets": ["s"]}]},
            "chaos": [{"scenario": "barge_in_storm", "tenant": "shop", "params": {"count": -1}}],
        },
        "<test>",
    )
    with pytest.raises(Exception, match="count must be a number"):
        world.load(document)
    assert world.tenants() == {} and world.chaos.list_rules() == []


# -- seeding ---------------------------------------------------------------------------------------


def _fired_pattern(seed: int) -> list[int]:
    world = World(seed=seed)
    world.bithuman.create_account("shop", secrets=["s"])
    world.chaos.add({"scenario": "rate_limit_burst", "tenant": "shop", "times": None, "probability": 0.5})
    account = world.bithuman.accounts["shop"]
    pattern = []
    for _ in range(20):
        try:
            world.bithuman.admit(account)
            pattern.append(0)
        except Exception:
            pattern.append(1)
    return pattern


def test_probability_is_drawn_from_the_seed() -> None:
    assert _fired_pattern(3) == _fired_pattern(3)
    assert 0 < sum(_fired_pattern(3)) < 20
    assert _fired_pattern(3) != _fired_pattern(4)


# -- the pytest marker and handle ------------------------------------------------------------------


def test_marker_and_handle_scope_chaos_to_the_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in ("MOCKSERVER_URL", "MOCKSERVER_FIXTURES", "MOCKSERVER_PORT", "MOCKSERVER_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import httpx, pytest

        def speak(mockserver, agent):
            return httpx.post(f"{mockserver.url}/v1/agent/{agent.code}/speak", json={"message": "hi"},
                              headers={"api-secret": agent.api_secret})

        @pytest.mark.mockserver_chaos("rate_limit_burst", times=2)
        def test_marker(mockserver):
            agent = mockserver.bithuman.agent(rooms=["r1"])
            assert [speak(mockserver, agent).status_code for _ in range(3)] == [429, 429, 200]

        def test_handle(mockserver):
            agent = mockserver.bithuman.agent(rooms=["r1", "r2"])
            [rule] = mockserver.chaos("room_closes_between_deliveries", room="r2")
            assert rule["tenant"] in mockserver.tenants
            assert speak(mockserver, agent).status_code == 200
            assert agent.rooms == ["r1"]

        def test_nothing_leaked(mockserver, mockserver_client):
            agent = mockserver.bithuman.agent(rooms=["r1"])
            assert speak(mockserver, agent).status_code == 200
            assert mockserver_client.call("GET", "/_mock/chaos/rules") == []
        """
    )
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=3)


def test_the_client_has_a_method_per_chaos_and_coverage_operation(app: Any) -> None:
    from mockserver.client import ASGITransport, ControlClient
    from mockserver.spec import load_spec

    ours = [n for n in load_spec("admin/openapi.yaml").operations if "chaos" in n or "coverage" in n]
    assert sorted(ours) == [
        "add_chaos_rule",
        "clear_chaos_rules",
        "delete_chaos_rule",
        "get_coverage",
        "list_chaos_rules",
        "list_chaos_scenarios",
    ]
    with ControlClient(ASGITransport(app)) as client:
        assert len(client.list_chaos_scenarios()) == len(SCENARIOS)
        rule = client.add_chaos_rule({"scenario": "rtc_drop", "tenant": "demo"})
        assert [r["id"] for r in client.list_chaos_rules("demo")] == [rule["id"]]
        client.delete_chaos_rule(rule["id"])
        client.add_chaos_rule({"scenario": "rtc_drop", "tenant": "demo"})
        assert client.clear_chaos_rules("demo") == 1
        assert client.get_coverage("demo")["counts"] == {} and client.get_coverage(anonymous=True)["total"] > 0
