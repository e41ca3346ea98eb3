"""Property-based: phone numbers and calls agree with the reference models (``contract_tests.models``:
``PhoneBook``, ``CallModel``); no request of any shape makes a telephony operation fail with a 500."""

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

from contract_tests.models import CallModel, PhoneBook
from mockserver import World, create_app

from .agora_support import properties
from .conftest import DEFAULT_FIXTURE, ResponseChecker

AUTH = {"authorization": "Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode()}
ROOT = "/api/conversational-ai-agent/v2"
NUMBERS = st.sampled_from(["+15551000001", "+15551000002", "+15551000003"])
CALLER = "+15550100001"  # imported by the default fixture


class PhoneNumbersMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.client = TestClient(create_app(World(seed=8), fixtures=[DEFAULT_FIXTURE]))
        self.book = PhoneBook()
        self.book.numbers[CALLER] = {}  # imported by the default fixture; only ever listed here

    def teardown(self) -> None:
        if hasattr(self, "client"):
            self.client.close()

    def url(self, number: str) -> str:
        return f"{ROOT}/phone-numbers/{quote(number, safe='')}"

    @rule(number=NUMBERS, label=st.text(min_size=1, max_size=5), pipeline=st.none() | st.sampled_from(["1", "2"]))
    def add(self, number: str, label: str, pipeline: str | None) -> None:
        inbound: dict[str, Any] = {"allowed_addresses": ["10.0.0.0/8"]}
        if pipeline:
            inbound["pipeline_id"] = pipeline
        body = {
            "provider": "byo",
            "phone_number": number,
            "label": label,
            "inbound_config": inbound,
            "outbound_config": {"address": "sip.example.com"},
        }
        r = self.client.post(f"{ROOT}/phone-numbers", json=body, headers=AUTH)
        if number in self.book.numbers:
            assert (r.status_code, r.json()["error_type"]) == (409, "phone_number_exists")
            return
        assert r.status_code == 201
        self.book.add(body)

    @rule(
        number=NUMBERS, inbound=st.none() | st.sampled_from(["omit", "3"]), outbound=st.sampled_from(["omit", "null"])
    )
    def update(self, number: str, inbound: str | None, outbound: str) -> None:
        body: dict[str, Any] = {}
        if inbound != "omit":
            body["inbound_config"] = None if inbound is None else {"pipeline_id": inbound}
        if outbound == "null":
            body["outbound_config"] = None
        r = self.client.patch(self.url(number), json=body, headers=AUTH)
        if number not in self.book.numbers:
            assert r.status_code == 404
            return
        assert r.status_code == 200
        self.book.update(number, body)

    @rule(number=NUMBERS)
    def delete(self, number: str) -> None:
        r = self.client.delete(self.url(number), headers=AUTH)
        assert r.status_code == (204 if number in self.book.numbers else 404)
        self.book.numbers.pop(number, None)

    @rule(number=NUMBERS)
    def get(self, number: str) -> None:
        r = self.client.get(self.url(number), headers=AUTH)
        if number not in self.book.numbers:
            assert r.status_code == 404
            return
        got, entry = r.json(), self.book.numbers[number]
        assert got["label"] == entry["label"]
        pipeline = got["associated_pipeline"]["pipeline_id"] if got["associated_pipeline"] else None
        assert pipeline == PhoneBook.pipeline(entry)
        assert (got["outbound_config"] is not None) == (entry["outbound_config"] is not None)

    @invariant()
    def list_matches(self) -> None:
        if hasattr(self, "client"):
            listed = self.client.get(f"{ROOT}/phone-numbers", headers=AUTH).json()
            assert sorted(n["phone_number"] for n in listed) == sorted(self.book.numbers)


TestPhoneNumbersMachine = PhoneNumbersMachine.TestCase
TestPhoneNumbersMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


class CallsMachine(RuleBasedStateMachine):
    """Calls to three callees (answers after 2 s, busy, never answers) against ``CallModel``."""

    callees = {"+15551100001": "answer", "+15550188888": "busy", "+15550199999": "no_answer"}

    @initialize()
    def setup(self) -> None:
        self.world = World(seed=9)
        self.client = TestClient(create_app(self.world, fixtures=[DEFAULT_FIXTURE]))
        self.world.clock.freeze(1_700_000_000)
        self.now = 1_700_000_000.0
        self.calls: dict[str, CallModel] = {}
        self.n = 0

    def teardown(self) -> None:
        if hasattr(self, "client"):
            self.client.close()

    @rule(to=st.sampled_from(sorted(callees)))
    def dial(self, to: str) -> None:
        self.n += 1
        sip = {"to_number": to, "from_number": CALLER, "rtc_uid": "900", "rtc_token": "t"}
        props = properties(channel=f"c{self.n}", agent_rtc_uid=str(self.n))
        r = self.client.post(
            f"{ROOT}/projects/demo-app-id/call",
            json={"name": f"n{self.n}", "sip": sip, "properties": props},
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
        self.calls[r.json()["agent_id"]] = CallModel(self.callees[to], at=self.now)  # rings 2 s (the fixture)

    @rule(data=st.data())
    def hangup(self, data: st.DataObject) -> None:
        if not self.calls:
            return
        agent_id = data.draw(st.sampled_from(sorted(self.calls)))
        call = self.calls[agent_id]
        state, _ = call.state(self.now)
        r = self.client.post(f"{ROOT}/projects/demo-app-id/calls/{agent_id}/hangup", headers=AUTH)
        if state == "hangup":
            assert r.status_code == 404
            return
        assert r.status_code == 200 and r.json() == {}
        call.hang_up()

    @rule(seconds=st.sampled_from([0.5, 1.5, 30, 61]))
    def advance(self, seconds: float) -> None:
        for call in self.calls.values():  # freeze the failures that happen on the way
            call.settle(self.now)
        self.world.clock.advance(seconds)
        self.now += seconds

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "calls"):
            return
        for agent_id, call in self.calls.items():
            got = self.client.get(f"{ROOT}/projects/demo-app-id/calls/{agent_id}", headers=AUTH).json()
            assert (got["state"], got["reason"]) == call.state(self.now), (got, call, self.now)


TestCallsMachine = CallsMachine.TestCase
TestCallsMachine.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)


