"""bitHuman deliveries against a reference model (models.Rooms): which rooms each message reaches.

The model is the agent's set of rooms, each active or closed. ``speak`` and ``add-context`` reach
every active room, or the one ``room_id`` names if it is active; nothing to reach is 404. The
answer's ``delivered_to_rooms`` (and ``rooms``) must say exactly that, and on a mock the inbox must
hold one event per room reached, with the text and kind of the request.

On a mock, rooms are opened and closed through the control plane. Against the real API the model is
the environment's one live room (BITHUMAN_ROOM_ID): every delivery is aimed at it or at rooms that
do not exist, never at every room, since those may be other people's live sessions.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from mockserver.client import Event

from . import session
from .models import Rooms
from .target import Target

ROOMS = ["lobby", "vip-42", "night-shift"]
MISSING_ROOM = "no-such-room"
TEXTS = st.sampled_from(["We have a 20% discount today.", "Maintenance tonight 2-4 AM", "héllo 👋", "ok"])


class BitHumanDeliveries(RuleBasedStateMachine):
    TARGET: Target | None = None  # None: the run's target (tests of the suite set their own)

    def __init__(self) -> None:
        super().__init__()
        self.target: Target = self.TARGET or session.target()
        self.mock = self.target.is_mock
        self.http = self.target.new_http()
        self._tenant = self.target.bithuman_tenant(rooms=[])
        self.creds = self._tenant.__enter__()
        self.agent = self.creds.bithuman_agent
        self.base = f"{self.target.bithuman_url}/v1/agent"
        self.rooms = Rooms() if self.mock else Rooms({room: True for room in self.creds.bithuman_rooms})
        self.last_event = self._latest_event_id()

    def teardown(self) -> None:
        self.http.close()
        self._tenant.__exit__(None, None, None)

    # -- helpers -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        assert self.creds.bithuman_secret is not None
        return {"api-secret": self.creds.bithuman_secret}

    def _latest_event_id(self) -> int:
        if not self.mock:
            return 0
        assert self.target.control is not None and self.creds.tenant is not None
        events = self.target.control.list_inbox(tenant=self.creds.tenant, limit=1)
        return events[-1].id if events else 0

    def _new_events(self) -> list[Event]:
        assert self.target.control is not None
        events = self.target.control.list_inbox(tenant=self.creds.tenant, since=self.last_event)
        if events:
            self.last_event = events[-1].id
        return events

    # -- the world (mock only) -------------------------------------------------------------------

    @initialize(rooms=st.lists(st.sampled_from(ROOMS), unique=True, max_size=2))
    def some_rooms(self, rooms: list[str]) -> None:
        for room in rooms if self.mock else ():
            self.open_room(room)

    @precondition(lambda self: self.mock)
    @rule(room=st.sampled_from(ROOMS))
    def open_room(self, room: str) -> None:
        assert self.target.control is not None and self.creds.tenant is not None and self.agent is not None
        self.target.control.open_bithuman_room(self.creds.tenant, self.agent, room)
        self.rooms.open(room)

    @precondition(lambda self: self.mock and bool(self.rooms.active))
    @rule(data=st.data())
    def close_room(self, data: st.DataObject) -> None:
        assert self.target.control is not None and self.creds.tenant is not None and self.agent is not None
        room = data.draw(st.sampled_from(self.rooms.active), label="room")
        self.target.control.close_bithuman_room(self.creds.tenant, self.agent, room)
        self.rooms.close(room)

    # -- the API -----------------------------------------------------------------------------

    @rule(
        data=st.data(),
        operation=st.sampled_from(["speak", "add-context"]),
        text=TEXTS,
        kind=st.sampled_from([None, "add_context", "speak"]),
    )
    def deliver_to_one_room(self, data: st.DataObject, operation: str, text: str, kind: str | None) -> None:
        room = data.draw(st.sampled_from([*sorted(self.rooms.states), MISSING_ROOM]), label="room_id")
        self._deliver(operation, text, kind, room, null_room=False)

    @precondition(lambda self: self.mock)
    @rule(
        operation=st.sampled_from(["speak", "add-context"]),
        text=TEXTS,
        kind=st.sampled_from([None, "add_context", "speak"]),
        null_room=st.booleans(),
    )
    def deliver_to_every_room(self, operation: str, text: str, kind: str | None, null_room: bool) -> None:
        self._deliver(operation, text, kind, None, null_room=null_room)

    def _deliver(self, operation: str, text: str, kind: str | None, room: str | None, *, null_room: bool) -> None:
        body: dict[str, Any] = {"message": text} if operation == "speak" else {"context": text}
        if operation == "add-context" and kind is not None:
            body["type"] = kind
        if room is not None or null_room:
            body["room_id"] = room
        reached = self.rooms.reached(room)
        response = self.http.post(f"{self.base}/{self.agent}/{operation}", json=body, headers=self._headers())
        where = f"{operation} to {room or 'every active room'} (model: rooms {self.rooms.states})"
        if not reached:
            assert response.status_code == 404, f"{where}: expected 404 (no active room), got {response.status_code}"
            error = response.json().get("error")
            if isinstance(error, dict):
                assert error.get("code") == "NOT_FOUND", f"{where}: {response.text}"
                assert "No active rooms" in error.get("message", ""), f"{where}: {response.text}"
            if self.mock:
                assert not self._new_events(), f"{where}: a refused delivery must not reach the inbox"
            return
        assert response.status_code == 200, f"{where}: expected 200, got {response.status_code} {response.text}"
        answer = response.json()
        result = answer.get("data", answer) if answer.get("success") is True else answer
        assert result.get("delivered_to_rooms") == len(reached), (
            f"{where}: delivered_to_rooms should be {len(reached)}, the answer is {answer}"
        )
        if "rooms" in result:
            assert sorted(result["rooms"]) == reached, f"{where}: rooms should be {reached}, the answer is {answer}"
        expected_type = "speak" if operation == "speak" else (kind or "add_context")
        if "context_type" in result:
            assert result["context_type"] == expected_type, f"{where}: context_type in {answer}"
        if self.mock:
            events = self._new_events()
            assert sorted(e.room or "" for e in events) == reached, (
                f"{where}: the inbox should hold one event per room reached ({reached}), it holds "
                f"{[(e.room, e.kind, e.text) for e in events]}"
            )
            expected_kind = "speech" if expected_type == "speak" else "context"
            for event in events:
                assert (event.kind, event.text, event.outcome) == (expected_kind, text, "delivered"), (
                    f"{where}: inbox event {event} should be a delivered {expected_kind} of {text!r}"
                )

    @rule(refusal=st.sampled_from(["unknown agent", "no api-secret", "wrong api-secret"]))
    def refused(self, refusal: str) -> None:
        agent, headers = self.agent, self._headers()
        if refusal == "unknown agent":
            agent = "A0NOSUCHAGENT"
        else:
            headers = {} if refusal == "no api-secret" else {"api-secret": "not-a-secret"}
        response = self.http.post(f"{self.base}/{agent}/speak", json={"message": "hi"}, headers=headers)
        expected, code, message = {
            "unknown agent": (404, "NOT_FOUND", "Agent not found for code: A0NOSUCHAGENT"),
            "no api-secret": (401, "MISSING_AUTH", None),
            "wrong api-secret": (401, "UNAUTHORIZED", None),
        }[refusal]
        assert response.status_code == expected, f"{refusal}: expected {expected}, got {response.status_code}"
        error = response.json().get("error")
        if isinstance(error, dict):
            assert error.get("code") == code, f"{refusal}: {response.text}"
            assert message is None or error.get("message") == message, f"{refusal}: {response.text}"
        if self.mock:
            assert not self._new_events(), f"{refusal}: a refused request must deliver nothing"


@pytest.mark.safe
def test_bithuman_deliveries_match_the_model(target: Target) -> None:
    if not target.is_mock:
        missing = [
            n
            for n, v in [
                ("BITHUMAN_API_SECRET", target.credentials.bithuman_secret),
                ("BITHUMAN_AGENT_CODE", target.credentials.bithuman_agent),
                ("BITHUMAN_ROOM_ID", target.credentials.bithuman_rooms),
            ]
            if not v
        ]
        if missing:
            pytest.skip(f"--target real needs {', '.join(missing)} (an agent with a live room) in the environment")
    examples, steps = (2, 8) if not target.is_mock else ((100, 30) if target.thorough else (12, 15))
    run_state_machine_as_test(
        BitHumanDeliveries,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
