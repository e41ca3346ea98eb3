"""Agora telephony's reference models: the account's phone numbers, and one call's lifecycle.

- ``PhoneBook``: the account's imported numbers (add, get, PATCH merge / null clears, delete), and
  which of them an active call locks.
- ``CallModel``: one outbound call, ringing -> answered -> hangup, on the clock: the callee answers
  after its ring time, is busy (the call fails at once) or never answers (it fails after
  ``NO_ANSWER_S``); a hang-up by request ends it with the reason ``request``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["NO_ANSWER_S", "CallModel", "PhoneBook"]

NO_ANSWER_S = 60.0  # the mock's documented ring timeout for a callee that never answers


@dataclass
class CallModel:
    """What one call should be doing; ``callee`` is ``answer``, ``busy`` or ``no_answer``."""

    callee: str
    at: float  # when it was placed
    ring_s: float = 2.0  # how long an answering callee lets it ring
    ended: str | None = None  # the reason it was hung up, once it was

    def state(self, now: float) -> tuple[str, str | None]:
        """``(state, reason)`` at ``now``: ringing, answered, or hangup with its reason."""
        if self.ended is not None:
            return "hangup", self.ended
        elapsed = now - self.at
        if self.callee == "busy" or (self.callee == "no_answer" and elapsed >= NO_ANSWER_S):
            return "hangup", "failed"
        if self.callee == "answer" and elapsed >= self.ring_s:
            return "answered", None
        return "ringing", None

    def settle(self, now: float) -> None:
        """Keep a failure that happened by ``now``: later hang-ups do not change its reason."""
        state, reason = self.state(now)
        if state == "hangup" and self.ended is None:
            self.ended = reason

    def hang_up(self) -> None:
        self.ended = "request"


@dataclass
class PhoneBook:
    """The account's imported numbers, as the API should report them."""

    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    locks: dict[str, str] = field(default_factory=dict)  # call agent_id -> the number it goes out from

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        record = {
            "provider": body["provider"],
            "phone_number": body["phone_number"],
            "label": body["label"],
            "inbound": body.get("inbound", True),
            "outbound": body.get("outbound", True),
            "inbound_config": body.get("inbound_config"),
            "outbound_config": body.get("outbound_config"),
        }
        self.numbers[body["phone_number"]] = record
        return record

    def update(self, number: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH: an explicit null clears a config, an omitted key keeps it, an object is merged in."""
        record = self.numbers[number]
        for key in ("inbound_config", "outbound_config"):
            if key in body:
                record[key] = None if body[key] is None else {**(record[key] or {}), **body[key]}
        return record

    def locked(self, number: str) -> bool:
        return number in self.locks.values()

    @staticmethod
    def pipeline(record: dict[str, Any]) -> str | None:
        """The pipeline ``associated_pipeline`` names: the inbound side's, else the outbound side's."""
        for key in ("inbound_config", "outbound_config"):
            config = record.get(key)
            if config and config.get("pipeline_id"):
                return str(config["pipeline_id"])
        return None
