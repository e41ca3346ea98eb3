"""Chaos scenarios on Agora agents and calls, as a client sees them through the official SDK.

Each test arranges one scenario over the control plane (scoped to the test's customer), drives the
agent through ``agora-agents`` and moves the mock clock; the assertions are what the SDK returns.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from agora_agent.core.api_error import ApiError

from .agora_support import T0, Tenant, import_caller
from .test_telephony import dial

LONG = "Your order has shipped and will arrive on Thursday between nine and noon."  # 4.38 s of speech


def chaos(tenant: Tenant, scenario: str, **options: Any) -> dict[str, Any]:
    body = {"scenario": scenario, "tenant": tenant.customer_id, **options}
    r = httpx.post(f"{tenant.server.url}/_mock/chaos/rules", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def status(tenant: Tenant, agent_id: str) -> tuple[str, str]:
    got = tenant.sdk.agents.get(tenant.appid, agent_id)
    return got.status, got.message or ""


def last_turn(tenant: Tenant, agent_id: str) -> Any:
    return tenant.sdk.agents.get_turns(tenant.appid, agent_id).turns[-1]


def chaos_events(tenant: Tenant, agent_id: str) -> list[str]:
    return [e.outcome for e in tenant.events(agent=agent_id, kind="chaos")]


def test_agent_fails_while_speaking(tenant: Tenant) -> None:
    agent_id = tenant.start()
    chaos(tenant, "agent_fails", when="speaking")
    tenant.sdk.agents.speak(tenant.appid, agent_id, text=LONG)
    tenant.advance(1)
    assert status(tenant, agent_id) == ("RUNNING", "")
    tenant.advance(2)  # half-way through the speech
    assert status(tenant, agent_id) == ("FAILED", "agent exits with reason: internal error")
    turn = last_turn(tenant, agent_id)
    assert (turn.start.type, turn.end.type, turn.end.metadata.reason) == ("api_speak", "error", "INTERNAL_ERR")
    assert turn.end.metadata.playback_duration_ms == 2190
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.speak(tenant.appid, agent_id, text="again")
    assert (exc.value.status_code, exc.value.body["reason"]) == (404, "TaskNotFound")  # type: ignore[index]
    assert chaos_events(tenant, agent_id) == ["agent_fails"]


def test_agent_fails_while_thinking_and_only_once(tenant: Tenant) -> None:
    first, second = tenant.start("a", channel="c1"), tenant.start("b", channel="c2", agent_rtc_uid="1003")
    chaos(tenant, "agent_fails", when="thinking", message="LLM pod evicted")
    tenant.sdk.agent_management.agent_think(tenant.appid, first, text="What is my balance?")
    tenant.sdk.agent_management.agent_think(tenant.appid, second, text="What is my balance?")
    tenant.advance(0.5)
    assert status(tenant, first) == ("FAILED", "agent exits with reason: LLM pod evicted")
    assert last_turn(tenant, first).end.type == "error"
    assert status(tenant, second)[0] == "RUNNING"  # times defaults to 1


def test_rtc_drop_now_and_at_a_moment(tenant: Tenant) -> None:
    now, later = tenant.start("now", channel="c1"), tenant.start("later", channel="c2", agent_rtc_uid="1003")
    chaos(tenant, "rtc_drop", agent=now)
    chaos(tenant, "rtc_drop", channel="c2", at=T0 + 100)
    assert status(tenant, now) == ("FAILED", "agent exits with reason: RTC connection error")
    tenant.advance(99)
    assert status(tenant, later)[0] == "RUNNING"
    tenant.advance(1)
    assert status(tenant, later) == ("FAILED", "agent exits with reason: RTC connection error")
    assert tenant.sdk.agents.get(tenant.appid, later).stop_ts == int(T0 + 100)


def test_a_timed_rule_reaches_agents_started_before_its_moment(tenant: Tenant) -> None:
    chaos(tenant, "rtc_drop", at=T0 + 50, times=None)
    tenant.advance(10)
    agent_id = tenant.start()  # after the rule, before its moment
    tenant.advance(39)
    assert status(tenant, agent_id)[0] == "RUNNING"
    tenant.advance(1)
    assert status(tenant, agent_id) == ("FAILED", "agent exits with reason: RTC connection error")


def test_tts_error_ends_the_turn_and_the_agent_runs_on(tenant: Tenant) -> None:
    agent_id = tenant.start()
    chaos(tenant, "tts_error")
    tenant.sdk.agents.speak(tenant.appid, agent_id, text=LONG)
    tenant.sdk.agents.speak(tenant.appid, agent_id, text="Anything else?", priority="APPEND")
    tenant.advance(5)
    turns = tenant.sdk.agents.get_turns(tenant.appid, agent_id).turns
    assert [(t.end.type, t.end.metadata.reason) for t in turns] == [("error", "INTERNAL_ERR"), ("ok", None)]
    assert turns[0].end.metadata.details == "tts error 503: TTS service unavailable"
    assert status(tenant, agent_id)[0] == "RUNNING"
    errors = tenant.events(agent=agent_id, kind="error")
    assert [(e.data["module"], e.data["code"]) for e in errors] == [("tts", 503)]


def test_tts_timeout_then_fail(tenant: Tenant) -> None:
    agent_id = tenant.start()
    chaos(tenant, "tts_timeout", timeout_s=8, keep_running=False)
    tenant.sdk.agents.speak(tenant.appid, agent_id, text="Hi")
    tenant.advance(7.9)
    assert status(tenant, agent_id)[0] == "RUNNING"
    assert tenant.sdk.agents.get_turns(tenant.appid, agent_id).turns == []  # the speech has not ended
    tenant.advance(0.1)
    assert status(tenant, agent_id) == ("FAILED", "agent exits with reason: tts error: TTS request timed out after 8 s")
    assert last_turn(tenant, agent_id).end.type == "error"


def test_llm_error_and_llm_timeout(tenant: Tenant) -> None:
    agent_id = tenant.start()
    chaos(tenant, "llm_error", code=429, message="Insufficient balance.")
    tenant.sdk.agent_management.agent_think(tenant.appid, agent_id, text="Hello?")
    tenant.advance(1)
    turn = last_turn(tenant, agent_id)
    assert (turn.end.type, turn.end.metadata.reason) == ("error", "LLM_REQUEST_ERR")
    assert turn.end.metadata.details == "llm error 429: Insufficient balance."
    chaos(tenant, "llm_timeout", timeout_s=5)
    tenant.sdk.agent_management.agent_think(tenant.appid, agent_id, text="Still there?")
    tenant.advance(4.9)
    assert len(tenant.sdk.agents.get_turns(tenant.appid, agent_id).turns) == 1
    tenant.advance(0.1)
    assert last_turn(tenant, agent_id).end.metadata.reason == "LLM_REQUEST_ERR"
    assert status(tenant, agent_id)[0] == "RUNNING"
    assert chaos_events(tenant, agent_id) == ["llm_error", "llm_timeout"]


def test_startup_never_completes(tenant: Tenant) -> None:
    chaos(tenant, "startup_never_completes", timeout_s=60)
    started = tenant.sdk.agents.start(tenant.appid, name="a", properties=_props())
    assert started.status == "STARTING"
    tenant.advance(59)
    assert status(tenant, started.agent_id) == ("STARTING", "")
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.speak(tenant.appid, started.agent_id, text="hello")
    assert exc.value.status_code == 404
    tenant.advance(1)
    assert status(tenant, started.agent_id) == ("FAILED", "agent exits with reason: Connecting for too long")
    # The rule is spent: the retry starts normally.
    assert tenant.sdk.agents.start(tenant.appid, name="a", properties=_props()).status == "RUNNING"


def test_user_leaves_mid_utterance_then_the_idle_timeout(tenant: Tenant) -> None:
    agent_id = tenant.start(idle_timeout=30)
    chaos(tenant, "user_leaves_mid_utterance")
    tenant.sdk.agents.speak(tenant.appid, agent_id, text=LONG)
    tenant.advance(2.19)
    assert status(tenant, agent_id)[0] == "RUNNING"
    assert [e.outcome for e in tenant.events(agent=agent_id, kind="presence")] == ["left"]
    tenant.advance(30)
    assert status(tenant, agent_id) == ("STOPPING", "agent exits with reason: idle timeout")
    assert last_turn(tenant, agent_id).end.type == "ok"  # the speech itself played out


def test_barge_in_storm(tenant: Tenant) -> None:
    agent_id = tenant.start()
    chaos(tenant, "barge_in_storm", count=3, gap_s=0.2)
    tenant.sdk.agents.speak(tenant.appid, agent_id, text=LONG)
    tenant.advance(10)
    turns = tenant.sdk.agents.get_turns(tenant.appid, agent_id).turns
    summary = [(t.start.type, t.end.type, t.end.metadata.caused_by) for t in turns]
    assert summary == [
        ("api_speak", "interrupted", "start_of_speech"),
        ("voice_input", "interrupted", "start_of_speech"),
        ("voice_input", "interrupted", "start_of_speech"),
        ("voice_input", "ok", None),
    ]
    assert status(tenant, agent_id)[0] == "RUNNING"


@pytest.mark.parametrize("renewed", [False, True])
def test_token_expires_unless_renewed(tenant: Tenant, renewed: bool) -> None:
    agent_id = tenant.start()
    chaos(tenant, "token_expires", after_s=60)
    tenant.advance(29.9)
    assert status(tenant, agent_id)[0] == "RUNNING"
    assert tenant.events(agent=agent_id, kind="token") == []
    tenant.advance(0.1)
    assert status(tenant, agent_id)[0] == "RUNNING"
    assert [e.outcome for e in tenant.events(agent=agent_id, kind="token")] == ["expiring"]
    if renewed:
        tenant.sdk.agents.update(tenant.appid, agent_id, properties={"token": "fresh-token"})
    tenant.advance(30)
    expected = ("RUNNING", "") if renewed else ("FAILED", "agent exits with reason: RTC connection error")
    assert status(tenant, agent_id) == expected


@pytest.fixture
def caller(tenant: Tenant) -> Tenant:
    """The tenant with one imported number to dial out from."""
    return import_caller(tenant)


def call_state(tenant: Tenant, agent_id: str) -> tuple[str, str | None]:
    got = tenant.sdk.telephony.get(tenant.appid, agent_id)
    return got.state, got.reason  # type: ignore[attr-defined]


def test_call_never_connects(caller: Tenant) -> None:
    chaos(caller, "call_never_connects")
    agent_id = dial(caller)
    caller.advance(59)
    assert call_state(caller, agent_id) == ("ringing", None)
    caller.advance(1)
    assert call_state(caller, agent_id) == ("hangup", "failed")


def test_call_drops_after_answer(caller: Tenant) -> None:
    chaos(caller, "call_drops_after_answer", after_s=5)
    agent_id = dial(caller)
    caller.advance(2)
    assert call_state(caller, agent_id) == ("answered", None)
    caller.advance(5)
    assert call_state(caller, agent_id) == ("hangup", "hangup")
    assert caller.sdk.telephony.get(caller.appid, agent_id).stop_ts == int(T0 + 7)


def test_call_busy_after_rings(caller: Tenant) -> None:
    chaos(caller, "call_busy_after_rings", rings=2)
    agent_id = dial(caller)
    caller.advance(11)
    assert call_state(caller, agent_id) == ("ringing", None)
    caller.advance(1)
    assert call_state(caller, agent_id) == ("hangup", "failed")
    assert [e.data.get("why") for e in caller.events(agent=agent_id, kind="call")][-1] == "busy"


def _props() -> dict[str, Any]:
    from .agora_support import properties

    return properties()
