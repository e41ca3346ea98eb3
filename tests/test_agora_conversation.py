"""Agora agents on the mock clock: start-up, idle timeout, session cap, graceful leave, speak
priorities, think actions, barge-in, and the control plane that drives them."""

from __future__ import annotations

import httpx
import pytest

from mockserver.world.conversation import MAX_SESSION_S, SPEECH_MS_PER_CHAR, THINK_S

from .agora_support import T0, Tenant

TEN_CHARS = "abcdefghij"  # 0.6 s of speech
SPEECH_S = len(TEN_CHARS) * SPEECH_MS_PER_CHAR / 1000


def state(tenant: Tenant, agent_id: str) -> dict:  # type: ignore[type-arg]
    r = httpx.get(f"{tenant.server.url}/_mock/agora/projects/{tenant.appid}/agents/{agent_id}")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def control(tenant: Tenant, agent_id: str, action: str, body: dict | None = None) -> dict:  # type: ignore[type-arg]
    r = httpx.post(f"{tenant.server.url}/_mock/agora/projects/{tenant.appid}/agents/{agent_id}/{action}", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def speak(tenant: Tenant, agent_id: str, text: str, priority: str = "INTERRUPT", interruptable: bool = True) -> None:
    tenant.sdk.agents.speak(tenant.appid, agent_id, text=text, priority=priority, interruptable=interruptable)


def outcomes(tenant: Tenant, agent_id: str, kind: str) -> list[tuple[str, str]]:
    return [(e.text, e.outcome) for e in tenant.events(agent=agent_id, kind=kind)]


# -- lifecycle -------------------------------------------------------------------------------------


def test_startup_delay_then_running_and_the_greeting(tenant: Tenant) -> None:
    tenant.server.world.agora.update_project(tenant.appid, {"startup_delay": 2})
    started = tenant.sdk.agents.start(
        tenant.appid, name="g", properties={**_props(), "llm": {"url": "u", "greeting_message": "Hi!"}}
    )
    assert started.status == "STARTING"
    assert state(tenant, started.agent_id)["status"] == "STARTING"
    tenant.advance(2)
    now = state(tenant, started.agent_id)
    assert (now["status"], now["state"], now["current"]["text"]) == ("RUNNING", "speaking", "Hi!")
    assert [e.outcome for e in tenant.events(agent=started.agent_id, kind="lifecycle")] == ["STARTING", "RUNNING"]


def test_idle_timeout_after_the_user_leaves(tenant: Tenant) -> None:
    agent_id = tenant.start(idle_timeout=10)
    tenant.advance(100)  # the user is present: no countdown
    assert state(tenant, agent_id)["status"] == "RUNNING"
    control(tenant, agent_id, "user/leave")
    tenant.advance(9.9)
    assert state(tenant, agent_id)["status"] == "RUNNING"
    control(tenant, agent_id, "user/join")  # back in time: the countdown stops
    tenant.advance(50)
    assert state(tenant, agent_id)["status"] == "RUNNING"
    control(tenant, agent_id, "user/leave")
    tenant.advance(10)
    got = tenant.sdk.agents.get(tenant.appid, agent_id)
    assert (got.status, got.message) == ("STOPPING", "agent exits with reason: idle timeout")
    tenant.advance(1)
    assert tenant.sdk.agents.get(tenant.appid, agent_id).status == "STOPPED"


def test_idle_timeout_zero_never_stops_but_the_72h_cap_does(tenant: Tenant) -> None:
    agent_id = tenant.start(idle_timeout=0)
    control(tenant, agent_id, "user/leave")
    tenant.advance(MAX_SESSION_S - 1)
    assert state(tenant, agent_id)["status"] == "RUNNING"
    tenant.advance(1)
    got = tenant.sdk.agents.get(tenant.appid, agent_id)
    assert got.status == "STOPPING" and "72 h" in got.message


def test_failed_agent(tenant: Tenant) -> None:
    agent_id = tenant.start()
    control(tenant, agent_id, "fail", {"message": "LLM unreachable"})
    got = tenant.sdk.agents.get(tenant.appid, agent_id)
    assert (got.status, got.message, got.stop_ts) == ("FAILED", "agent exits with reason: LLM unreachable", int(T0))
    assert tenant.start(name="support", agent_rtc_uid="5")  # the name is free again


def test_graceful_leave_waits_for_the_speech_to_end(tenant: Tenant) -> None:
    params = {"farewell_config": {"graceful_enabled": True, "graceful_timeout_seconds": 5}}
    agent_id = tenant.start(parameters=params)
    speak(tenant, agent_id, TEN_CHARS)
    tenant.sdk.agents.stop(tenant.appid, agent_id)
    assert state(tenant, agent_id)["state"] == "speaking"  # still finishing its sentence
    tenant.advance(SPEECH_S)
    assert state(tenant, agent_id)["status"] == "STOPPING"
    turns = tenant.server.world.agora.agent(tenant.appid, agent_id).conversation.turns
    assert [t.end_type for t in turns] == ["ok"]


# -- speak priorities ------------------------------------------------------------------------------


def test_interrupt_priority_cuts_current_speech(tenant: Tenant) -> None:
    agent_id = tenant.start()
    speak(tenant, agent_id, "first sentence")
    tenant.advance(0.2)
    speak(tenant, agent_id, TEN_CHARS)
    assert outcomes(tenant, agent_id, "speech") == [
        ("first sentence", "spoken"),
        ("first sentence", "interrupted"),
        (TEN_CHARS, "spoken"),
    ]
    tenant.advance(SPEECH_S)
    turns = tenant.sdk.agents.get_turns(tenant.appid, agent_id).turns
    assert [(t.end.type, t.end.metadata.caused_by, t.end.metadata.playback_duration_ms) for t in turns] == [
        ("interrupted", "api_speak", 200),
        ("ok", None, int(SPEECH_S * 1000)),
    ]


def test_append_queues_and_ignore_is_dropped_while_busy(tenant: Tenant) -> None:
    agent_id = tenant.start()
    speak(tenant, agent_id, TEN_CHARS)
    speak(tenant, agent_id, "second", priority="APPEND")
    speak(tenant, agent_id, "never", priority="IGNORE")
    assert [a["text"] for a in state(tenant, agent_id)["queue"]] == ["second"]
    tenant.advance(SPEECH_S)
    assert state(tenant, agent_id)["current"]["text"] == "second"
    tenant.advance(5)
    assert state(tenant, agent_id)["state"] == "listening"
    speak(tenant, agent_id, "now", priority="IGNORE")  # not busy: spoken
    assert outcomes(tenant, agent_id, "speech") == [
        (TEN_CHARS, "spoken"),
        ("second", "queued"),
        ("never", "ignored"),
        ("second", "spoken"),  # the queued speech began when the first ended
        ("now", "spoken"),
    ]
    started = [e for e in tenant.events(agent=agent_id, kind="speech") if e.text == "second"]
    assert started[1].data["queued_event"] == started[0].id and started[1].time == T0 + SPEECH_S
    history = [c.content for c in tenant.sdk.agents.get_history(tenant.appid, agent_id).contents]
    assert history == [TEN_CHARS, "second", "now"]


def test_interrupt_stops_speech_and_drops_the_queue(tenant: Tenant) -> None:
    agent_id = tenant.start()
    speak(tenant, agent_id, TEN_CHARS)
    speak(tenant, agent_id, "queued", priority="APPEND")
    tenant.sdk.agents.interrupt(tenant.appid, agent_id)
    now = state(tenant, agent_id)
    assert (now["state"], now["queue"]) == ("listening", [])
    tenant.sdk.agents.interrupt(tenant.appid, agent_id)  # nothing to interrupt: still 200
    assert [e.outcome for e in tenant.events(agent=agent_id, kind="interrupt")] == ["interrupted", "ignored"]


# -- barge-in and the scripted responder -----------------------------------------------------------


def test_user_speech_gets_a_scripted_reply(tenant: Tenant) -> None:
    tenant.server.world.agora.update_project(
        tenant.appid, {"responder": [{"match": "order", "reply": "Your order has shipped."}]}
    )
    agent_id = tenant.start()
    assert control(tenant, agent_id, "user/say", {"text": "Where is my order?"})["state"] == "thinking"
    tenant.advance(THINK_S)
    assert state(tenant, agent_id)["current"]["text"] == "Your order has shipped."
    control(tenant, agent_id, "user/say", {"text": "thanks"})  # barge-in: cuts the reply
    tenant.advance(THINK_S)
    assert state(tenant, agent_id)["current"]["text"] == "thanks"  # echo by default
    tenant.advance(5)
    history = [(c.role, c.content) for c in tenant.sdk.agents.get_history(tenant.appid, agent_id).contents]
    assert history == [
        ("user", "Where is my order?"),
        ("assistant", "Your order has shipped."),
        ("user", "thanks"),
        ("assistant", "thanks"),
    ]
    turns = tenant.sdk.agents.get_turns(tenant.appid, agent_id).turns
    assert [(t.start.type, t.end.type, t.end.metadata.caused_by) for t in turns] == [
        ("voice_input", "interrupted", "start_of_speech"),
        ("voice_input", "ok", None),
    ]


def test_not_interruptable_speech_queues_the_user(tenant: Tenant) -> None:
    agent_id = tenant.start()
    speak(tenant, agent_id, TEN_CHARS, interruptable=False)
    assert control(tenant, agent_id, "user/say", {"text": "hello?"})["outcome"] == "queued"
    tenant.advance(SPEECH_S + THINK_S)
    assert state(tenant, agent_id)["current"]["text"] == "hello?"


# -- think actions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "body", "expected_outcome", "expected_state"),
    [
        ("listening", {}, "thinking", "thinking"),
        ("listening", {"on_listening_action": "inject"}, "thinking", "thinking"),
        ("listening", {"on_listening_action": "ignore"}, "ignored", "listening"),
        ("speaking", {}, "ignored", "speaking"),  # default on_speaking_action: ignore
        ("speaking", {"on_speaking_action": "interrupt"}, "thinking", "thinking"),
        ("speaking", {"on_speaking_action": "append"}, "queued", "speaking"),
        ("thinking", {}, "thinking", "thinking"),  # default on_thinking_action: interrupt
        ("thinking", {"on_thinking_action": "ignore"}, "ignored", "thinking"),
        ("thinking", {"on_thinking_action": "append"}, "queued", "thinking"),
    ],
)
def test_think_actions(tenant: Tenant, setup: str, body: dict, expected_outcome: str, expected_state: str) -> None:  # type: ignore[type-arg]
    agent_id = tenant.start()
    if setup == "speaking":
        speak(tenant, agent_id, TEN_CHARS)
    elif setup == "thinking":
        control(tenant, agent_id, "user/say", {"text": "question"})
    tenant.sdk.agent_management.agent_think(tenant.appid, agent_id, text="injected", metadata={"k": "v"}, **body)
    [event] = [e for e in tenant.events(agent=agent_id, kind="think") if e.text == "injected"]
    assert event.outcome == expected_outcome
    assert event.data["metadata"] == {"k": "v"}
    assert state(tenant, agent_id)["state"] == expected_state
    history = [c.content for c in tenant.sdk.agents.get_history(tenant.appid, agent_id).contents]
    assert ("injected" in history) == (expected_outcome != "ignored")


def _props() -> dict:  # type: ignore[type-arg]
    from .agora_support import properties

    return properties()
