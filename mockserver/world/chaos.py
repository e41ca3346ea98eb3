"""Conversation-level chaos: named, seeded scenarios that act on the simulated world.

Faults (``faults.py``) act on HTTP requests; these act inside the conversation, where real outages
happen: an agent that fails mid-sentence, a TTS vendor that times out, a call nobody answers, a
LiveKit room that closes between two deliveries. A rule names a scenario and its scope (tenant,
agent, channel or room), when it may act (from a moment on the mock clock, ``times`` times, with a
seeded ``probability``) and the scenario's parameters. Nothing runs in the background: a rule acts
at the world's own moments (an activity starts, an agent is created, a call is dialled, a delivery
is made, a request is metered) or on a timer of the agent's ``Conversation``, which fires when the
clock passes it. Every firing is an inbox event (kind ``chaos``), like any other effect.

docs/chaos.md says, per scenario, what the vendor would show and what a robust client should do.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import DomainError, ErrorCode
from .ratelimit import Admission

if TYPE_CHECKING:
    from . import World
    from .agora import AgoraAgent
    from .conversation import Activity, Conversation
    from .telephony import Call

__all__ = ["MAX_RULES", "SCENARIOS", "STARTUP_TIMEOUT_S", "TOKEN_WARNING_S", "ChaosRule", "Chaos", "Scenario"]

MAX_RULES = 1000  # rules in force at once (our bound); 422 beyond
# Our choices where the vendor publishes no number: an agent that cannot connect gives up after
# STARTUP_TIMEOUT_S; the RTC token warning (webhook 104 / 1101) comes TOKEN_WARNING_S before expiry,
# as the RTC SDKs' onTokenPrivilegeWillExpire does; a ring lasts RING_S (2 s on, 4 s off).
STARTUP_TIMEOUT_S = 60.0
TOKEN_WARNING_S = 30.0
RING_S = 6.0
WHEN = ("speaking", "thinking")


class Scenario(NamedTuple):
    """A named scenario: its vendor, what it does, and its parameters with their defaults."""

    name: str
    vendor: str  # agora | bithuman (telephony scenarios act on Agora calls)
    summary: str
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "vendor": self.vendor, "summary": self.summary, "params": dict(self.params)}


def _scenarios(*items: Scenario) -> dict[str, Scenario]:
    return {s.name: s for s in items}


SCENARIOS = _scenarios(
    Scenario(
        "agent_fails",
        "agora",
        "The agent fails (FAILED): at once, or half-way through its next speech or thought (`when`).",
        {"when": None, "message": "internal error"},
    ),
    Scenario(
        "rtc_drop",
        "agora",
        "The agent's RTC connection drops: FAILED `RTC connection error`, at once or mid-activity (`when`).",
        {"when": None},
    ),
    Scenario(
        "tts_error",
        "agora",
        "The TTS vendor errors as a speech starts: the turn ends `error`; the agent runs on or fails.",
        {"keep_running": True, "code": 503, "message": "TTS service unavailable"},
    ),
    Scenario(
        "tts_timeout",
        "agora",
        "The TTS vendor never answers: after `timeout_s` the turn ends `error`; the agent runs on or fails.",
        {"keep_running": True, "timeout_s": 10.0},
    ),
    Scenario(
        "llm_error",
        "agora",
        "The LLM errors while the agent thinks: the turn ends `error` (LLM_REQUEST_ERR); runs on or fails.",
        {"keep_running": True, "code": 503, "message": "LLM service unavailable"},
    ),
    Scenario(
        "llm_timeout",
        "agora",
        "The LLM never answers: after `timeout_s` the turn ends `error` (LLM_REQUEST_ERR); runs on or fails.",
        {"keep_running": True, "timeout_s": 10.0},
    ),
    Scenario(
        "startup_never_completes",
        "agora",
        "A new agent stays STARTING, then FAILED `Connecting for too long` after `timeout_s`.",
        {"timeout_s": STARTUP_TIMEOUT_S},
    ),
    Scenario(
        "user_leaves_mid_utterance",
        "agora",
        "The remote user leaves half-way through the agent's next speech; the idle timeout then runs.",
        {},
    ),
    Scenario(
        "barge_in_storm",
        "agora",
        "As the agent's next speech starts, the user barges in `count` times, `gap_s` apart.",
        {"count": 5, "gap_s": 0.2},
    ),
    Scenario(
        "token_expires",
        "agora",
        "The agent's RTC token expires `after_s` from now (or at `at`); unless renewed (update) by then, "
        "the agent fails with `RTC connection error`. A warning comes 30 s before.",
        {"after_s": 60.0},
    ),
    Scenario(
        "call_never_connects",
        "agora",
        "An outbound call never connects: it ends `failed` after the no-answer timeout.",
        {},
    ),
    Scenario(
        "call_drops_after_answer",
        "agora",
        "An outbound call is answered, then drops `after_s` later (reason `hangup`).",
        {"after_s": 5.0},
    ),
    Scenario(
        "call_busy_after_rings",
        "agora",
        "An outbound call rings `rings` times (6 s each), then ends `failed` (busy).",
        {"rings": 3},
    ),
    Scenario(
        "room_closes_between_deliveries",
        "bithuman",
        "Right after a delivery, the room it reached (or `room`) closes: the next delivery finds it gone.",
        {"room": None},
    ),
    Scenario(
        "rate_limit_burst",
        "bithuman",
        "A burst from elsewhere empties the account's bucket: the next `times` writes answer 429.",
        {"retry_after": 2, "per_minute": 30},
    ),
)

_TIMED = ("agent_fails", "rtc_drop", "token_expires")  # act on a timer when no `when` is given
_ON_START = (
    *("agent_fails", "rtc_drop", "tts_error", "tts_timeout", "llm_error", "llm_timeout"),
    *("user_leaves_mid_utterance", "barge_in_storm"),
)
_RULE_FIELDS = {"scenario", "tenant", "agent", "channel", "at", "times", "probability", "params"}
_CALLS = ("call_never_connects", "call_drops_after_answer", "call_busy_after_rings")


@dataclass(slots=True, eq=False)  # a rule is itself: two rules with the same fields are two rules
class ChaosRule:
    """One scenario in force, with its scope and budget."""

    id: int
    scenario: str
    tenant: str | None = None
    agent: str | None = None  # Agora agent id or bitHuman agent code
    channel: str | None = None  # Agora channel or bitHuman room
    at: float | None = None  # acts from this moment on the mock clock (None: from now)
    times: int | None = 1  # None: for ever
    probability: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0
    armed: set[str] = field(default_factory=set)  # agents with a timer of this rule

    def param(self, name: str) -> Any:
        return self.params.get(name, SCENARIOS[self.scenario].params.get(name))

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, tenant: str | None, agent: str | None, channel: str | None, now: float | None) -> bool:
        """Whether the rule is in scope (and, unless ``now`` is None, already in force)."""
        return (
            not self.spent
            and (self.tenant is None or self.tenant == tenant)
            and (self.agent is None or self.agent == agent)
            and (self.channel is None or self.channel == channel)
            and (self.at is None or now is None or self.at <= now)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "tenant": self.tenant,
            "agent": self.agent,
            "channel": self.channel,
            "at": self.at,
            "times": self.times,
            "probability": self.probability,
            "params": {**SCENARIOS[self.scenario].params, **self.params},
            "fired": self.fired,
        }


def _check_params(scenario: Scenario, params: dict[str, Any]) -> dict[str, Any]:
    for name, value in params.items():
        if name not in scenario.params:
            known = ", ".join(scenario.params) or "none"
            raise DomainError(
                ErrorCode.INVALID,
                f"{scenario.name} has no parameter {name!r} (parameters: {known})",
                field=f"params.{name}",
            )
        default = scenario.params[name]
        if name == "when":
            if value is not None and value not in WHEN:
                raise DomainError(ErrorCode.INVALID, f"when must be one of: {', '.join(WHEN)}", field="params.when")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise DomainError(ErrorCode.INVALID, f"{name} must be true or false", field=f"params.{name}")
        elif isinstance(default, int | float):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 86400:
                raise DomainError(ErrorCode.INVALID, f"{name} must be a number from 0 to 86400", field=f"params.{name}")
        elif value is not None and not isinstance(value, str):
            raise DomainError(ErrorCode.INVALID, f"{name} must be a string", field=f"params.{name}")
    return dict(params)


class Chaos:
    """The chaos rules in force, and the hooks through which they act on the world."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self._world = world
        self._rng = rng
        self.rules: list[ChaosRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- the rules -----------------------------------------------------------------------------

    def set_rng(self, rng: random.Random) -> None:
        self._rng = rng

    def add(self, spec: dict[str, Any]) -> ChaosRule:
        """Put a rule in force (``spec``: scenario, tenant, agent, channel, at, times, probability, params
        and, as a shorthand, the scenario's parameters at the top level)."""
        name = spec.get("scenario")
        scenario = SCENARIOS.get(name) if isinstance(name, str) else None
        if scenario is None:
            raise DomainError(ErrorCode.INVALID, f"scenario must be one of: {', '.join(SCENARIOS)}", field="scenario")
        unknown = sorted(set(spec) - _RULE_FIELDS - set(scenario.params))
        if unknown:
            raise DomainError(ErrorCode.INVALID, f"unknown field {unknown[0]!r} for {scenario.name}", field=unknown[0])
        top = {k: v for k, v in spec.items() if k in scenario.params}
        given = spec.get("params") or {}
        if not isinstance(given, dict):
            raise DomainError(ErrorCode.INVALID, "params must be an object", field="params")
        params = _check_params(scenario, {**top, **given})
        probability = spec.get("probability", 1.0)
        if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise DomainError(ErrorCode.INVALID, "probability must be between 0 and 1", field="probability")
        times = spec.get("times", 1)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise DomainError(ErrorCode.INVALID, "times must be a positive integer, or null for ever", field="times")
        at = spec.get("at")
        if at is not None and (isinstance(at, bool) or not isinstance(at, int | float)):
            raise DomainError(ErrorCode.INVALID, "at must be a moment on the mock clock (unix seconds)", field="at")
        for name in ("tenant", "agent", "channel"):
            if spec.get(name) is not None and not isinstance(spec[name], str):
                raise DomainError(ErrorCode.INVALID, f"{name} must be a string", field=name)
        with self._world.lock:
            if len(self.rules) >= MAX_RULES:
                raise DomainError(ErrorCode.INVALID, f"at most {MAX_RULES} chaos rules are in force at once")
            rule = ChaosRule(
                id=next(self._ids),
                scenario=scenario.name,
                tenant=spec.get("tenant"),
                agent=spec.get("agent"),
                channel=spec.get("channel"),
                at=None if at is None else float(at),
                times=times,
                probability=float(probability),
                params=params,
            )
            self.rules.append(rule)
            if scenario.name in _TIMED:
                for agent in self._live_agents(rule):
                    self._arm(rule, agent)
            return rule

    def list_rules(self, tenant: str | None = None) -> list[ChaosRule]:
        with self._world.lock:
            return [r for r in self.rules if tenant is None or r.tenant == tenant]

    def remove(self, rule_id: int) -> None:
        with self._world.lock:
            before = len(self.rules)
            self.rules = [r for r in self.rules if r.id != rule_id]
            if len(self.rules) == before:
                raise DomainError(ErrorCode.NOT_FOUND, f"no chaos rule {rule_id}")

    def clear(self, tenant: str | None = None) -> int:
        """Drop every rule, or those scoped to ``tenant``; returns how many."""
        with self._world.lock:
            kept = [r for r in self.rules if tenant is not None and r.tenant != tenant]
            dropped = len(self.rules) - len(kept)
            self.rules = kept
            return dropped

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the rules (and the RNG) back as they are now."""
        rules, rng = list(self.rules), self._rng

        def restore() -> None:
            self.rules, self._rng = rules, rng

        return restore

    def _fire(self, rule: ChaosRule) -> bool:
        """Whether the rule acts now (drawn from the seeded RNG); consumes one of its ``times``."""
        if rule.spent or rule not in self.rules:
            return False
        if rule.probability < 1.0:
            with self._lock:
                if self._rng.random() >= rule.probability:
                    return False
        rule.fired += 1
        return True

    def _matching(
        self,
        names: tuple[str, ...],
        tenant: str | None,
        agent: str | None,
        channel: str | None,
        at: float | None = None,
        *,
        timed: bool = False,
    ) -> list[ChaosRule]:
        # A timed rule is armed on an agent whatever its ``at``: its timer is set for that moment.
        now = None if timed else self._world.clock.now() if at is None else at
        return [r for r in self.rules if r.scenario in names and r.matches(tenant, agent, channel, now)]

    # -- Agora agents --------------------------------------------------------------------------

    def _live_agents(self, rule: ChaosRule) -> list[AgoraAgent]:
        found = []
        for project in self._world.agora.projects.values():
            if rule.tenant is not None and project.customer_id != rule.tenant:
                continue
            for agent in project.live.values():
                if (rule.agent in (None, agent.agent_id)) and (rule.channel in (None, agent.channel)):
                    found.append(agent)
        return found

    def on_agent_start(self, tenant: str, agent: AgoraAgent) -> None:
        """A new agent: watch its activities; arm timed rules; maybe never let it finish starting."""
        conversation = agent.conversation
        conversation.on_start = lambda activity, at: self._on_activity(tenant, agent, activity, at)
        if not self.rules:
            return
        for rule in self._matching(_TIMED, tenant, agent.agent_id, agent.channel, timed=True):
            self._arm(rule, agent)
        for rule in self._matching(("startup_never_completes",), tenant, agent.agent_id, agent.channel):
            if self._fire(rule):
                now = self._world.clock.now()
                conversation.running_at = None
                self._event(agent, rule, now, timeout_s=rule.param("timeout_s"))
                conversation.schedule(
                    now + float(rule.param("timeout_s")),
                    lambda at: conversation.fail(at, "Connecting for too long"),
                )
                break

    def _arm(self, rule: ChaosRule, agent: AgoraAgent) -> None:
        """Set the timer of a timed rule on one agent (once)."""
        if agent.agent_id in rule.armed:
            return
        if rule.scenario != "token_expires" and rule.param("when") is not None:
            return  # it acts on the agent's next speech or thought instead (_on_activity)
        rule.armed.add(agent.agent_id)
        conversation = agent.conversation
        now = self._world.clock.now()
        if rule.scenario == "token_expires":
            expires = rule.at if rule.at is not None else now + float(rule.param("after_s"))
            token = agent.properties.get("token")

            def warn(at: float) -> None:
                if self._fire(rule):
                    self._event(agent, rule, at, expires_at=expires)
                    conversation.emit(
                        kind="token",
                        text="RTC token expiring",
                        outcome="expiring",
                        time=at,
                        data={"expires_at": expires},
                    )
                    conversation.schedule(max(at, expires), expire)

            def expire(at: float) -> None:
                if agent.properties.get("token") == token:  # not renewed through update
                    conversation.fail(at, "RTC connection error")

            conversation.schedule(max(now, expires - TOKEN_WARNING_S), warn)
            return
        message = "RTC connection error" if rule.scenario == "rtc_drop" else str(rule.param("message"))

        def fail(at: float) -> None:
            if self._fire(rule):
                self._event(agent, rule, at)
                conversation.fail(at, message)

        conversation.schedule(max(now, rule.at or now), fail)

    def _on_activity(self, tenant: str, agent: AgoraAgent, activity: Activity, at: float) -> None:
        if not self.rules:
            return
        for rule in self._matching(_ON_START, tenant, agent.agent_id, agent.channel, at):
            if self._applies(rule, activity) and self._fire(rule):
                self._event(agent, rule, at, turn_id=activity.turn.turn_id, activity=activity.kind)
                self._act(rule, agent.conversation, activity, at)
                return

    @staticmethod
    def _applies(rule: ChaosRule, activity: Activity) -> bool:
        if rule.scenario in ("agent_fails", "rtc_drop"):
            return rule.param("when") == activity.kind
        if rule.scenario in ("tts_error", "tts_timeout", "user_leaves_mid_utterance", "barge_in_storm"):
            return activity.kind == "speaking"
        return activity.kind == "thinking"  # llm_error, llm_timeout

    def _act(self, rule: ChaosRule, conversation: Conversation, activity: Activity, at: float) -> None:
        middle = activity.start + (activity.end - activity.start) / 2
        keep_running = bool(rule.param("keep_running"))

        def while_current(action: Callable[[float], None]) -> Callable[[float], None]:
            # The activity may have been cut or finished meanwhile: then the timer does nothing.
            return lambda when: action(when) if conversation.current is activity else None

        name = rule.scenario
        if name in ("agent_fails", "rtc_drop"):
            message = "RTC connection error" if name == "rtc_drop" else str(rule.param("message"))
            conversation.schedule(middle, while_current(lambda when: conversation.fail(when, message)))
        elif name in ("tts_error", "llm_error", "tts_timeout", "llm_timeout"):
            module = name.split("_")[0]
            if name.endswith("timeout"):
                delay = float(rule.param("timeout_s"))
                activity.end = at + delay + 1.0  # no audio (or no reply) arrives before the timeout
                code, message = 504, f"{module.upper()} request timed out after {delay:g} s"
            else:
                delay, code, message = 0.0, int(rule.param("code")), str(rule.param("message"))

            def error(when: float) -> None:
                conversation.module_error(when, module, code, message)
                if not keep_running:
                    conversation.fail(when, f"{module} error: {message}")

            conversation.schedule(at + delay, while_current(error))
        elif name == "user_leaves_mid_utterance":
            conversation.schedule(middle, lambda when: conversation.user_leaves(when))
        elif name == "barge_in_storm":
            gap = float(rule.param("gap_s"))

            def barge_in(n: int) -> Callable[[float], None]:
                def says(when: float) -> None:
                    if conversation.status == "RUNNING":
                        conversation.user_says(when, f"(barge-in {n})")

                return says

            for n in range(int(rule.param("count"))):
                conversation.schedule(at + gap * (n + 1), barge_in(n + 1))

    def _event(self, agent: AgoraAgent, rule: ChaosRule, at: float, **data: Any) -> None:
        agent.conversation.emit(
            kind="chaos",
            text=rule.scenario,
            outcome=rule.scenario,
            time=at,
            data={"rule": rule.id, **data},
            operation="chaos",
        )

    # -- Agora calls ---------------------------------------------------------------------------

    def on_call(self, tenant: str, call: Call, now: float) -> None:
        """An outbound call is dialled: maybe it never connects, drops after answer, or is busy."""
        if not self.rules:
            return
        agent = call.agent
        for rule in self._matching(_CALLS, tenant, agent.agent_id, agent.channel):
            if not self._fire(rule):
                continue
            self._event(agent, rule, now, to_number=call.to_number)
            if rule.scenario == "call_never_connects":
                from .telephony import NO_ANSWER_TIMEOUT_S

                call.answer_at, call.fail_at, call.fail_why = None, now + NO_ANSWER_TIMEOUT_S, "never connected"
            elif rule.scenario == "call_busy_after_rings":
                call.answer_at = None
                call.fail_at, call.fail_why = now + RING_S * int(rule.param("rings")), "busy"
            else:
                if call.answer_at is None:
                    call.answer_at = now
                call.hangup_after, call.fail_why = float(rule.param("after_s")), "the call dropped"
            return

    # -- bitHuman ------------------------------------------------------------------------------

    def on_admit(self, account_id: str) -> Admission | None:
        """A write is metered: a ``rate_limit_burst`` rule refuses it (a 429 with Retry-After)."""
        if not self.rules:
            return None
        with self._world.lock:
            for rule in self._matching(("rate_limit_burst",), account_id, None, None):
                if self._fire(rule):
                    now = self._world.clock.now()
                    retry = int(rule.param("retry_after"))
                    per_minute = int(rule.param("per_minute"))
                    self._bithuman_event(account_id, None, None, rule, now, retry_after=retry)
                    return Admission(False, per_minute, 0, math.ceil(now + 60), max(1, retry))
        return None

    def on_delivery(self, account_id: str, agent_code: str, rooms: list[str]) -> None:
        """A delivery was made: a ``room_closes_between_deliveries`` rule closes the room right after."""
        if not self.rules:
            return
        with self._world.lock:
            now = self._world.clock.now()
            for rule in self.rules:
                if rule.scenario != "room_closes_between_deliveries":
                    continue
                # The room is the rule's (channel, or the room parameter), else the first one reached;
                # the rule acts only on a delivery that reached it.
                room = rule.channel or rule.param("room") or rooms[0]
                if room in rooms and rule.matches(account_id, agent_code, rule.channel, now) and self._fire(rule):
                    self._world.bithuman.close_room(account_id, agent_code, room)
                    self._bithuman_event(account_id, agent_code, room, rule, self._world.clock.now())
                    return

    def _bithuman_event(
        self, account_id: str, agent_code: str | None, room: str | None, rule: ChaosRule, at: float, **data: Any
    ) -> None:
        self._world.inbox.record(
            time=at,
            vendor="bithuman",
            tenant=account_id,
            agent=agent_code or "",
            room=room or "",
            kind="chaos",
            text=rule.scenario,
            operation="chaos",
            outcome=rule.scenario,
            data={"rule": rule.id, **data},
        )
