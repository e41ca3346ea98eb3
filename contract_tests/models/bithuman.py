"""bitHuman's reference model: an agent's rooms, and which of them a delivery reaches."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Rooms"]


@dataclass
class Rooms:
    """An agent's rooms, active or closed, as the API should see them."""

    states: dict[str, bool] = field(default_factory=dict)  # room id -> active

    @property
    def active(self) -> list[str]:
        return sorted(room for room, active in self.states.items() if active)

    def open(self, room: str) -> None:
        self.states[room] = True

    def close(self, room: str) -> None:
        self.states[room] = False

    def reached(self, room: str | None) -> list[str]:
        """The rooms a delivery reaches: every active one, or ``room`` if it is active (else none).

        A ``room_id`` that is not an active room of the agent reaches nothing: the API answers
        "no active rooms" (README: the mock's documented choice; the vendor is silent).
        """
        if room is None:
            return self.active
        return [room] if self.states.get(room) else []
