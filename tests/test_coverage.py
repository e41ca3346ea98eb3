"""The coverage report: its universe, what the pipeline records, and the pytest options."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.coverage import _vocabulary, merge, report, universe
from mockserver.spec import load_spec
from mockserver.world import World
from mockserver.world.agora import Principal
from mockserver.world.bithuman import DELIVERY_OUTCOMES
from mockserver.world.chaos import SCENARIOS
from mockserver.world.conversation import TRANSITIONS
from mockserver.world.coverage import outcome_key
from mockserver.world.telephony import CALL_OUTCOMES

from .conftest import DOCS_SECRET
from .test_pytest_plugin import PLUGIN, inner  # noqa: F401 (the nested-session fixture)

pytest_plugins = ["pytester"]

KEYS = {item.key for item in universe()}


# -- the universe ----------------------------------------------------------------------------------


def test_every_operation_and_documented_status_is_in_the_universe() -> None:
    spec = load_spec()
    vocabulary = _vocabulary(spec)
    for op in spec.operations.values():
        for status, response in op.responses.items():
            if not status.isdigit():
                continue
            prefix = f"op {op.operation_id} {status}"
            assert any(k == prefix or k.startswith(prefix + " ") for k in KEYS), prefix
            if int(status) >= 400:
                for code in re.findall(r"`([A-Za-z_]+)`", response.get("description", "")):
                    if code in vocabulary:
                        assert f"{prefix} {code}" in KEYS, f"{prefix} {code}"


def test_the_world_state_machines_are_in_the_universe() -> None:
    for origin, target, cause in TRANSITIONS:
        assert f"lifecycle {origin} -> {target} ({cause})" in KEYS
    assert {f"call {o}" for o in CALL_OUTCOMES} <= KEYS
    assert {f"delivery {o}" for o in DELIVERY_OUTCOMES} <= KEYS
    assert {f"chaos {s}" for s in SCENARIOS} <= KEYS
    for priority in ("INTERRUPT", "APPEND", "IGNORE"):
        for state in ("listening", "thinking", "speaking"):
            assert f"conversation speak {priority} while {state}" in KEYS
    assert "conversation think inject while listening" in KEYS
    assert "conversation think inject while speaking" not in KEYS  # the contract offers it only while listening


def _props(**extra: Any) -> dict[str, Any]:
    return {
        "channel": "ch",
        "token": "t",
        "agent_rtc_uid": "1",
        "remote_rtc_uids": ["2"],
        "llm": {"url": "u", "greeting_message": "Hello there"},
        "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-A"}},
        **extra,
    }


def test_every_outcome_the_world_emits_is_a_key_of_the_universe() -> None:
    world = World(seed=1)
    world.clock.freeze(1_700_000_000)
    customer = world.agora.create_customer("c", "s", [{"appid": "a", "startup_delay": 1}])
    project = world.agora.projects["a"]
    first = world.agora.start_agent(Principal(customer), project, {"name": "one", "properties": _props()})
    world.clock.advance(1)
    world.agora.speak_agent(project, first.agent_id, "hi", "APPEND", True)
    world.agora.think_agent(project, first.agent_id, {"text": "x", "on_speaking_action": "append"})
    world.agora.interrupt_agent(project, first.agent_id)
    world.agora.interrupt_agent(project, first.agent_id)
    world.agora.user_says("a", first.agent_id, "hello")
    world.clock.advance(0.1)
    world.agora.user_says("a", first.agent_id, "again")  # a barge-in: the first thought is cut
    world.agora.stop_agent(project, first.agent_id)
    world.clock.advance(2)
    world.agora.get_agent(project, first.agent_id)
    second = world.agora.start_agent(Principal(customer), project, {"name": "two", "properties": _props(channel="c2")})
    world.agora.fail_agent("a", second.agent_id, "boom")
    keys = {outcome_key(e) for e in world.inbox.query(tenant="c")} - {None}
    assert keys <= KEYS, keys - KEYS
    assert {
        "lifecycle STARTING -> RUNNING (ready)",
        "lifecycle RUNNING -> STOPPING (leave)",
        "lifecycle STOPPING -> STOPPED (done)",
        "lifecycle STARTING -> FAILED (failure)",
        "conversation speak APPEND while speaking",  # the greeting is playing
        "conversation think append while speaking",
        "conversation interrupt while busy",
        "conversation interrupt while idle",
        "conversation barge-in",
    } <= keys


# -- recording -------------------------------------------------------------------------------------


def coverage(client: TestClient, **query: Any) -> dict[str, int]:
    r = client.get("/_mock/coverage", params=query)
    assert r.status_code == 200, r.text
    return r.json()["counts"]  # type: ignore[no-any-return]


def test_vendor_requests_count_per_tenant_and_the_control_plane_does_not(client: TestClient) -> None:
    speak = "/v1/agent/{}/speak"
    client.post(speak.format("A12345678"), json={"message": "hi"}, headers={"api-secret": DOCS_SECRET})
    client.post(
        speak.format("A12345678"), json={"message": "hi", "room_id": "room_1"}, headers={"api-secret": DOCS_SECRET}
    )
    client.post(speak.format("A91XMB7113"), json={"message": "hi"}, headers={"api-secret": DOCS_SECRET})
    client.post(speak.format("A12345678"), json={"message": "hi"}, headers={"api-secret": "wrong"})
    client.post("/_mock/bithuman/accounts/demo/agents/A12345678/rooms", json={"id": "extra"})
    assert coverage(client, tenant="demo") == {
        "op bithuman_speak 200": 2,
        "delivery all rooms": 1,
        "delivery one room": 1,
        "op bithuman_speak 404 NOT_FOUND": 1,
        "delivery no active rooms": 1,
    }
    assert coverage(client, anonymous=True) == {"op bithuman_speak 401 UNAUTHORIZED": 1}
    assert coverage(client)["op bithuman_speak 200"] == 2


def test_an_outcome_counts_once_a_request_of_its_tenant_follows(client: TestClient, world: World) -> None:
    auth = {"authorization": "Basic " + __import__("base64").b64encode(b"c1:s1").decode()}
    world.agora.create_customer("c1", "s1", [{"appid": "app1"}])
    base = "/api/conversational-ai-agent/v2/projects/app1"
    started = client.post(f"{base}/join", json={"name": "n", "properties": _props()}, headers=auth).json()
    client.post(f"/_mock/agora/projects/app1/agents/{started['agent_id']}/fail", json={})
    assert "lifecycle RUNNING -> FAILED (failure)" not in coverage(client, tenant="c1")  # nobody looked yet
    client.get(f"{base}/agents/{started['agent_id']}", headers=auth)
    counts = coverage(client, tenant="c1")
    assert counts["lifecycle RUNNING -> FAILED (failure)"] == 1
    assert counts["op start_agent 200"] == 1 and counts["op get_agent 200"] == 1
    world.reset("c1")
    assert coverage(client, tenant="c1") == {}


def test_report_areas_and_gaps() -> None:
    data = report(merge({"op bithuman_speak 200": 1}, {"op bithuman_speak 200": 2, "made up": 1}))
    assert data["total"] == len(universe()) and data["covered"] == 1
    assert "op bithuman_speak 200" not in data["gaps"] and data["outside"] == {"made up": 1}
    assert data["gaps"][0].endswith(" 200")  # an operation never seen to succeed comes first
    assert {(a["vendor"], a["area"]) for a in data["areas"]} >= {("bithuman", "deliveries"), ("agora", "lifecycle")}


# -- the pytest options ----------------------------------------------------------------------------

SUITE = """
import httpx

