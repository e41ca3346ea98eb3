"""Phone-number CRUD against a reference model (models.PhoneBook).

Rules import numbers (201, or 409 ``phone_number_exists``, or 400 ``invalid_phone_format``), read
them back, PATCH them (an explicit null clears a config, an omitted key keeps it), delete them and
list them; every answer must agree with the model. On a mock, rules also place a call from one of
the numbers: while the call is up its number is locked (409 ``conflict`` on update and delete).

Against the real API (destructive: needs --allow-destructive) the machine only touches fictional
numbers (+1 555 0142 xxx) that it imports itself, places no calls, and the account's numbers are
put back afterwards.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from . import session
from .models import PhoneBook
from .resources import AGORA_V2, NumberSnapshot, Resources
from .target import Target

POOL = ["+15550142001", "+15550142002", "+15550142003"]
NOT_E164 = ["15550142004", "+0155501", "+1 555 0142"]
CONFIGS = st.sampled_from(["omit", "null", "pipeline"])


class PhoneNumbers(RuleBasedStateMachine):
    TARGET: Target | None = None  # None: the run's target (tests of the suite set their own)

    def __init__(self) -> None:
        super().__init__()
        self.target: Target = self.TARGET or session.target()
        self.mock = self.target.is_mock
        self.http = self.target.new_http()
        self._tenant = self.target.agora_tenant()
        self.creds = self._tenant.__enter__()
        authorization = self.creds.agora_authorization
        assert authorization is not None
        self.headers = {"authorization": authorization}
        self.base = f"{self.target.agora_url}{AGORA_V2}/phone-numbers"
        self.book = PhoneBook()
        self.resources = Resources(self.target, self.creds)
        self.calls = 0
        for record in self.http.get(self.base, headers=self.headers).json():
            if self.mock or record["phone_number"] in POOL:
                self.book.numbers[record["phone_number"]] = {k: record.get(k) for k in _FIELDS}

    def teardown(self) -> None:
        try:
            problems = self.resources.cleanup(self.target.cleanup_http())
            assert not problems, f"could not remove what the test created: {problems}"
        finally:
            self.http.close()
            self._tenant.__exit__(None, None, None)

    def _url(self, number: str) -> str:
        return f"{self.base}/{quote(number, safe='+')}"

    def _agrees(self, got: dict[str, Any], number: str, what: str) -> None:
        expected = self.book.numbers[number]
        fields = _FIELDS if self.mock else ("provider", "phone_number", "label", "inbound", "outbound")
        differs = {k: (got.get(k), expected[k]) for k in fields if got.get(k) != expected[k]}
        assert not differs, f"{what}: (answer, model) differ in {differs}"
        pipeline, associated = self.book.pipeline(expected), got.get("associated_pipeline")
        if pipeline is None:
            assert associated is None, f"{what}: associated_pipeline {associated}, but no config names a pipeline"
        elif self.mock:
            ids = {str((expected[k] or {}).get("pipeline_id")) for k in ("inbound_config", "outbound_config")}
            assert associated and associated.get("pipeline_id") in ids, f"{what}: associated_pipeline {associated}"

    # -- CRUD ----------------------------------------------------------------------------------

    @rule(
        number=st.sampled_from(POOL + NOT_E164),
        provider=st.sampled_from(["byo", "twilio"]),
        label=st.sampled_from(["Sales", "Support line", "夜間"]),
        inbound=st.booleans(),
        outbound=st.booleans(),
        pipeline=st.sampled_from([None, "28"]),
    )
    def add(self, number: str, provider: str, label: str, inbound: bool, outbound: bool, pipeline: str | None) -> None:
        inbound_config: dict[str, Any] = {"allowed_addresses": ["10.0.0.0/8"]}
        if pipeline:
            inbound_config["pipeline_id"] = pipeline
        body = {
            "provider": provider,
            "phone_number": number,
            "label": label,
            "inbound": inbound,
            "outbound": outbound,
            "inbound_config": inbound_config,
            "outbound_config": {"address": "sip.example.com", "transport": "tls"},
        }
        response = self.http.post(self.base, json=body, headers=self.headers)
        if number in NOT_E164:
            assert response.status_code == 400, f"import {number!r}: expected 400, got {response.status_code}"
            assert response.json().get("error_type") == "invalid_phone_format", response.text
            return
        if number in self.book.numbers:
            assert response.status_code == 409, f"import {number} twice: expected 409, got {response.status_code}"
            assert response.json().get("error_type") == "phone_number_exists", response.text
            return
        assert response.status_code == 201, f"import {number}: expected 201, got {response.status_code} {response.text}"
        self.resources.note("add_phone_number", {}, 201, response.json())
        self.book.add(body)
        self._agrees(response.json(), number, f"import {number}")

    def _number(self, data: st.DataObject) -> str:
        """Mostly a number the model holds, sometimes one it does not."""
        held = sorted(n for n in self.book.numbers if n in POOL)
        return data.draw(st.sampled_from(held) if held and data.draw(st.integers(0, 3)) else st.sampled_from(POOL))

    @initialize(count=st.integers(0, 2))
    def some_numbers(self, count: int) -> None:
        for number in POOL[:count]:
            if number not in self.book.numbers:
                self.add(number, "byo", "Sales", True, True, None)

    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        number = self._number(data)
        response = self.http.get(self._url(number), headers=self.headers)
        if number not in self.book.numbers:
            assert response.status_code == 404, f"get {number} (not imported): got {response.status_code}"
            assert response.json().get("error_type") == "not_found", response.text
            return
        assert response.status_code == 200, f"get {number}: {response.status_code} {response.text}"
        self._agrees(response.json(), number, f"get {number}")

    @rule(data=st.data(), inbound=CONFIGS, outbound=CONFIGS)
    def update(self, data: st.DataObject, inbound: str, outbound: str) -> None:
        number = self._number(data)
        body: dict[str, Any] = {}
        for key, choice, pipeline in (("inbound_config", inbound, "p-in"), ("outbound_config", outbound, "p-out")):
            if choice != "omit":
                body[key] = None if choice == "null" else {"pipeline_id": pipeline}
        response = self.http.patch(self._url(number), json=body, headers=self.headers)
        if number not in self.book.numbers:
            assert response.status_code == 404, f"update {number} (not imported): got {response.status_code}"
            return
        if self.book.locked(number):
            assert response.status_code == 409, (
                f"update {number} during a call: expected 409, got {response.status_code}"
            )
            assert response.json().get("error_type") == "conflict", response.text
            return
        assert response.status_code == 200, f"update {number} with {body}: {response.status_code} {response.text}"
        self.book.update(number, body)
        self._agrees(response.json(), number, f"update {number} with {body}")

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        number = self._number(data)
        response = self.http.delete(self._url(number), headers=self.headers)
        if number not in self.book.numbers:
            assert response.status_code == 404, f"delete {number} (not imported): got {response.status_code}"
            return
        if self.book.locked(number):
            assert response.status_code == 409, (
                f"delete {number} during a call: expected 409, got {response.status_code}"
            )
            return
        assert response.status_code == 204, f"delete {number}: {response.status_code} {response.text}"
        assert response.content == b"", "204 has no body"
        del self.book.numbers[number]

    @invariant()
    def list_numbers(self) -> None:
        response = self.http.get(self.base, headers=self.headers)
        assert response.status_code == 200, f"list: {response.status_code} {response.text}"
        listed = {n["phone_number"] for n in response.json()}
        if not self.mock:
            listed &= set(POOL)
        assert listed == set(self.book.numbers), f"list: {sorted(listed)}, the model says {sorted(self.book.numbers)}"

    # -- calls lock their number (mock only: a real call costs money and rings a phone) ------------

    @precondition(lambda self: self.mock and any(r["outbound"] for n, r in self.book.numbers.items() if n in POOL))
    @rule(data=st.data())
    def place_call(self, data: st.DataObject) -> None:
        number = data.draw(
            st.sampled_from(sorted(n for n, r in self.book.numbers.items() if n in POOL and r["outbound"]))
        )
        self.calls += 1
        body = {
            "name": f"call-{self.calls}",
            "sip": {"to_number": "+15550123456", "from_number": number, "rtc_uid": "100", "rtc_token": ""},
            "properties": {
                "channel": f"call-{self.calls}",
                "token": "",
                "agent_rtc_uid": "111",
                "remote_rtc_uids": ["100"],
            },
            "pipeline_id": "28",
        }
        response = self.http.post(
            f"{self.target.agora_url}{AGORA_V2}/projects/{self.creds.agora_appid}/call", json=body, headers=self.headers
        )
        assert response.status_code == 200, f"call from {number}: {response.status_code} {response.text}"
        agent_id = response.json()["agent_id"]
        self.resources.note("start_call", {"appid": self.creds.agora_appid}, 200, response.json())
        self.book.locks[agent_id] = number

    @precondition(lambda self: bool(self.book.locks))
    @rule(data=st.data())
    def hang_up(self, data: st.DataObject) -> None:
        agent_id = data.draw(st.sampled_from(list(self.book.locks)))  # call order: ids are random
        url = f"{self.target.agora_url}{AGORA_V2}/projects/{self.creds.agora_appid}/calls/{agent_id}/hangup"
        response = self.http.post(url, headers=self.headers)
        assert response.status_code == 200, f"hang up {agent_id}: {response.status_code} {response.text}"
        del self.book.locks[agent_id]


_FIELDS = ("provider", "phone_number", "label", "inbound", "outbound", "inbound_config", "outbound_config")


@pytest.mark.destructive
def test_phone_numbers_match_the_model(target: Target) -> None:
    snapshot: NumberSnapshot | None = None
    if not target.is_mock:
        if not (target.credentials.agora_authorization and target.credentials.agora_appid):
            pytest.skip("--target real needs AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET and AGORA_APP_ID")
        snapshot = NumberSnapshot(target)
        snapshot.take(target.cleanup_http())
    examples, steps = (2, 10) if not target.is_mock else ((100, 40) if target.thorough else (20, 20))
    try:
        run_state_machine_as_test(
            PhoneNumbers,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        if snapshot is not None:
            problems = snapshot.restore(target.cleanup_http())
            assert not problems, f"could not put the account's numbers back: {problems}"
