"""Agora handles: ``mockserver.agora`` makes projects; an ``AgoraAgent`` is driven and read on the clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from secrets import token_hex
from typing import Any

from ..client import ControlClient, Event, quote
from .common import Clock, Expected, Tenants, expect

__all__ = ["AGORA_PREFIX", "Agora", "AgoraAgent", "Project"]

AGORA_PREFIX = "/api/conversational-ai-agent"
_MAX_STEPS = 1000  # clock steps one helper may take before it calls the agent stuck


class Agora:
    """Makes Agora tenants: each ``project()`` is a new customer (id, secret) with one project."""

    def __init__(self, client: ControlClient, tenants: Tenants, clock: Clock, httpx_client: Callable[..., Any]) -> None:
        self.client, self.clock, self._tenants, self._httpx_client = client, clock, tenants, httpx_client

    def project(self, *, responder: Any = None, **options: Any) -> Project:
        """A fresh customer and project.

        Args:
            responder: scripted replies to user speech: ``{"regex": "reply"}`` or ``[{match, reply}]``
                (first match wins; the agent echoes otherwise).
            **options: ``concurrency_limit``, ``startup_delay``, ``tokens``, ``app_certificate``.
        """
        tenant, appid = self._tenants.new_id(), token_hex(16)
        project = {"appid": appid, **options}
        if responder is not None:
            project["responder"] = _rules(responder)
        body = {"id": tenant, "secret": token_hex(16), "projects": [project]}
        raw = self.client.create_agora_customer(body)
        self._tenants.adopt(tenant)
        return self._project(appid, raw)

    def get_project(self, appid: str) -> Project:
        """A project that exists already (from a fixture file, say).

        Changing it (``update``, ``respond``, ``dial_rules``) makes its customer one of the test's
        tenants: reset to its start-up definition when the test ends.
        """
        customer = self.client.get_agora_project(appid)["customer_id"]
        return self._project(appid, self.client.get_agora_customer(customer))

    def _project(self, appid: str, customer: dict[str, Any]) -> Project:
        return Project(
            self.client, appid, customer, clock=self.clock, httpx_client=self._httpx_client, tenants=self._tenants
        )


def _rules(responder: Any) -> list[dict[str, str]]:
    if isinstance(responder, dict):
        return [{"match": match, "reply": reply} for match, reply in responder.items()]
    return [dict(rule) for rule in responder]


class Project:
    """An Agora project: ``.app_id``, ``.customer_id``, ``.customer_secret``, ``.auth_header``, ``.base_url``.

    Args:
        client: the control-plane client.
        app_id: the project's App ID.
        customer: the customer that owns it, as the control plane returns it.
        clock: the mock clock its agents' helpers advance.
        httpx_client: makes the ``httpx.Client`` that ``sdk()`` sends through (closed after the test).
        tenants: the test's tenants, which the customer joins when the project is changed.
    """

    def __init__(
        self,
        client: ControlClient,
        app_id: str,
        customer: dict[str, Any],
        *,
        clock: Clock,
        httpx_client: Callable[..., Any],
        tenants: Tenants | None = None,
    ) -> None:
        self.client, self.clock, self._httpx_client, self._tenants = client, clock, httpx_client, tenants
        self.app_id = app_id
        self.customer_id: str = customer["id"]
        self.customer_secret: str = customer["secret"]
        self.auth_header: str = customer["basic_authorization"]
        self.url = client.url
        self.base_url = client.url + AGORA_PREFIX  # what the SDK's ``base_url`` wants

    @property
    def headers(self) -> dict[str, str]:
        """The customer's credentials as request headers (``Authorization: Basic ...``)."""
        return {"authorization": self.auth_header}

    def _changing(self) -> None:
        # A change to a tenant the test did not make (a fixture's) is undone by resetting it.
        if self._tenants is not None:
            self._tenants.adopt(self.customer_id)

    def sdk(self, **kwargs: Any) -> Any:
        """The official SDK's client (``agora-agents``), authenticated, reaching this mock."""
        try:
            from agora_agent.client import Agora as AgoraSDK
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("project.sdk() needs the official SDK: pip install agora-agents") from exc
        kwargs.setdefault("httpx_client", self._httpx_client(timeout=30))
        return AgoraSDK(
            base_url=self.base_url,
            authorization=self.auth_header,
            username=self.customer_id,
            password=self.customer_secret,
            **kwargs,
        )

    def agent(self, agent_id: str) -> AgoraAgent:
        """The handle of an agent started through the API."""
        return AgoraAgent(self, agent_id)

    def respond(self, match: str, reply: str) -> None:
        """Add a scripted reply: user speech that ``match`` finds is answered with ``reply``."""
        rules = self.client.get_agora_project(self.app_id)["responder"]
        self.update(responder=[*rules, {"match": match, "reply": reply}])

    def update(self, **changes: Any) -> dict[str, Any]:
        """Change ``responder``, ``concurrency_limit``, ``startup_delay`` or ``tokens``."""
        if "responder" in changes:
            changes["responder"] = _rules(changes["responder"])
        self._changing()
        return self.client.update_agora_project(self.app_id, **changes)

    def dial_rules(self, rules: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace the customer's dial rules: what callees do when an agent calls them."""
        self._changing()
        return self.client.set_agora_dial_rules(self.customer_id, rules)

    def inbound_call(self, to_number: str, from_number: str, **options: Any) -> AgoraAgent:
        """A call arrives at an imported number (``source_address``); returns the agent that answers it."""
        call = self.client.simulate_inbound_call(self.customer_id, to_number, from_number, appid=self.app_id, **options)
        return self.agent(call["agent_id"])

    def events(self, **filters: Any) -> list[Event]:
        return self.client.list_inbox(tenant=self.customer_id, **filters)


class AgoraAgent:
    """An Agora agent of a project: arrange what its user does, read what it said.

    Reading anything first brings the agent up to the mock clock (its speech, thinking, idle
    timeout and stop are scheduled on it), so the answer is what the clock says now.
    """

    def __init__(self, project: Project, agent_id: str) -> None:
        self.project, self.agent_id = project, agent_id
        self.client, self.clock = project.client, project.clock

    def state(self) -> dict[str, Any]:
        """The simulation's view: ``status``, ``state``, ``current``, ``queue``, ``users_present``..."""
        return self.client.get_agora_agent_state(self.project.app_id, self.agent_id)

    @property
    def status(self) -> str:
        """IDLE, STARTING, RUNNING, STOPPING, STOPPED or FAILED."""
        return str(self.state()["status"])

    @property
    def activity(self) -> str:
        """listening, thinking or speaking."""
        return str(self.state()["state"])

    def user_joins(self) -> None:
        self.client.agora_user_joins(self.project.app_id, self.agent_id)

    def user_leaves(self) -> None:
        """The remote user leaves: the agent stops ``idle_timeout`` seconds later (on the mock clock)."""
        self.client.agora_user_leaves(self.project.app_id, self.agent_id)

    def user_says(self, text: str, *, wait: bool = True) -> str:
        """The simulated user speaks; returns the outcome: heard, queued or ignored.

        With ``wait`` the mock clock is advanced until the agent has finished thinking and started
        its reply (0.8 s for a heard utterance), so ``said()`` lists the reply at once. The clock
        is the server's, shared by every tenant: see docs/pytest-plugin.md before using it with
        ``--mockserver-url`` and pytest-xdist.
        """
        state = self.client.agora_user_says(self.project.app_id, self.agent_id, text)
        outcome = str(state.get("outcome", ""))
        if wait and outcome in ("heard", "queued"):
            turn = (state["current"] if outcome == "heard" else state["queue"][-1])["turn_id"]
            self._run(state, lambda s: any(a["turn_id"] == turn and a["kind"] == "thinking" for a in _doing(s)))
        return outcome

    def answer_call(self) -> dict[str, Any]:
        """The callee of its outbound call answers; returns the call."""
        return self.client.answer_agora_call(self.project.app_id, self.agent_id)

    def reject_call(self, reason: str | None = None) -> dict[str, Any]:
        """The callee refuses (``busy`` or ``no_answer``); returns the call."""
        return self.client.reject_agora_call(self.project.app_id, self.agent_id, reason)

    def remote_hangup(self) -> dict[str, Any]:
        """The other side of its call hangs up; returns the call."""
        return self.client.remote_hangup_agora_call(self.project.app_id, self.agent_id)

    def fail(self, message: str | None = None) -> None:
        """Force the agent to FAILED."""
        self.client.fail_agora_agent(self.project.app_id, self.agent_id, message or None)

    def speak(self, text: str, *, priority: str = "INTERRUPT", interruptable: bool = True) -> None:
        """Make it speak through the vendor API (``POST …/speak``), as the code under test would."""
        target = f"{AGORA_PREFIX}/v2/projects/{quote(self.project.app_id)}/agents/{quote(self.agent_id)}/speak"
        body = {"text": text, "priority": priority, "interruptable": interruptable}
        self.client.call("POST", target, body, headers={"authorization": self.project.auth_header})

    def busy(self, seconds: float = 5.0, *, interruptable: bool = True) -> None:
        """Keep it speaking for ``seconds`` of mock time (a filler text, which ``said()`` lists)."""
        from ..world.conversation import SPEECH_MS_PER_CHAR

        chars = max(1, math.ceil(seconds * 1000 / SPEECH_MS_PER_CHAR))
        filler = ("Please hold. " * (chars // 13 + 1))[:chars]
        for n, start in enumerate(range(0, chars, 512)):  # the API takes 512 bytes a request
            self.speak(
                filler[start : start + 512], priority="APPEND" if n else "INTERRUPT", interruptable=interruptable
            )

    def advance_until_listening(self) -> dict[str, Any]:
        """Advance the mock clock until it has nothing left to say or think; returns its state."""
        return self._run(self.state(), lambda s: bool(_doing(s)))

    def _run(self, state: dict[str, Any], busy: Any) -> dict[str, Any]:
        for _ in range(_MAX_STEPS):
            current = state.get("current")
            if current is None or not busy(state):
                return state
            # Step to the end of what it is doing now: the next scheduled change. The microsecond
            # makes sure float rounding never leaves the clock a hair short of it.
            self.clock.advance(max(0.0, current["end"] - self.clock.now()) + 1e-6)
            state = self.state()
        raise RuntimeError(f"Agora agent {self.agent_id} was still busy after {_MAX_STEPS} clock steps")

    def events(self, kind: str | None = None) -> list[Event]:
        """Everything that happened to it (lifecycle, speech, thinking, users), oldest first."""
        self.state()  # bring it up to the clock: due events are recorded when it is read
        return self.client.list_inbox(tenant=self.project.customer_id, agent=self.agent_id, kind=kind)

    def said(self) -> list[str]:
        """What it spoke (greeting, replies, speak), in order; interrupted speech included."""
        return [e.text for e in self.events("speech") if e.outcome == "spoken"]

    def heard(self) -> list[str]:
        """What the simulated user said to it (not ignored), in order."""
        return [e.text for e in self.events("user_speech") if e.outcome in ("heard", "queued")]

    def context(self) -> list[str]:
        """What was injected with ``think`` (not ignored), in order."""
        return [e.text for e in self.events("think") if e.outcome in ("thinking", "queued")]

    def _who(self) -> str:
        return f"Agora agent {self.agent_id!r} (project {self.project.app_id!r})"

    def assert_said(self, *expected: Expected) -> None:
        """Assert it spoke these (strings, or ``re`` patterns), in this order, among others."""
        __tracebackhide__ = True
        events = self.events()
        said = [e.text for e in events if e.kind == "speech" and e.outcome == "spoken"]
        expect(self._who(), ("say", "said"), expected, said, events)

    def assert_context(self, *expected: Expected) -> None:
        """Assert ``think`` injected these, in this order, among others."""
        __tracebackhide__ = True
        events = self.events()
        thought = [e.text for e in events if e.kind == "think" and e.outcome in ("thinking", "queued")]
        expect(self._who(), ("receive with think", "received"), expected, thought, events)

    def assert_status(self, expected: str) -> None:
        """Assert its status (RUNNING, STOPPED, FAILED...), showing its lifecycle if not."""
        __tracebackhide__ = True
        state = self.state()
        if state["status"] != expected:
            story = "\n".join(f"    {e.describe()}" for e in self.events("lifecycle")) or "    (nothing)"
            message = f" ({state['message']})" if state.get("message") else ""
            raise AssertionError(
                f"{self._who()} was expected to be {expected}, but it is {state['status']}{message}\n"
                f"its lifecycle, oldest first:\n{story}"
            )


def _doing(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in [state.get("current"), *state.get("queue", ())] if a]
