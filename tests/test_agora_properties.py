"""Property-based: the Agora agents API against a small reference model, and no request of any
shape makes an agent operation fail with a 500."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from starlette.testclient import TestClient

from contract_tests.models import AgentModel
from mockserver import World, create_app

from .agora_support import properties
from .conftest import DEFAULT_FIXTURE, ResponseChecker

AUTH = {"authorization": "Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode()}
BASE = "/api/conversational-ai-agent/v2/projects/demo-app-id"
TEXTS = st.sampled_from(["hi", "hello there", "a much longer sentence to speak", "ok"])
MAX_HISTORY = 32  # not read here: history has its own tests


class AgentsMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.world = World(seed=3)
        self.client = TestClient(create_app(self.world, fixtures=[DEFAULT_FIXTURE]))
        self.world.clock.freeze(1_700_000_000)
        self.now = 1_700_000_000.0
        self.models: dict[str, AgentModel] = {}  # the reference model (contract_tests/models), echoing
        self.names: dict[str, str] = {}
        self.n = 0

    def teardown(self) -> None:
        if hasattr(self, "client"):
            self.client.close()

    def live_names(self) -> set[str]:
        return {self.names[a] for a, m in self.models.items() if m.live}

    @rule(name=st.sampled_from(["a", "b", "c"]))
    def start(self, name: str) -> None:
        self.n += 1
        body = {"name": name, "properties": properties(agent_rtc_uid=str(self.n), idle_timeout=0)}
        r = self.client.post(f"{BASE}/join", json=body, headers=AUTH)
        if name in self.live_names():
            assert r.status_code == 409 and r.json()["reason"] == "TaskConflict"
            return
        assert r.status_code == 200, r.text
        self.models[r.json()["agent_id"]] = AgentModel(name, reply=None, max_history=MAX_HISTORY)
        self.names[r.json()["agent_id"]] = name

    def pick(self, data: st.DataObject) -> str | None:
        return data.draw(st.sampled_from(sorted(self.models))) if self.models else None

    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        agent_id = self.pick(data)
        if agent_id is None:
            return
        model = self.models[agent_id]
        r = self.client.post(f"{BASE}/agents/{agent_id}/leave", headers=AUTH)
        if model.status == "STOPPED":
            assert r.status_code == 404
            return
        assert r.status_code == 200
        if model.status == "RUNNING":
            model.leave(self.now)

    @rule(data=st.data(), text=TEXTS, priority=st.sampled_from(["INTERRUPT", "APPEND", "IGNORE"]))
    def speak(self, data: st.DataObject, text: str, priority: str) -> None:
        agent_id = self.pick(data)
        if agent_id is None:
            return
        model = self.models[agent_id]
        r = self.client.post(f"{BASE}/agents/{agent_id}/speak", json={"text": text, "priority": priority}, headers=AUTH)
        if model.status != "RUNNING":
            assert r.status_code == 404 and r.json()["reason"] == "TaskNotFound"
            return
        assert r.status_code == 200
        model.speak(text, priority, self.now)

    @rule(
        data=st.data(),
        text=TEXTS,
        listening=st.none() | st.sampled_from(["inject", "interrupt", "ignore", "append"]),
        thinking=st.none() | st.sampled_from(["interrupt", "ignore", "append"]),
        speaking=st.none() | st.sampled_from(["interrupt", "ignore", "append"]),
    )
    def think(
        self, data: st.DataObject, text: str, listening: str | None, thinking: str | None, speaking: str | None
    ) -> None:
        agent_id = self.pick(data)
        if agent_id is None:
            return
        model = self.models[agent_id]
        body: dict[str, Any] = {"text": text}
        for key, value in (
            ("on_listening_action", listening),
            ("on_thinking_action", thinking),
            ("on_speaking_action", speaking),
        ):
            if value is not None:
                body[key] = value
        r = self.client.post(f"{BASE}/agents/{agent_id}/think", json=body, headers=AUTH)
        if model.status != "RUNNING":
            assert r.status_code == 404
            return
        assert r.status_code == 200
        # Documented defaults (v2.7+, the model's DEFAULT_ACTIONS): interrupt while listening or
        # thinking, ignore while speaking.
        model.think(text, {"listening": listening, "thinking": thinking, "speaking": speaking}, self.now)

    @rule(data=st.data())
    def interrupt(self, data: st.DataObject) -> None:
        agent_id = self.pick(data)
        if agent_id is None:
            return
        model = self.models[agent_id]
        r = self.client.post(f"{BASE}/agents/{agent_id}/interrupt", headers=AUTH)
        assert r.status_code == (200 if model.status == "RUNNING" else 404)
        model.interrupt()

    @rule(seconds=st.sampled_from([0.1, 0.3, 0.5, 0.8, 1.0, 2.5]))
    def advance(self, seconds: float) -> None:
        self.world.clock.advance(seconds)
        self.now += seconds
        for model in self.models.values():
            model.settle(self.now)

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "models"):
            return
        for agent_id, model in self.models.items():
            got = self.client.get(f"/_mock/agora/projects/demo-app-id/agents/{agent_id}").json()
            assert got["status"] == model.status, (agent_id, got, vars(model))
            if model.status == "RUNNING":
                assert got["state"] == model.state, (got, vars(model))
                assert len(got["queue"]) == len(model.queue)


TestAgentsMachine = AgentsMachine.TestCase
TestAgentsMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


# -- no request shape makes an agent operation fail --------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
OPERATIONS = [
    ("POST", "/join"),
    ("GET", "/agents"),
    ("GET", "/agents/{id}"),
    ("GET", "/agents/{id}/history"),
    ("GET", "/agents/{id}/turns"),
    ("POST", "/agents/{id}/leave"),
    ("POST", "/agents/{id}/update"),
    ("POST", "/agents/{id}/speak"),
    ("POST", "/agents/{id}/interrupt"),
    ("POST", "/agents/{id}/think"),
]


@pytest.fixture(scope="module")
def fuzz(checker: ResponseChecker) -> Iterator[tuple[TestClient, str]]:
    world = World(seed=4)
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE])) as client:
        client.event_hooks["response"].append(checker)
        agent_id = client.post(f"{BASE}/join", json={"name": "f", "properties": properties()}, headers=AUTH).json()
        yield client, agent_id["agent_id"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    op=st.sampled_from(OPERATIONS),
    agent=st.sampled_from(["live", "1NT29XNOPE"]) | st.text(min_size=1, max_size=8),
    body=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "name": json_values,
            "properties": st.fixed_dictionaries(
                {},
                optional={
                    "channel": json_values,
                    "token": json_values,
                    "agent_rtc_uid": json_values,
                    "remote_rtc_uids": json_values,
                    "llm": json_values,
                    "tts": json_values,
                    "idle_timeout": json_values,
                },
            ),
            "text": st.text(max_size=600) | json_values,
            "priority": json_values,
            "on_speaking_action": json_values,
        },
    ),
    query=st.dictionaries(
        st.sampled_from(["limit", "state", "cursor", "page_size", "page_index", "from_time"]),
        st.text(max_size=6),
        max_size=3,
    ),
    auth=st.sampled_from([AUTH, {}, {"authorization": "agora token=x"}]),
)
def test_no_request_shape_breaks_agent_operations(
    fuzz: tuple[TestClient, str],
    op: tuple[str, str],
    agent: str,
    body: Any,
    query: dict[str, str],
    auth: dict[str, str],
) -> None:
    client, live_id = fuzz
    agent_id = live_id if agent == "live" else quote(agent, safe="")
    method, path = op
    r = client.request(
        method,
        BASE + path.replace("{id}", agent_id),
        content=orjson.dumps(body),
        params=query,
        headers={**auth, "content-type": "application/json"},
    )
    assert r.status_code < 500, r.text
    assert set(r.json()) >= ({"detail", "reason"} if r.status_code >= 400 else set())