# -- no request shape makes a telephony operation fail -----------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
OPERATIONS = [
    ("GET", "/projects/demo-app-id/call"),
    ("POST", "/projects/demo-app-id/call"),
    ("GET", "/projects/demo-app-id/calls/{id}"),
    ("POST", "/projects/demo-app-id/calls/{id}/hangup"),
    ("GET", "/phone-numbers"),
    ("POST", "/phone-numbers"),
    ("GET", "/phone-numbers/{n}"),
    ("PATCH", "/phone-numbers/{n}"),
    ("DELETE", "/phone-numbers/{n}"),
]


@pytest.fixture(scope="module")
def fuzz(checker: ResponseChecker) -> Iterator[TestClient]:
    with TestClient(create_app(World(seed=10), fixtures=[DEFAULT_FIXTURE])) as client:
        client.event_hooks["response"].append(checker)
        yield client


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    op=st.sampled_from(OPERATIONS),
    ident=st.sampled_from([CALLER, "+15550100009", "1NT29XNOPE"]) | st.text(min_size=1, max_size=8),
    body=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "name": json_values,
            "provider": st.sampled_from(["byo", "twilio"]) | json_values,
            "phone_number": st.sampled_from(["+15550100009", "123"]) | json_values,
            "label": json_values,
            "inbound_config": json_values,
            "outbound_config": json_values,
            "sip": st.fixed_dictionaries(
                {},
                optional={
                    "to_number": json_values,
                    "from_number": json_values,
                    "rtc_uid": json_values,
                    "rtc_token": json_values,
                },
            ),
            "properties": json_values,
        },
    ),
    query=st.dictionaries(
        st.sampled_from(["limit", "type", "cursor", "number", "from_time"]), st.text(max_size=6), max_size=3
    ),
    auth=st.sampled_from([AUTH, {}, {"authorization": "agora token=x"}]),
)
def test_no_request_shape_breaks_telephony(
    fuzz: TestClient, op: tuple[str, str], ident: str, body: Any, query: dict[str, str], auth: dict[str, str]
) -> None:
    method, path = op
    path = path.replace("{id}", quote(ident, safe="")).replace("{n}", quote(ident, safe=""))
    r = fuzz.request(
        method,
        ROOT + path,
        content=orjson.dumps(body),
        params=query,
        headers={**auth, "content-type": "application/json"},
    )
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert set(r.json()) >= {"error_type", "description"}
