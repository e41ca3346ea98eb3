"""The plugin's handles (``MockHandle``, bitHuman and Agora helpers, the clock), driven in process.

These build the handle by hand on an in-process client, so they run without the plugin being
installed; tests/test_pytest_plugin.py covers the fixtures, the marker and the life of a session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver import create_app
from mockserver.client import ASGITransport, ControlClient, ControlError
from mockserver.pytest_plugin import AgoraAgent, MockHandle, Project
from mockserver.world.conversation import THINK_S

T0 = 1_700_000_000.0
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app()


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[ControlClient]:
    with ControlClient(ASGITransport(app)) as c:
        yield c


@pytest.fixture
def ms(client: ControlClient) -> Iterator[MockHandle]:
    handle = MockHandle(client, base_dir=FIXTURES)
    yield handle
    handle.close()


def speak(ms: MockHandle, secret: str, code: str, text: str, **extra: Any) -> Any:
    path = f"/v1/agent/{code}/speak"
    return ms.client.request("POST", path, {"message": text, **extra}, headers={"api-secret": secret})


def properties(**overrides: Any) -> dict[str, Any]:
    return {
        "channel": "support",
        "token": "t",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["1002"],
        "idle_timeout": 120,
        "llm": {"url": "https://llm.example/v1", "api_key": "k"},
        "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-A"}},
        **overrides,
    }


def start(project: Project, **overrides: Any) -> AgoraAgent:
    path = f"/api/conversational-ai-agent/v2/projects/{project.app_id}/join"
    body = {"name": "support", "properties": properties(**overrides)}
    started = project.client.call("POST", path, body, headers={"authorization": project.auth_header})
    return project.agent(started["agent_id"])


# -- bitHuman ------------------------------------------------------------------------------------


def test_fresh_tenants_are_distinct_and_reset_at_the_end(client: ControlClient) -> None:
    first, second = MockHandle(client), MockHandle(client)
    a, b = first.bithuman.agent(rooms=["r1"]), second.bithuman.agent(rooms=["r1"])
    assert a.account.id != b.account.id and a.api_secret != b.api_secret
    assert speak(first, a.api_secret, a.code, "hi").status == 200
    first.close()
    with pytest.raises(ControlError) as exc:
        client.get_bithuman_account(a.account.id)
    assert exc.value.status == 404 and "no bitHuman account" in exc.value.detail
    assert client.list_inbox(tenant=a.account.id) == []
    assert b.said() == []  # the other handle's tenant is untouched
    second.close()


def test_said_context_and_rooms(ms: MockHandle) -> None:
    agent = ms.bithuman.agent(rooms=["r1", "r2"])
    assert agent.rooms == ["r1", "r2"]
    speak(ms, agent.api_secret, agent.code, "20% off", room_id="r1")
    path = f"/v1/agent/{agent.code}/add-context"
    body = {"context": "VIP customer", "type": "add_context"}
    assert ms.client.request("POST", path, body, headers={"api-secret": agent.api_secret}).status == 200
    assert agent.said(room="r1") == ["20% off"] and agent.said(room="r2") == []
    assert agent.context() == ["VIP customer", "VIP customer"]
    agent.assert_said("20% off", room="r1")
    agent.assert_context("VIP customer", room="r2")
    agent.assert_silent(room="r2")
    agent.close_room("r1")
    assert agent.rooms == ["r2"]
    assert agent.open_room("r3") == "r3" and agent.open_room() in agent.rooms
    assert speak(ms, agent.api_secret, agent.code, "x", room_id="r1").status == 404  # closed: not reached


def test_assert_said_explains_what_the_agent_got(ms: MockHandle) -> None:
    agent = ms.bithuman.agent(rooms=["r1", "r2"])
    speak(ms, agent.api_secret, agent.code, "20% off", room_id="r2")
    with pytest.raises(AssertionError) as exc:
        agent.assert_said("20% off", room="r1")
    message = str(exc.value)
    assert f"bitHuman agent {agent.code!r} (account {agent.account.id!r}, room 'r1')" in message
    assert "expected to say, in this order:\n    '20% off'\nwhat it said:\n    (nothing)" in message
    assert re.search(r"all its events, oldest first:\n    #\d+ room r2 speech delivered '20% off'", message)
    agent.assert_said(re.compile(r"\d+% off"))
    with pytest.raises(AssertionError, match=r"/\\d\+% on/ \(a pattern\)"):
        agent.assert_said(re.compile(r"\d+% on"))
    with pytest.raises(AssertionError, match="expected to say nothing"):
        agent.assert_silent()


def test_assert_said_checks_the_order(ms: MockHandle) -> None:
    agent = ms.bithuman.agent()
    for text in ("one", "two", "three"):
        speak(ms, agent.api_secret, agent.code, text)
    agent.assert_said("one", "three")
    with pytest.raises(AssertionError, match="in this order"):
        agent.assert_said("three", "one")


def test_account_options_and_more_agents(ms: MockHandle) -> None:
    account = ms.bithuman.account(dialect="legacy", rate_limit=1)
    agent = account.agent("A1", rooms=["r1"])
    assert account.get_agent("A1") is agent and [a.code for a in account.agents] == ["A1"]
    assert speak(ms, account.api_secret, "A1", "hi").json()["success"] is True  # the legacy envelope
    assert speak(ms, account.api_secret, "A1", "again").status == 429
    account.update(rate_limit=None)
    assert speak(ms, account.api_secret, "A1", "again").status == 200
    assert [e.text for e in account.events(kind="speech")] == ["hi", "again"]


def test_load_fixture_adopts_its_tenants(ms: MockHandle, client: ControlClient) -> None:
    assert ms.load_fixture("legacy.yaml") == ["demo"]  # relative to base_dir
    account = ms.bithuman.get_account("demo")
    assert account.api_secret == "your_secret" and [a.code for a in account.agents] == ["A12345678"]
    assert speak(ms, account.api_secret, "A12345678", "hi").json()["success"] is True
    ms.close()
    assert "demo" not in {t["id"] for t in client.call("GET", "/_mock/tenants")}


def test_fixture_file_errors_name_the_file(ms: MockHandle, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="'nope.yaml' is not in"):
        ms.load_fixture("nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("bithuman: {accounts: [{id: x}]}\n")
    with pytest.raises(ControlError) as exc:
        ms.load_fixture(bad)
    assert exc.value.status == 422 and "secrets" in exc.value.detail
    assert exc.value.__notes__ == [f"while loading the fixture file {bad}"]
    assert ms.tenants == []


# -- the clock -----------------------------------------------------------------------------------


def test_clock_is_put_back_running_after_a_freeze(client: ControlClient) -> None:
    ms = MockHandle(client)
    assert ms.clock.freeze(T0) == T0 and ms.clock.frozen
    assert ms.clock.advance(5) == T0 + 5 and ms.clock.now() == T0 + 5
    ms.close()
    state = client.get_clock()
    assert not state["frozen"] and state["speed"] == 1.0


def test_clock_stays_frozen_for_a_test_that_found_it_frozen(client: ControlClient) -> None:
    client.freeze_clock(T0)
    try:
        ms = MockHandle(client)
        ms.clock.resume(speed=2)
        ms.close()
        assert client.get_clock()["frozen"]
    finally:
        client.resume_clock()


# -- Agora ---------------------------------------------------------------------------------------


def test_project_credentials_work_with_the_api(ms: MockHandle) -> None:
    project = ms.agora.project()
    assert project.base_url == ms.url + "/api/conversational-ai-agent"
    assert project.auth_header.startswith("Basic ") and len(project.app_id) == 32
    same = ms.agora.get_project(project.app_id)
    assert (same.customer_id, same.customer_secret, same.auth_header) == (
        project.customer_id,
        project.customer_secret,
        project.auth_header,
    )
    agent = start(project)
    assert agent.status == "RUNNING" and agent.activity == "listening"


def test_user_says_returns_once_the_reply_has_started(ms: MockHandle) -> None:
    ms.clock.freeze(T0)
    project = ms.agora.project(responder={"order": "Your order has shipped."})
    agent = start(project)
    assert agent.user_says("Where is my order?") == "heard"
    assert agent.said() == ["Your order has shipped."] and agent.activity == "speaking"
    assert ms.clock.now() == pytest.approx(T0 + THINK_S, abs=1e-5)  # exactly the thinking, no more
    assert agent.heard() == ["Where is my order?"]
    agent.assert_said("Your order has shipped.")
    assert agent.user_says("hello", wait=False) == "heard"  # barges in; echo by default
    assert agent.activity == "thinking" and agent.said() == ["Your order has shipped."]
    agent.advance_until_listening()
    assert agent.said() == ["Your order has shipped.", "hello"] and agent.activity == "listening"


def test_user_says_while_the_agent_is_busy(ms: MockHandle) -> None:
    ms.clock.freeze(T0)
    project = ms.agora.project()
    project.respond("refund", "Refunds take five days.")
    agent = start(project, interruption={"enable": False})
    agent.busy(seconds=3, interruptable=False)
    assert agent.activity == "speaking"
    assert agent.user_says("I want a refund") == "queued"  # not interruptable: after the speech
    assert agent.said()[-1] == "Refunds take five days."
    assert ms.clock.now() == pytest.approx(T0 + 3 + THINK_S, abs=1e-3)


def test_context_fail_and_status(ms: MockHandle) -> None:
    ms.clock.freeze(T0)
    project = ms.agora.project()
    agent = start(project)
    path = f"/api/conversational-ai-agent/v2/projects/{project.app_id}/agents/{agent.agent_id}/think"
    ms.client.call("POST", path, {"text": "Order 42 shipped."}, headers={"authorization": project.auth_header})
    assert agent.context() == ["Order 42 shipped."]
    agent.assert_context("Order 42 shipped.")
    with pytest.raises(AssertionError, match="expected to receive with think"):
        agent.assert_context("Order 43 shipped.")
    agent.fail("LLM unreachable")
    agent.assert_status("FAILED")
    with pytest.raises(AssertionError) as exc:
        agent.assert_status("RUNNING")
    assert "is FAILED (agent exits with reason: LLM unreachable)" in str(exc.value)
    assert "lifecycle FAILED 'FAILED'" in str(exc.value)


def test_idle_timeout_after_the_user_leaves(ms: MockHandle) -> None:
    ms.clock.freeze(T0)
    agent = start(ms.agora.project())
    agent.user_leaves()
    ms.clock.advance(119)
    assert agent.status == "RUNNING"
    agent.user_joins()
    agent.user_leaves()
    ms.clock.advance(121 + 1)
    agent.assert_status("STOPPED")


def test_sdk_goes_in_process(ms: MockHandle) -> None:
    pytest.importorskip("agora_agent")
    project = ms.agora.project()
    sdk = project.sdk()
    started = sdk.agents.start(project.app_id, name="support", properties=properties())
    assert project.agent(started.agent_id).status == "RUNNING"
    assert ms.in_process and ms.url.endswith(".invalid")


def test_control_errors_say_what_was_wrong(ms: MockHandle) -> None:
    with pytest.raises(ControlError) as exc:
        ms.agora.get_project("nope")
    assert str(exc.value) == "GET /_mock/agora/projects/nope -> 404: no Agora project 'nope'"


def test_the_old_name_of_the_handle_still_works_with_a_warning(client: ControlClient) -> None:
    import mockserver.handles
    import mockserver.pytest_plugin

    with pytest.warns(DeprecationWarning, match="use MockHandle"):
        old = mockserver.pytest_plugin.Mockserver
    with pytest.warns(DeprecationWarning, match="use MockHandle"):
        assert mockserver.handles.Mockserver is old is MockHandle
    handle = old(client)
    assert handle.bithuman.agent().said() == []
    handle.close()
