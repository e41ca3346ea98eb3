"""Property-based: no request of any shape makes the bitHuman operations fail, and deliveries
always match the reference model of the agent's rooms (``contract_tests.models.Rooms``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from starlette.testclient import TestClient

from contract_tests.models import Rooms
from mockserver import World, create_app

from .conftest import DEFAULT_FIXTURE, ResponseChecker

SECRETS = ["YOUR_API_SECRET", "legacy_api_secret", "wrong", "", "x" * 300]
CODES = ["A12345678", "A91XMB7113", "A78WKV4515", "SUPPORT_AGENT", "nope"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
room_ids = st.sampled_from(["room_1", "customer_session_1", "room_123", "nope"]) | st.none() | json_values
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "message": st.text(max_size=30) | json_values,
            "context": st.text(max_size=30) | json_values,
            "type": st.sampled_from(["speak", "add_context", "SPEAK", ""]) | st.none() | json_values,
            "room_id": room_ids,
            "extra": json_values,
        },
    ),
)


@pytest.fixture(scope="module")
def fuzz_client(checker: ResponseChecker) -> Iterator[tuple[TestClient, World]]:
    world = World(seed=1)
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE])) as client:
        client.event_hooks["response"].append(checker)
        yield client, world


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operation=st.sampled_from(["speak", "add-context"]),
    code=st.sampled_from(CODES) | st.text(min_size=1, max_size=12),
    secret=st.sampled_from(SECRETS) | st.none(),
    body=bodies,
    raw=st.none() | st.binary(max_size=40),
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/plain", "application/merge-patch+json", None]
    ),
)
def test_no_request_shape_breaks_bithuman(
    fuzz_client: tuple[TestClient, World],
    operation: str,
    code: str,
    secret: str | None,
    body: Any,
    raw: bytes | None,
    content_type: str | None,
) -> None:
    client, world = fuzz_client
    headers = {} if secret is None else {"api-secret": secret}
    if content_type:
        headers["content-type"] = content_type
    before = len(world.inbox)
    content = raw if raw is not None else orjson.dumps(body)
    r = client.post(f"/v1/agent/{quote(code, safe='')}/{operation}", content=content, headers=headers)
    # The response checker hook has already validated status and body against the contract.
    assert r.status_code in (200, 400, 401, 404, 405, 422), r.text
    assert r.status_code != 500
    if r.status_code == 200:
        data = r.json().get("data", r.json())
        assert len(world.inbox) == before + data["delivered_to_rooms"]
    else:
        assert len(world.inbox) == before, "a refused request must not be delivered"


class RoomsMachine(RuleBasedStateMachine):
    """Open and close rooms at random; every delivery count must match the model."""

    rooms = ["r1", "r2", "r3", "r4"]

    @initialize()
    def setup(self) -> None:
        self.world = World(seed=2)
        self.world.bithuman.create_account("t", secrets=["s"], agents=[{"code": "AX"}])
        self.client = TestClient(create_app(self.world))
        self.model = Rooms()
        self.delivered = 0

    def teardown(self) -> None:
        if hasattr(self, "client"):
            self.client.close()

    @rule(room=st.sampled_from(rooms))
    def open_room(self, room: str) -> None:
        self.world.bithuman.open_room("t", "AX", room)
        self.model.open(room)

    @precondition(lambda self: bool(self.world.bithuman.get_agent("t", "AX").rooms))
    @rule(data=st.data())
    def close_room(self, data: st.DataObject) -> None:
        room = data.draw(st.sampled_from(sorted(self.world.bithuman.get_agent("t", "AX").rooms)))
        self.world.bithuman.close_room("t", "AX", room)
        self.model.close(room)

    @rule(room=st.none() | st.sampled_from(rooms), via_context=st.booleans())
    def deliver(self, room: str | None, via_context: bool) -> None:
        body: dict[str, Any] = {"context": "c", "type": "speak"} if via_context else {"message": "m"}
        if room is not None:
            body["room_id"] = room
        r = self.client.post(
            f"/v1/agent/AX/{'add-context' if via_context else 'speak'}", json=body, headers={"api-secret": "s"}
        )
        expected = self.model.reached(room)
        if not expected:
            assert r.status_code == 404 and r.json()["error"]["message"].startswith("No active rooms")
            return
        assert r.status_code == 200
        assert sorted(r.json()["rooms"]) == expected
        assert r.json()["delivered_to_rooms"] == len(expected)
        self.delivered += len(expected)

    @invariant()
    def inbox_holds_every_delivery(self) -> None:
        if hasattr(self, "world"):
            assert len(self.world.inbox.query(tenant="t")) == self.delivered


TestRoomsMachine = RoomsMachine.TestCase
TestRoomsMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