def speak(mockserver, agent, code=None):
    return httpx.post(f"{mockserver.url}/v1/agent/{code or agent.code}/speak", json={"message": "hi"},
                      headers={"api-secret": agent.api_secret})

def test_speak(mockserver):
    agent = mockserver.bithuman.agent(rooms=["r1"])
    assert speak(mockserver, agent).status_code == 200
"""
MORE = """

def test_unknown_agent(mockserver):
    agent = mockserver.bithuman.agent(rooms=["r1"])
    assert speak(mockserver, agent, code="NOPE").status_code == 404
"""


def _run(inner: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:  # noqa: F811
    path = inner.path / "coverage.json"
    result = inner.runpytest(*PLUGIN, f"--mockserver-coverage-report=json:{path}", *args)
    return result, json.loads(path.read_text())


def test_the_gaps_change_when_a_test_is_added(inner: pytest.Pytester) -> None:  # noqa: F811
    inner.makepyfile(test_suite=SUITE)
    result, before = _run(inner, "--mockserver-coverage")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*agent-mockserver coverage*", "bithuman*operations*", "most important gaps*"])
    assert "delivery unknown agent" in before["gaps"] and "op bithuman_speak 200" not in before["gaps"]
    inner.makepyfile(test_suite=SUITE + MORE)
    result, after = _run(inner)
    result.assert_outcomes(passed=2)
    assert set(before["gaps"]) - set(after["gaps"]) == {"delivery unknown agent", "op bithuman_speak 404 NOT_FOUND"}
    assert after["covered"] == before["covered"] + 2


def test_fail_under_and_the_html_page(inner: pytest.Pytester) -> None:  # noqa: F811
    inner.makepyfile(test_suite=SUITE)
    page = inner.path / "out" / "coverage.html"
    result = inner.runpytest(
        *PLUGIN, "--mockserver-coverage-fail-under=50", f"--mockserver-coverage-report=html:{page}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["FAIL: mockserver coverage * is below --mockserver-coverage-fail-under=50"])
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<script" not in text and "op bithuman_speak 200" in text
    assert inner.runpytest(*PLUGIN, "--mockserver-coverage-fail-under=0.1").ret == pytest.ExitCode.OK


def test_bad_report_option(inner: pytest.Pytester) -> None:  # noqa: F811
    inner.makepyfile(test_suite=SUITE)
    result = inner.runpytest(*PLUGIN, "--mockserver-coverage-report=xml:out.xml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*json:PATH or html:PATH*"])


def test_counts_are_exact_under_xdist(inner: pytest.Pytester) -> None:  # noqa: F811
    pytest.importorskip("xdist")
    tests = "".join(
        f"\n\ndef test_{n}(mockserver):\n    agent = mockserver.bithuman.agent(rooms=['r1'])\n"
        f"    for _ in range({n}):\n        assert speak(mockserver, agent).status_code == 200\n"
        for n in range(1, 7)
    )
    inner.makepyfile(test_suite=SUITE + tests)
    _, alone = _run(inner)
    result, spread = _run(inner, "-n", "2")
    result.assert_outcomes(passed=7)
    counts = {i["key"]: i["count"] for i in spread["items"] if i["count"]}
    assert counts == {i["key"]: i["count"] for i in alone["items"] if i["count"]}
    assert counts["op bithuman_speak 200"] == 1 + sum(range(1, 7))


def test_a_shared_server_counts_only_this_sessions_tenants(inner: pytest.Pytester) -> None:  # noqa: F811
    from mockserver import MockServer

    inner.makepyfile(test_suite=SUITE + MORE)
    with MockServer(seed=3) as server:
        server.world.bithuman.create_account("someone-else", secrets=["other"], agents=[{"code": "X", "rooms": ["r"]}])
        with httpx_client() as http:
            assert (
                http.post(
                    f"{server.url}/v1/agent/X/speak", json={"message": "m"}, headers={"api-secret": "other"}
                ).status_code
                == 200
            )
            assert (
                http.post(
                    f"{server.url}/v1/agent/X/speak", json={"message": "m"}, headers={"api-secret": "no"}
                ).status_code
                == 401
            )
        first_result, first = _run(inner, f"--mockserver-url={server.url}")
        first_result.assert_outcomes(passed=2)
        _, second = _run(inner, f"--mockserver-url={server.url}")
    counts = {i["key"]: i["count"] for i in first["items"] if i["count"]}
    assert counts == {
        "op bithuman_speak 200": 1,
        "delivery all rooms": 1,
        "op bithuman_speak 404 NOT_FOUND": 1,
        "delivery unknown agent": 1,
    }
    assert {i["key"]: i["count"] for i in second["items"] if i["count"]} == counts


def httpx_client() -> Any:
    import httpx

    return httpx.Client(timeout=10)


def test_each_operation_counts_for_its_own_vendor() -> None:
    from mockserver.contract import load_contract

    contract = load_contract()
    operations = load_spec().operations
    for item in universe():
        if item.key.startswith("op "):
            op = operations[item.key.split()[1]]
            assert item.vendor == contract.vendor_of(op.path), item
