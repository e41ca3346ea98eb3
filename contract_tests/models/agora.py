"""The Agora agent's reference model: what one agent should be doing, computed with plain Python.

- ``AgentModel``: one Agora agent's lifecycle (RUNNING -> STOPPING -> STOPPED one second after
  ``leave``) and conversation: ``speak`` priorities (INTERRUPT cuts, APPEND queues, IGNORE is
  dropped while busy), ``think`` actions per state (defaults: listening interrupt, thinking interrupt,
  speaking ignore), ``interrupt``, and the history ``/history`` returns (at most ``max_history``).
  Timing is the mock's documented simulation: speech lasts 60 ms per character (at least 0.5 s), the
  scripted LLM thinks for 0.8 s, then speaks its reply (a fixed one, or the thought's text: the
  default responder echoes).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["DEFAULT_ACTIONS", "STOP_S", "THINK_S", "Activity", "AgentModel", "speech_seconds"]

THINK_S = 0.8
STOP_S = 1.0
DEFAULT_ACTIONS = {"listening": "interrupt", "thinking": "interrupt", "speaking": "ignore"}  # ThinkAgentRequest


def speech_seconds(text: str) -> float:
    return max(0.5, len(text) * 60 / 1000.0)


@dataclass
class Activity:
    kind: str  # speaking | thinking
    text: str
    end: float = 0.0


@dataclass
class AgentModel:
    """What one agent is doing, as the contract says it should."""

    name: str
    reply: str | None  # what the scripted LLM answers; None: it echoes what it was given to think about
    max_history: int
    status: str = "RUNNING"
    current: Activity | None = None
    queue: list[Activity] = field(default_factory=list)
    history: deque[dict[str, str]] = field(default_factory=deque)
    stopped_at: float | None = None

    def __post_init__(self) -> None:
        self.history = deque(maxlen=self.max_history)

    @property
    def state(self) -> str:
        return self.current.kind if self.current is not None else "listening"

    @property
    def live(self) -> bool:
        """Still holding its name (a second ``join`` with it is 409)."""
        return self.status in ("STARTING", "RUNNING", "STOPPING")

    def _start(self, activity: Activity, at: float) -> None:
        if activity.kind == "speaking":
            activity.end = at + speech_seconds(activity.text)
            self.history.append({"role": "assistant", "content": activity.text})
        else:
            activity.end = at + THINK_S
        self.current = activity

    def settle(self, now: float) -> None:
        """Let the clock run to ``now``: speech and thoughts end, queued ones start, STOPPING ends."""
        while self.status == "RUNNING" and self.current is not None and self.current.end <= now:
            done, at = self.current, self.current.end
            self.current = None
            if done.kind == "thinking":
                self._start(Activity("speaking", done.text if self.reply is None else self.reply), at)
            elif self.queue:
                self._start(self.queue.pop(0), at)
        if self.status == "STOPPING" and self.stopped_at is not None and self.stopped_at <= now:
            self.status = "STOPPED"

    def greet(self, text: str, now: float) -> None:
        self._start(Activity("speaking", text), now)

    def speak(self, text: str, priority: str, now: float) -> str:
        """The outcome the inbox should record: spoken, queued or ignored."""
        busy = self.current is not None
        if busy and priority == "IGNORE":
            return "ignored"
        if busy and priority == "APPEND":
            self.queue.append(Activity("speaking", text))
            return "queued"
        self.current, self.queue = None, []
        self._start(Activity("speaking", text), now)
        return "spoken"

    def think(self, text: str, actions: dict[str, str | None], now: float) -> str:
        """The outcome the inbox should record: thinking, queued or ignored."""
        action = actions.get(self.state) or DEFAULT_ACTIONS[self.state]
        if action == "ignore":
            return "ignored"
        self.history.append({"role": "user", "content": text})
        if self.current is not None and action == "append":
            self.queue.append(Activity("thinking", text))
            return "queued"
        self.current, self.queue = None, []
        self._start(Activity("thinking", text), now)
        return "thinking"

    def interrupt(self) -> str:
        busy = self.current is not None
        self.current, self.queue = None, []
        return "interrupted" if busy else "ignored"

    def leave(self, now: float) -> None:
        self.current, self.queue = None, []
        self.status, self.stopped_at = "STOPPING", now + STOP_S
