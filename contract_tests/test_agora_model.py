"""Agora agents against a reference model (models.AgentModel): lifecycle, names, speak priorities.

Rules start agents (a name still in use is 409 ``TaskConflict``), stop them, make them speak with
each priority, think with each action, interrupt them, update them, and read them back (get, list,
history). On a mock the clock is frozen and moved by the control plane, so the model knows exactly
what each agent is doing; after every step the control plane's view (status, listening / thinking
/ speaking, queue length) and the inbox's outcome of each request must match the model, and
``/history`` must return the model's history.

Against the real API (costly: every agent is billed; needs --allow-costly) only what the API itself
shows is checked: names, statuses, 404s after ``leave``; every agent started is stopped again.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from mockserver.client import Event

from . import session
from .models import AgentModel
from .resources import AGORA_V2, Resources
from .target import Target

NAMES = ["alpha", "beta", "gamma"]
REPLY = "Noted."  # the scripted LLM's one reply (mock)
TEXTS = st.sampled_from(["Your order has shipped.", "ok", "One moment please, I am looking that up for you.", "héllo"])
ACTIONS = {
    "listening": st.sampled_from([None, "inject", "interrupt", "ignore", "append"]),
    "thinking": st.sampled_from([None, "interrupt", "ignore", "append"]),
    "speaking": st.sampled_from([None, "interrupt", "ignore", "append"]),
}
MAX_HISTORY = 4


class AgoraAgents(RuleBasedStateMachine):
    TARGET: Target | None = None  # None: the run's target (tests of the suite set their own)

    def __init__(self) -> None:
        super().__init__()
        self.target: Target = self.TARGET or session.target()
        self.mock = self.target.is_mock
        self.http = self.target.new_http()
        self._tenant = self.target.agora_tenant(responder=[{"match": ".*", "reply": REPLY}])
        self.creds = self._tenant.__enter__()
        self.base = f"{self.target.agora_url}{AGORA_V2}/projects/{self.creds.agora_appid}"
        authorization = self.creds.agora_authorization
        assert authorization is not None
        self.headers = {"authorization": authorization}
        self.agents: dict[str, AgentModel] = {}
        self.resources = Resources(self.target, self.creds)
        self.run = self.target.new_id("ct")
        self.joins = 0
        self.now = float(self.target.control.get_clock()["now"]) if self.target.control is not None else 0.0
        self.last_event = 0
        if self.mock:
            self._new_events()

    def teardown(self) -> None:
        try:
            problems = self.resources.cleanup(self.target.cleanup_http())
            assert not problems, f"could not stop the agents the test started: {problems}"
        finally:
            self.http.close()
            self._tenant.__exit__(None, None, None)

    # -- helpers -------------------------------------------------------------------------------

    def _new_events(self) -> list[Event]:
        assert self.target.control is not None
        events = self.target.control.list_inbox(tenant=self.creds.tenant, since=self.last_event or None)
        if events:
            self.last_event = events[-1].id
        return events

    def _outcome(self, agent_id: str, operation: str) -> str | None:
        found = [e for e in self._new_events() if e.agent == agent_id and e.operation == operation]
        return found[-1].outcome if found else None

    def _pick(self, data: st.DataObject, *statuses: str) -> str:
        # In the order they were started, never by id: ids are random, and Hypothesis must pick the
        # same agent when it replays the same choices.
        ids = [a for a, m in self.agents.items() if not statuses or m.status in statuses]
        return data.draw(st.sampled_from(ids), label="agent")

    def _has(self, *statuses: str) -> bool:
        return any(not statuses or m.status in statuses for m in self.agents.values())

    def _join_body(self, name: str, greeting: str | None) -> dict[str, Any]:
        self.joins += 1
        env = self.target.env
        llm: dict[str, Any] = {"url": "https://llm.example/v1/chat/completions", "max_history": MAX_HISTORY}
        if greeting:
            llm["greeting_message"] = greeting
        body: dict[str, Any] = {
            "name": f"{self.run}-{name}",
            "properties": {
                "channel": (env.agora_channel if env and env.agora_channel else f"{self.run}-{self.joins}"),
                "token": env.agora_token if env else "",
                "agent_rtc_uid": str(1000 + self.joins),
                "remote_rtc_uids": ["1002"],
                "idle_timeout": 0,
                "llm": llm,
                "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-A"}},
            },
        }
        if env is not None:
            body["pipeline_id" if env.agora_pipeline else "preset"] = env.agora_pipeline or env.agora_preset
        return body

    def _expect_not_found(self, response: Any, what: str) -> None:
        assert response.status_code == 404, (
            f"{what}: expected 404 TaskNotFound, got {response.status_code} {response.text}"
        )
        assert response.json().get("reason") == "TaskNotFound", f"{what}: {response.text}"

    # -- lifecycle -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.agents) < 4)
    @rule(name=st.sampled_from(NAMES), greeting=st.sampled_from([None, "Hello! How can I help?"]))
    def join(self, name: str, greeting: str | None) -> None:
        body = self._join_body(name, greeting)
        holder = next((a for a, m in self.agents.items() if m.name == name and m.live), None)
        response = self.http.post(f"{self.base}/join", json=body, headers=self.headers)
        if holder is not None:
            assert response.status_code == 409, f"join {name!r} while {holder} uses it: got {response.status_code}"
            answer = response.json()
            assert answer.get("reason") == "TaskConflict", f"join {name!r}: {answer}"
            if "agent_id" in answer:  # the mock names the agent that holds the name
                assert answer["agent_id"] == holder, f"join {name!r}: 409 names {answer['agent_id']}, not {holder}"
            return
        assert response.status_code == 200, f"join {name!r}: expected 200, got {response.status_code} {response.text}"
        answer = response.json()
        agent_id = answer["agent_id"]
        self.resources.note("start_agent", {"appid": self.creds.agora_appid}, 200, answer)
        assert answer.get("status") in ("STARTING", "RUNNING"), f"join {name!r}: {answer}"
        model = AgentModel(name, REPLY, MAX_HISTORY)
        if greeting and self.mock:
            model.greet(greeting, self.now)
        self.agents[agent_id] = model

    @precondition(lambda self: self._has())
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        agent_id = self._pick(data)
        model = self.agents[agent_id]
        response = self.http.post(f"{self.base}/agents/{agent_id}/leave", headers=self.headers)
        if model.status == "STOPPED":
            self._expect_not_found(response, f"leave {agent_id} (STOPPED)")
            return
        if not self.mock and model.status == "STOPPING":
            assert response.status_code in (200, 404), f"leave {agent_id} again: {response.status_code}"
            return
        assert response.status_code == 200, f"leave {agent_id} ({model.status}): got {response.status_code}"
        if model.status == "RUNNING":
            model.leave(self.now)

    @precondition(lambda self: self._has())
    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        agent_id = self._pick(data)
        model = self.agents[agent_id]
        response = self.http.get(f"{self.base}/agents/{agent_id}", headers=self.headers)
        if response.status_code == 404 and model.status == "STOPPED":
            return  # the contract allows forgetting an agent that has exited
        assert response.status_code == 200, f"get {agent_id} ({model.status}): got {response.status_code}"
        answer = response.json()
        assert answer.get("agent_id") in (None, agent_id), answer
        if self.mock:
            assert answer.get("status") == model.status, (
                f"get {agent_id}: {answer['status']}, the model says {model.status}"
            )
        elif model.status == "RUNNING":
            assert answer.get("status") in ("STARTING", "RUNNING"), answer
        else:
            assert answer.get("status") in ("STOPPING", "STOPPED"), answer

    @rule(states=st.sampled_from([None, "2", "3,4"]))
    def list_agents(self, states: str | None) -> None:
        params = {"state": states} if states else {}
        response = self.http.get(f"{self.base}/agents", params=params, headers=self.headers)
        assert response.status_code == 200, f"list_agents: {response.status_code} {response.text}"
        listed = {item["agent_id"] for item in response.json()["data"]["list"]}
        wanted = {"RUNNING"} if states in (None, "2") else {"STOPPING", "STOPPED"}
        if self.mock:
            expected = {a for a, m in self.agents.items() if m.status in wanted}
            assert listed == expected, (
                f"list_agents state={states}: {sorted(listed)}, the model says {sorted(expected)}"
            )
        else:  # the project may run other agents; ours must be listed where they belong
            running = {a for a, m in self.agents.items() if m.status == "RUNNING"}
            if wanted == {"RUNNING"}:
                assert running <= listed, f"list_agents: {sorted(running - listed)} are missing"

    @precondition(lambda self: self.mock)
    @rule(seconds=st.sampled_from([0.1, 0.25, 0.5, 0.75, 1.0, 2.0]))
    def advance(self, seconds: float) -> None:
        assert self.target.control is not None
        self.now = float(self.target.control.advance_clock(seconds)["now"])
        for model in self.agents.values():
            model.settle(self.now)

    # -- the conversation ----------------------------------------------------------------------

    @precondition(lambda self: self._has())
    @rule(data=st.data(), text=TEXTS, priority=st.sampled_from(["INTERRUPT", "APPEND", "IGNORE", None]))
    def speak(self, data: st.DataObject, text: str, priority: str | None) -> None:
        agent_id = self._pick(data)
        model = self.agents[agent_id]
        body: dict[str, Any] = {"text": text}
        if priority is not None:
            body["priority"] = priority
        response = self.http.post(f"{self.base}/agents/{agent_id}/speak", json=body, headers=self.headers)
        if model.status != "RUNNING":
            self._expect_not_found(response, f"speak to {agent_id} ({model.status})")
            return
        assert response.status_code == 200, f"speak to {agent_id}: {response.status_code} {response.text}"
        assert response.json().get("agent_id") == agent_id, response.text
        if self.mock:
            before = model.state
            expected = model.speak(text, priority or "INTERRUPT", self.now)  # INTERRUPT is the documented default
            outcome = self._outcome(agent_id, "speak_agent")
            assert outcome == expected, (
                f"speak {priority or 'default'} while {before}: the inbox says {outcome}, the model {expected}"
            )

    @precondition(lambda self: self._has())
    @rule(
        data=st.data(),
        text=TEXTS,
        listening=ACTIONS["listening"],
        thinking=ACTIONS["thinking"],
        speaking=ACTIONS["speaking"],
    )
    def think(
        self, data: st.DataObject, text: str, listening: str | None, thinking: str | None, speaking: str | None
    ) -> None:
        agent_id = self._pick(data)
        model = self.agents[agent_id]
        actions = {"listening": listening, "thinking": thinking, "speaking": speaking}
        body: dict[str, Any] = {"text": text, **{f"on_{k}_action": v for k, v in actions.items() if v is not None}}
        response = self.http.post(f"{self.base}/agents/{agent_id}/think", json=body, headers=self.headers)
        if model.status != "RUNNING":
            self._expect_not_found(response, f"think on {agent_id} ({model.status})")
            return
        assert response.status_code == 200, f"think on {agent_id}: {response.status_code} {response.text}"
        if self.mock:
            before = model.state
            expected = model.think(text, actions, self.now)
            outcome = self._outcome(agent_id, "think_agent")
            assert outcome == expected, (
                f"think {actions} while {before}: the inbox says {outcome}, the model {expected}"
            )

    @precondition(lambda self: self._has())
    @rule(data=st.data())
    def interrupt(self, data: st.DataObject) -> None:
        agent_id = self._pick(data)
        model = self.agents[agent_id]
        response = self.http.post(f"{self.base}/agents/{agent_id}/interrupt", headers=self.headers)
        if model.status != "RUNNING":
            self._expect_not_found(response, f"interrupt {agent_id} ({model.status})")
            return
        assert response.status_code == 200, f"interrupt {agent_id}: {response.status_code} {response.text}"
        if self.mock:
            before = model.state
            expected = model.interrupt()
            outcome = self._outcome(agent_id, "interrupt_agent")
            assert outcome == expected, f"interrupt while {before}: the inbox says {outcome}, the model {expected}"

    @precondition(lambda self: self._has())
    @rule(data=st.data())
    def update(self, data: st.DataObject) -> None:
        agent_id = self._pick(data)
        model = self.agents[agent_id]
        body = {"properties": {"llm": {"system_messages": [{"role": "system", "content": "Be brief."}]}}}
        response = self.http.post(f"{self.base}/agents/{agent_id}/update", json=body, headers=self.headers)
        if model.status != "RUNNING":
            self._expect_not_found(response, f"update {agent_id} ({model.status})")
            return
        assert response.status_code == 200, f"update {agent_id}: {response.status_code} {response.text}"
        assert response.json().get("agent_id") == agent_id, response.text

    @precondition(lambda self: self._has())
    @rule(data=st.data())
    def history(self, data: st.DataObject) -> None:
        agent_id = self._pick(data)
        model = self.agents[agent_id]
        response = self.http.get(f"{self.base}/agents/{agent_id}/history", headers=self.headers)
        if model.status != "RUNNING":
            self._expect_not_found(response, f"history of {agent_id} ({model.status})")
            return
        assert response.status_code == 200, f"history of {agent_id}: {response.status_code} {response.text}"
        if self.mock:
            got = [{"role": i["role"], "content": i["content"]} for i in response.json()["contents"]]
            assert got == list(model.history), f"history of {agent_id}: {got}, the model says {list(model.history)}"

    # -- what the mock shows --------------------------------------------------------------------

    @invariant()
    def the_mock_agrees(self) -> None:
        if not self.mock:
            return
        assert self.target.control is not None and self.creds.agora_appid is not None
        for agent_id, model in self.agents.items():
            state = self.target.control.get_agora_agent_state(self.creds.agora_appid, agent_id)
            assert state["status"] == model.status, f"{agent_id} is {state['status']}, the model says {model.status}"
            if model.status == "RUNNING":
                assert (state["state"], len(state["queue"])) == (model.state, len(model.queue)), (
                    f"{agent_id} is {state['state']} with {len(state['queue'])} queued, the model says "
                    f"{model.state} with {len(model.queue)} queued"
                )


@pytest.mark.costly
def test_agora_agents_match_the_model(target: Target) -> None:
    if not target.is_mock:
        creds, env = target.credentials, target.env
        if not (creds.agora_appid and creds.agora_authorization):
            pytest.skip("--target real needs AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET and AGORA_APP_ID")
        if env is None or not (env.agora_pipeline or env.agora_preset):
            pytest.skip("starting a real agent needs AGORA_PIPELINE_ID or AGORA_PRESET (its LLM and TTS)")
    examples, steps = (1, 8) if not target.is_mock else ((100, 40) if target.thorough else (25, 25))
    control = target.control
    if control is not None:
        control.freeze_clock()  # agents live on the mock clock: only the machine moves it
    try:
        run_state_machine_as_test(
            AgoraAgents,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        if control is not None:
            control.resume_clock()
