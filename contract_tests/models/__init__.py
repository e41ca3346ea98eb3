"""Reference models, one per domain: what the APIs should do, computed with plain Python.

Each is written from the contract and README, not from the mock's code, and serves both the
contract suite (over HTTP, against any target) and the package's property tests (``tests/``).
"""

from __future__ import annotations

from .agora import DEFAULT_ACTIONS, STOP_S, THINK_S, Activity, AgentModel, speech_seconds
from .bithuman import Rooms
from .telephony import NO_ANSWER_S, CallModel, PhoneBook

__all__ = [
    "DEFAULT_ACTIONS",
    "NO_ANSWER_S",
    "STOP_S",
    "THINK_S",
    "Activity",
    "AgentModel",
    "CallModel",
    "PhoneBook",
    "Rooms",
    "speech_seconds",
]
