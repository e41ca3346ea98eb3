"""One Agora agent's life on the mock clock: lifecycle, speech, thinking, turns and history.

Nothing here runs in the background. Every read or action first calls ``advance(now)``, which
replays the scheduled events that fell due since the last call, in time order: start-up
(STARTING -> RUNNING, then the greeting), the end of the current speech or thought (and the start
of whatever was queued after it), the idle timeout, the 72-hour session cap, and the end of
STOPPING. So the state is always what the clock says, and tests move the clock instead of sleeping.

Timing choices (the vendor documents none): speech lasts ``SPEECH_MS_PER_CHAR`` per character
(at least ``MIN_SPEECH_S``); the simulated LLM thinks for ``THINK_S``; STOPPING lasts ``STOP_S``.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import DomainError, ErrorCode

__all__ = [
    "MAX_SESSION_S",
    "MIN_SPEECH_S",
    "QUEUE_LIMIT",
    "SPEECH_MS_PER_CHAR",
    "STATES",
    "STATUS_CODES",
    "STOP_S",
    "THINK_S",
    "TRANSITIONS",
    "Activity",
    "Conversation",
    "Turn",
    "speech_seconds",
]

STATUS_CODES = {"IDLE": 0, "STARTING": 1, "RUNNING": 2, "STOPPING": 3, "STOPPED": 4, "FAILED": 6}
SPEECH_MS_PER_CHAR = 60  # about 170 words a minute
MIN_SPEECH_S = 0.5
THINK_S = 0.8
STOP_S = 1.0
MAX_SESSION_S = 72 * 3600  # the documented hard cap of one session
TURN_LIMIT = 2000  # turns kept per agent (oldest dropped)
# Our bound (the vendor documents none): speech and thoughts waiting behind the current one. Past
# it, speak/think with APPEND answer 429 and a user's queued utterance is refused; nothing is lost
# silently.
QUEUE_LIMIT = 100
# The lifecycle and the conversational states as data (the coverage report reads them): each
# transition is (from, to, cause); the cause of STOPPING is the reason its event carries.
TRANSITIONS = (
    ("STARTING", "RUNNING", "ready"),
    ("STARTING", "FAILED", "failure"),
    ("RUNNING", "STOPPING", "leave"),
    ("RUNNING", "STOPPING", "idle timeout"),
    ("RUNNING", "STOPPING", "session time limit (72 h)"),
    ("RUNNING", "FAILED", "failure"),
    ("STOPPING", "STOPPED", "done"),
)
STATES = ("listening", "thinking", "speaking")


def speech_seconds(text: str) -> float:
    return max(MIN_SPEECH_S, len(text) * SPEECH_MS_PER_CHAR / 1000.0)


def _ms(t: float) -> int:
    return int(round(t * 1000))


@dataclass(slots=True)
class Turn:
    """One conversation turn, as ``GET …/turns`` reports it once it has ended."""

    turn_id: int
    start_at: float
    start_type: str  # voice_input | greeting | silence_timeout | api_speak
    start_metadata: dict[str, Any]
    end_at: float | None = None
    end_type: str | None = None  # ok | interrupted | ignored | error
    end_metadata: dict[str, Any] = field(default_factory=dict)
    latency_ms: int = 0

    def to_dict(self, agent_id: str, channel: str) -> dict[str, Any]:
        segments = (
            [{"name": "tts_ttfb", "latency": float(self.latency_ms)}]
            if self.start_type != "voice_input"
            else [
                {"name": "asr_ttlw", "latency": 200.0},
                {"name": "llm_ttft", "latency": float(self.latency_ms - 350)},
                {"name": "tts_ttfb", "latency": 150.0},
            ]
        )
        return {
            "agent_id": agent_id,
            "channel": channel,
            "turn_id": self.turn_id,
            "start": {"start_at": _ms(self.start_at), "type": self.start_type, "metadata": self.start_metadata},
            "end": {"end_at": _ms(self.end_at or self.start_at), "type": self.end_type, "metadata": self.end_metadata},
            "metrics": {"e2e_latency_ms": self.latency_ms, "segmented_latency_ms": segments},
        }


@dataclass(slots=True)
class Activity:
    """What the agent is doing now, or will do next: speaking a text, or thinking of a reply."""

    kind: str  # "speaking" | "thinking"
    text: str  # what is spoken, or the user input being thought about
    turn: Turn
    interruptable: bool
    source: str  # greeting | speak | think | voice | reply
    start: float = 0.0
    end: float = 0.0
    event_id: int | None = None  # the inbox event that announced it


class Conversation:
    """The timeline of one agent.

    Args:
        start: creation time (unix seconds).
        startup_delay: seconds spent STARTING.
        idle_timeout: seconds after the last remote user leaves before the agent stops (0: never).
        max_history: how many history items are kept.
        greeting: spoken once the agent is RUNNING, if given.
        responder: the scripted LLM: user input -> reply.
        emit: records an inbox event; returns its id.
    """

    def __init__(
        self,
        *,
        start: float,
        startup_delay: float,
        idle_timeout: int,
        max_history: int,
        greeting: str | None,
        responder: Callable[[str], str],
        emit: Callable[..., int],
        custom_llm: bool = False,
        greet_on_start: bool = True,
    ) -> None:
        self.created = start
        self.status = "STARTING"
        self.running_at: float | None = start + startup_delay
        self.idle_timeout = idle_timeout
        self.greeting = greeting
        self.responder = responder
        self.emit = emit
        self.custom_llm = custom_llm
        self.greet_on_start = greet_on_start
        self.history: deque[dict[str, Any]] = deque(maxlen=max_history)
        self.turns: deque[Turn] = deque(maxlen=TURN_LIMIT)
        self._turn_ids = 0
        self.current: Activity | None = None
        self.queue: deque[Activity] = deque()
        self.users_present = True
        self.users_left_at: float | None = None
        self.stop_at: float | None = None  # when STOPPING begins (leave, idle, cap)
        self.stop_reason = ""
        self.stopped_at: float | None = None
        self.message = ""
        self.now = start
        # Chaos scenarios (chaos.py) act through these: moments on the clock at which they act while
        # the agent is STARTING or RUNNING, and a look at each speech or thought as it starts.
        self.timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._timer_ids = itertools.count()
        self.on_start: Callable[[Activity, float], None] | None = None

    # -- the clock ---------------------------------------------------------------------------

    def _next_event(self) -> tuple[float, str] | None:
        candidates: list[tuple[float, str]] = []
        if self.status == "STARTING" and self.running_at is not None:
            candidates.append((self.running_at, "running"))
        if self.status == "RUNNING":
            if self.current is not None:
                candidates.append((self.current.end, "activity_end"))
            if self.stop_at is not None:
                candidates.append((self.stop_at, "stop"))
            if not self.users_present and self.idle_timeout > 0 and self.users_left_at is not None:
                candidates.append((self.users_left_at + self.idle_timeout, "idle"))
            candidates.append((self.created + MAX_SESSION_S, "cap"))
        if self.status == "STOPPING" and self.stopped_at is not None:
            candidates.append((self.stopped_at, "stopped"))
        if self.timers and self.status in ("STARTING", "RUNNING"):
            candidates.append((self.timers[0][0], "timer"))
        return min(candidates) if candidates else None

    def advance(self, now: float) -> None:
        """Apply every scheduled event up to ``now``, in time order."""
        while True:
            event = self._next_event()
            if event is None or event[0] > now:
                break
            at, kind = event
            self.now = at
            if kind == "running":
                self._become_running(at)
            elif kind == "activity_end":
                self._finish_current(at)
            elif kind == "stop":
                self._begin_stopping(at, self.stop_reason or "leave")
            elif kind == "idle":
                self._begin_stopping(at, "idle timeout")
            elif kind == "cap":
                self._begin_stopping(at, "session time limit (72 h)")
            elif kind == "stopped":
                self.status = "STOPPED"
                self.emit(kind="lifecycle", text="STOPPED", outcome="STOPPED", time=at)
            elif kind == "timer":
                heapq.heappop(self.timers)[2](at)
        self.now = max(self.now, now)

    @property
    def state(self) -> str:
        """The conversational state: listening, thinking or speaking."""
        return self.current.kind if self.current is not None else "listening"

    @property
    def live(self) -> bool:
        return self.status in ("STARTING", "RUNNING", "STOPPING")

    # -- transitions -------------------------------------------------------------------------

    def _become_running(self, at: float) -> None:
        self.status = "RUNNING"
        self.running_at = None
        self.emit(kind="lifecycle", text="RUNNING", outcome="RUNNING", time=at)
        if self.greet_on_start:
            self.greet(at)

    def greet(self, at: float) -> None:
        """Speak the greeting (at start-up, or when a telephone callee answers)."""
        if not self.greeting or self.status != "RUNNING":
            return
        turn = self._new_turn(at, "greeting", {"greeting_nth": 1})
        activity = Activity("speaking", self.greeting, turn, True, "greeting")
        activity.event_id = self.emit(
            kind="speech",
            text=self.greeting,
            outcome="spoken",
            time=at,
            data={"source": "greeting", "turn_id": turn.turn_id},
        )
        if self.current is not None:
            self._cut(at, "api_speak")
        self._start(activity, at)

    def _begin_stopping(self, at: float, reason: str) -> None:
        self._cut(at, "api_leave")
        self.queue.clear()
        self.status = "STOPPING"
        self.stop_at = None
        self.stopped_at = at + STOP_S
        self.message = f"agent exits with reason: {reason}"
        self.emit(
            kind="lifecycle",
            text="STOPPING",
            outcome="STOPPING",
            time=at,
            data={"reason": reason},
            operation="stop_agent" if reason == "leave" else "",
        )

    def fail(self, at: float, message: str) -> None:
        previous = self.status
        self._cut(at, "api_leave", end_type="error", reason="INTERNAL_ERR")
        self.queue.clear()
        self.status = "FAILED"
        self.stopped_at = at
        self.message = f"agent exits with reason: {message}"
        self.emit(
            kind="lifecycle",
            text="FAILED",
            outcome="FAILED",
            time=at,
            data={"message": message, "from": previous},
            operation="fail_agora_agent",
        )

    def schedule(self, at: float, action: Callable[[float], None]) -> None:
        """Call ``action(at)`` when the clock passes ``at`` (while STARTING or RUNNING)."""
        heapq.heappush(self.timers, (at, next(self._timer_ids), action))

    def module_error(self, at: float, module: str, code: int, message: str) -> None:
        """A module (``llm``, ``tts``) fails the current speech or thought: its turn ends ``error``.

        What was queued after it goes on, as the agent keeps running (the caller may fail it too).
        """
        activity = self.current
        if activity is None:
            return
        self.current = None
        played = _ms(at - activity.start) if activity.kind == "speaking" else 0
        reason = "LLM_REQUEST_ERR" if module == "llm" else "INTERNAL_ERR"
        # The contract's ``details`` is a string; the inbox event keeps the module's error as fields
        # (as webhook 110 reports it: module, code, message, turn_id).
        details = f"{module} error {code}: {message}"
        self._end_turn(activity.turn, at, "error", reason=reason, playback_duration_ms=played, details=details)
        self.emit(
            kind="error",
            text=message,
            outcome="error",
            time=at,
            data={
                "module": module,
                "code": code,
                "message": message,
                "turn_id": activity.turn.turn_id,
                "interrupts": activity.event_id,
            },
        )
        if self.queue:
            self._start_queued(self.queue.popleft(), at)

    def request_stop(self, at: float, graceful_timeout: float | None) -> None:
        """``leave``: stop now, or (graceful) once idle but within ``graceful_timeout`` seconds."""
        if self.status == "STARTING":
            self.status = "RUNNING"  # never became ready: stop straight away
        if graceful_timeout is None or self.current is None:
            self._begin_stopping(at, "leave")
            return
        idle_at = self.current.end + sum(
            speech_seconds(a.text) + (THINK_S + speech_seconds(self.responder(a.text)) if a.kind == "thinking" else 0)
            for a in self.queue
        )
        self.stop_at = min(idle_at, at + graceful_timeout)
        self.stop_reason = "leave"

    def _new_turn(self, at: float, start_type: str, metadata: dict[str, Any]) -> Turn:
        self._turn_ids += 1
        return Turn(self._turn_ids, at, start_type, metadata)

    def _start(self, activity: Activity, at: float) -> None:
        activity.start = at
        if activity.kind == "speaking":
            activity.end = at + speech_seconds(activity.text)
            item: dict[str, Any] = {"role": "assistant", "content": activity.text}
            if self.custom_llm:
                item.update(speech_start_ms=_ms(at), speech_end_ms=_ms(activity.end))
            self.history.append(item)
        else:
            activity.end = at + THINK_S
        self.current = activity
        if self.on_start is not None:
            self.on_start(activity, at)

    def _end_turn(self, turn: Turn, at: float, end_type: str, **metadata: Any) -> None:
        turn.end_at, turn.end_type = at, end_type
        turn.end_metadata = {"transport": "http", **metadata}
        turn.latency_ms = _ms(THINK_S) if turn.start_type == "voice_input" else 150
        self.turns.append(turn)

    def _finish_current(self, at: float) -> None:
        activity = self.current
        assert activity is not None
        self.current = None
        if activity.kind == "thinking":
            reply = self.responder(activity.text)
            spoken = Activity("speaking", reply, activity.turn, activity.interruptable, "reply")
            spoken.event_id = self.emit(
                kind="speech",
                text=reply,
                outcome="spoken",
                time=at,
                data={"source": "reply", "turn_id": activity.turn.turn_id},
            )
            self._start(spoken, at)
            return
        self._end_turn(activity.turn, at, "ok", playback_duration_ms=_ms(at - activity.start))
        if self.queue:
            self._start_queued(self.queue.popleft(), at)

    def _start_queued(self, activity: Activity, at: float) -> None:
        """A queued speech or thought begins: say so in the inbox (it was announced as ``queued``)."""
        kinds = {
            "speak": ("speech", "spoken", "speak_agent"),
            "think": ("think", "thinking", "think_agent"),
            "voice": ("user_speech", "heard", "agora_user_says"),
        }
        kind, outcome, operation = kinds.get(activity.source, ("speech", "spoken", ""))
        queued_event = activity.event_id
        activity.event_id = self.emit(
            kind=kind,
            text=activity.text,
            outcome=outcome,
            time=at,
            operation=operation,
            data={"turn_id": activity.turn.turn_id, "queued_event": queued_event},
        )
        self._start(activity, at)

    def _cut(self, at: float, caused_by: str, end_type: str = "interrupted", **metadata: Any) -> None:
        """Interrupt whatever is under way (its turn ends ``interrupted``)."""
        activity = self.current
        if activity is None:
            return
        self.current = None
        played = _ms(at - activity.start) if activity.kind == "speaking" else 0
        self._end_turn(activity.turn, at, end_type, caused_by=caused_by, playback_duration_ms=played, **metadata)
        self.emit(
            kind="speech" if activity.kind == "speaking" else "think",
            text=activity.text,
            outcome="interrupted",
            time=at,
            data={"caused_by": caused_by, "turn_id": activity.turn.turn_id, "interrupts": activity.event_id},
        )

    def _clear(self, at: float, caused_by: str) -> None:
        """Interrupt what is under way and drop what was queued after it."""
        self._cut(at, caused_by)
        self._drop_queue(at, caused_by)

    def _announce(
        self, activity: Activity, kind: str, outcome: str, at: float, data: dict[str, Any], operation: str
    ) -> None:
        """Record the inbox event of a request's activity (its id lets a later cut refer to it)."""
        activity.event_id = self.emit(
            kind=kind,
            text=activity.text,
            outcome=outcome,
            time=at,
            data={**data, "turn_id": activity.turn.turn_id},
            operation=operation,
        )

    def _drop_queue(self, at: float, caused_by: str) -> None:
        while self.queue:
            activity = self.queue.popleft()
            self._end_turn(activity.turn, at, "interrupted", caused_by=caused_by, playback_duration_ms=0)
            self.emit(
                kind="speech" if activity.kind == "speaking" else "think",
                text=activity.text,
                outcome="interrupted",
                time=at,
                data={"caused_by": caused_by, "turn_id": activity.turn.turn_id, "interrupts": activity.event_id},
            )

    def _ignore(self, at: float, turn: Turn, kind: str, text: str, data: dict[str, Any], operation: str) -> None:
        # Our choice: a request dropped because the agent is busy is kept as an ``ignored`` turn.
        self._end_turn(turn, at, "ignored", caused_by="disable", playback_duration_ms=0)
        self.emit(
            kind=kind,
            text=text,
            outcome="ignored",
            time=at,
            data={**data, "turn_id": turn.turn_id},
            operation=operation,
        )

    # -- what callers can do -----------------------------------------------------------------

    def _check_queue(self) -> None:
        if len(self.queue) >= QUEUE_LIMIT:
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"the agent already has {len(self.queue)} utterances queued (limit {QUEUE_LIMIT}); "
                "wait for them, or speak with INTERRUPT",
                queue_limit=QUEUE_LIMIT,
            )

    def speak(self, at: float, text: str, priority: str, interruptable: bool) -> str:
        """``speak``: INTERRUPT cuts what is under way, APPEND queues, IGNORE is dropped if busy."""
        if self.current is not None and priority == "APPEND":
            self._check_queue()
        turn = self._new_turn(at, "api_speak", {"action": "speak", "transport": "http"})
        activity = Activity("speaking", text, turn, interruptable, "speak")
        data = {"priority": priority, "interruptable": interruptable, "state": self.state}
        busy = self.current is not None
        if busy and priority == "IGNORE":
            self._ignore(at, turn, "speech", text, data, "speak_agent")
            return "ignored"
        if busy and priority == "APPEND":
            self._announce(activity, "speech", "queued", at, data, "speak_agent")
            self.queue.append(activity)
            return "queued"
        if busy:
            self._clear(at, "api_speak")
        self._announce(activity, "speech", "spoken", at, data, "speak_agent")
        self._start(activity, at)
        return "spoken"

    def interrupt(self, at: float) -> bool:
        """``interrupt``: stop the current speech or thought (and what was queued after it)."""
        busy = self.current is not None
        self._clear(at, "api_interrupt")
        self.emit(
            kind="interrupt",
            text="",
            outcome="interrupted" if busy else "ignored",
            time=at,
            operation="interrupt_agent",
        )
        return busy

    def think(
        self, at: float, text: str, actions: dict[str, str], interruptable: bool, metadata: dict[str, str] | None
    ) -> str:
        """``think``: inject ``text`` as user input, as the action for the current state says."""
        action = actions[self.state]
        if self.current is not None and action == "append":
            self._check_queue()
        turn = self._new_turn(at, "api_speak", {"action": "think", "transport": "http"})
        activity = Activity("thinking", text, turn, interruptable, "think")
        data: dict[str, Any] = {"action": action, "state": self.state, "interruptable": interruptable}
        if metadata:
            data["metadata"] = metadata
        if action == "ignore":
            self._ignore(at, turn, "think", text, data, "think_agent")
            return "ignored"
        self.history.append({"role": "user", "content": text})
        if self.current is not None and action == "append":
            self._announce(activity, "think", "queued", at, data, "think_agent")
            self.queue.append(activity)
            return "queued"
        if self.current is not None:  # interrupt (inject is only offered while listening)
            self._clear(at, "api_speak")
        self._announce(activity, "think", "thinking", at, data, "think_agent")
        self._start(activity, at)
        return "thinking"

    def user_says(self, at: float, text: str, strategy: str = "append") -> str:
        """The simulated remote user speaks: barge-in if allowed, then the agent thinks and replies."""
        if self.current is not None and not self.current.interruptable and strategy != "ignore":
            self._check_queue()
        duration = speech_seconds(text)
        turn = self._new_turn(at, "voice_input", {"speech_duration_ms": _ms(duration)})
        activity = Activity("thinking", text, turn, True, "voice")
        if self.current is not None and not self.current.interruptable:
            if strategy == "ignore":
                self._end_turn(turn, at, "ignored", caused_by="disable", playback_duration_ms=0)
                self.emit(
                    kind="user_speech",
                    text=text,
                    outcome="ignored",
                    time=at,
                    data={"turn_id": turn.turn_id},
                    operation="agora_user_says",
                )
                return "ignored"
            self.history.append({"role": "user", "content": text})
            self._announce(activity, "user_speech", "queued", at, {}, "agora_user_says")
            self.queue.append(activity)
            return "queued"
        if self.current is not None:
            self._clear(at, "start_of_speech")
        self.history.append({"role": "user", "content": text})
        self._announce(activity, "user_speech", "heard", at, {}, "agora_user_says")
        self._start(activity, at)
        return "heard"

    def user_leaves(self, at: float) -> None:
        if self.users_present:
            self.users_present, self.users_left_at = False, at
            self.emit(kind="presence", text="remote user left", outcome="left", time=at)

    def user_joins(self, at: float) -> None:
        if not self.users_present:
            self.users_present, self.users_left_at = True, None
            self.emit(kind="presence", text="remote user joined", outcome="joined", time=at)

    def stop_ts(self) -> int:
        return int(self.stopped_at) if self.status in ("STOPPED", "FAILED") and self.stopped_at else 0

    def turns_page(self, page_index: int, page_size: int) -> tuple[list[Turn], int]:
        turns = sorted(self.turns, key=lambda t: t.turn_id)
        total_pages = max(1, math.ceil(len(turns) / page_size))
        start = (page_index - 1) * page_size
        return turns[start : start + page_size], total_pages
