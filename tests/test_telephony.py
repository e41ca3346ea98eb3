"""Agora telephony and phone numbers through the official SDK: all 9 operations, every
documented error status, the call lifecycle on the mock clock, inbound calls."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from agora_agent.core.api_error import ApiError

from .agora_support import CALLER, T0, Tenant, import_caller, properties


@pytest.fixture
def phone(tenant: Tenant) -> Tenant:
    """The tenant with one imported number (outbound and inbound from 127.0.0.0/8)."""
    return import_caller(tenant)


def error_of(exc: pytest.ExceptionInfo[ApiError]) -> tuple[int | None, str]:
    return exc.value.status_code, exc.value.body["error_type"]  # type: ignore[index]


def dial(tenant: Tenant, to: str = "+15557654321", name: str = "call", **props: Any) -> str:
    sip = {"to_number": to, "from_number": CALLER, "rtc_uid": "200", "rtc_token": "tok"}
    llm = {"url": "https://llm.example", "greeting_message": "Hi, this is Acme."}
    call_props = properties(channel=f"ch-{name}", agent_rtc_uid="100", llm=llm, **props)
    del call_props["remote_rtc_uids"]
    return tenant.sdk.telephony.call(tenant.appid, name=name, sip=sip, properties=call_props).agent_id


def rules(tenant: Tenant, *items: dict[str, Any]) -> None:
    r = httpx.put(f"{tenant.server.url}/_mock/agora/customers/{tenant.customer_id}/dial-rules", json=list(items))
    assert r.status_code == 200, r.text


# -- phone numbers ---------------------------------------------------------------------------------


def test_phone_number_crud(phone: Tenant) -> None:
    numbers = phone.sdk.phone_numbers
    assert [n.phone_number for n in numbers.list()] == [CALLER]
    got = numbers.get(CALLER)
    assert (got.label, got.inbound, got.outbound, got.associated_pipeline) == ("Support", True, True, None)
    updated = numbers.update(CALLER, inbound_config={"pipeline_id": "28"})
    assert updated.associated_pipeline.pipeline_id == "28"
    assert updated.inbound_config == {"allowed_addresses": ["127.0.0.0/8"], "pipeline_id": "28"}  # merged
    assert updated.outbound_config == {"address": "sip.example.com", "transport": "tls"}  # omitted: kept
    cleared = numbers.update(CALLER, outbound_config=None)
    assert cleared.outbound_config is None  # explicit null clears
    numbers.delete(CALLER)
    assert numbers.list() == []
    with pytest.raises(ApiError) as exc:
        numbers.get(CALLER)
    assert error_of(exc) == (404, "not_found")


def test_add_answers_201_and_delete_204(phone: Tenant) -> None:
    body = {
        "provider": "twilio",
        "phone_number": "+15550100003",
        "label": "x",
        "outbound_config": {"address": "a", "transport": "udp"},
    }
    r = httpx.post(f"{phone.server.url}/api/conversational-ai-agent/v2/phone-numbers", json=body, headers=phone.auth)
    assert r.status_code == 201 and r.json()["phone_number"] == "+15550100003"
    r = httpx.delete(
        f"{phone.server.url}/api/conversational-ai-agent/v2/phone-numbers/%2B15550100003", headers=phone.auth
    )
    assert (r.status_code, r.content) == (204, b"")


def test_plus_and_percent_2b_in_the_path(phone: Tenant) -> None:
    base = f"{phone.server.url}/api/conversational-ai-agent/v2/phone-numbers"
    assert httpx.get(f"{base}/{CALLER}", headers=phone.auth).json()["phone_number"] == CALLER
    assert httpx.get(f"{base}/%2B15550100001", headers=phone.auth).json()["phone_number"] == CALLER


def test_phone_number_errors(phone: Tenant) -> None:
    numbers = phone.sdk.phone_numbers
    with pytest.raises(ApiError) as exc:
        numbers.add(
            provider="byo",
            phone_number="555-0100",
            label="x",
            inbound_config={"allowed_addresses": []},
            outbound_config={"address": "a"},
        )
    assert error_of(exc) == (400, "invalid_phone_format")
    with pytest.raises(ApiError) as exc:
        numbers.add(
            provider="byo",
            phone_number=CALLER,
            label="x",
            inbound_config={"allowed_addresses": []},
            outbound_config={"address": "a"},
        )
    assert error_of(exc) == (409, "phone_number_exists")
    with pytest.raises(ApiError) as exc:
        numbers.add(
            provider="carrier-pigeon",
            phone_number="+15550100009",
            label="x",  # type: ignore[arg-type]
            inbound_config={"allowed_addresses": []},
            outbound_config={"address": "a"},
        )
    assert error_of(exc) == (422, "unprocessable_content")
    with pytest.raises(ApiError) as exc:
        numbers.add(
            provider="byo",
            phone_number="+15550100009",
            label="x",
            inbound_config={"allowed_addresses": ["not-a-cidr"]},
            outbound_config={"address": "a"},
        )
    assert error_of(exc) == (422, "unprocessable_content")
    for action in (lambda: numbers.update("+19999999999", inbound_config=None), lambda: numbers.delete("+19999999999")):
        with pytest.raises(ApiError) as exc:
            action()
        assert error_of(exc) == (404, "not_found")


def test_a_number_in_an_active_call_is_locked(phone: Tenant) -> None:
    agent_id = dial(phone)
    for action in (
        lambda: phone.sdk.phone_numbers.delete(CALLER),
        lambda: phone.sdk.phone_numbers.update(CALLER, inbound_config=None),
    ):
        with pytest.raises(ApiError) as exc:
            action()
        assert error_of(exc) == (409, "conflict")
    phone.sdk.telephony.hangup(phone.appid, agent_id)
    phone.sdk.phone_numbers.delete(CALLER)


def test_numbers_are_per_customer_and_need_auth(phone: Tenant) -> None:
    url = f"{phone.server.url}/api/conversational-ai-agent/v2/phone-numbers"
    r = httpx.get(url)
    assert (r.status_code, r.json()["error_type"]) == (401, "unauthorized")
    phone.sdk.phone_numbers.add(
        provider="byo",
        phone_number="+15550100077",
        label="mine",
        outbound_config={"address": "a"},
        inbound_config={"allowed_addresses": []},
    )
    demo = httpx.get(url, auth=("demo-customer-id", "demo-customer-secret")).json()
    assert "+15550100077" not in [n["phone_number"] for n in demo]


# -- calls -----------------------------------------------------------------------------------------


def test_outbound_call_lifecycle(phone: Tenant) -> None:
    agent_id = dial(phone)
    got = phone.sdk.telephony.get(phone.appid, agent_id)
    assert (got.state, got.reason, got.type, got.stop_ts, got.create_ts) == ("ringing", None, "outbound", 0, int(T0))
    assert phone.sdk.agents.get(phone.appid, agent_id).status == "RUNNING"  # waiting for the callee
    phone.advance(2)  # the default callee answers after 2 s
    assert phone.sdk.telephony.get(phone.appid, agent_id).state == "answered"
    greeting = [e for e in phone.events(agent=agent_id, kind="speech")]
    assert [(e.text, e.time) for e in greeting] == [("Hi, this is Acme.", T0 + 2)]
    phone.advance(5)
    assert phone.sdk.telephony.hangup(phone.appid, agent_id) is not None
    got = phone.sdk.telephony.get(phone.appid, agent_id)
    assert (got.state, got.reason, got.stop_ts) == ("hangup", "request", int(T0 + 7))
    assert phone.sdk.agents.get(phone.appid, agent_id).status == "STOPPING"
    phone.advance(1)
    assert phone.sdk.agents.get(phone.appid, agent_id).status == "STOPPED"
    assert phone.sdk.agents.get_turns(phone.appid, agent_id).total_turn_count == 1  # still readable
    calls = [e.outcome for e in phone.events(agent=agent_id, kind="call")]
    assert calls == ["dialled", "answered", "hung_up"]
    with pytest.raises(ApiError) as exc:
        phone.sdk.telephony.hangup(phone.appid, agent_id)
    assert error_of(exc) == (404, "not_found")


@pytest.mark.parametrize(
    ("rule", "wait", "why"),
    [({"outcome": "busy"}, 0, "busy"), ({"outcome": "no_answer"}, 60, "no answer")],
)
def test_unanswered_calls_fail(phone: Tenant, rule: dict[str, Any], wait: float, why: str) -> None:
    rules(phone, {"number": "+15550111111", **rule})
    agent_id = dial(phone, to="+15550111111")
    if wait:
        phone.advance(wait - 0.1)
        assert phone.sdk.telephony.get(phone.appid, agent_id).state == "ringing"
        phone.advance(0.1)
    got = phone.sdk.telephony.get(phone.appid, agent_id)
    assert (got.state, got.reason) == ("hangup", "failed")
    [failed] = [e for e in phone.events(agent=agent_id, kind="call") if e.outcome == "failed"]
    assert failed.data["why"] == why


def test_the_callee_hangs_up(phone: Tenant) -> None:
    rules(phone, {"number": "+15550122222", "ring_seconds": 1, "hangup_after": 30})
    agent_id = dial(phone, to="+15550122222")
    phone.advance(31)
    got = phone.sdk.telephony.get(phone.appid, agent_id)
    assert (got.state, got.reason, got.stop_ts) == ("hangup", "hangup", int(T0 + 31))
    assert phone.sdk.agents.get(phone.appid, agent_id).status in ("STOPPING", "STOPPED")


def test_control_plane_answers_rejects_and_hangs_up(phone: Tenant) -> None:
    rules(phone, {"number": "+15550133333", "ring_seconds": 3600})
    base = f"{phone.server.url}/_mock/agora/projects/{phone.appid}/calls"
    first = dial(phone, to="+15550133333", name="a")
    assert httpx.post(f"{base}/{first}/answer").json()["state"] == "answered"
    assert httpx.post(f"{base}/{first}/answer").status_code == 409
    r = httpx.post(f"{base}/{first}/remote-hangup").json()
    assert (r["state"], r["reason"]) == ("hangup", "hangup")
    second = dial(phone, to="+15550133333", name="b")
    r = httpx.post(f"{base}/{second}/reject", json={"reason": "no_answer"}).json()
    assert (r["state"], r["reason"], r["events"]) == ("hangup", "failed", ["dialled", "failed"])


def test_list_calls_filters_and_pages(phone: Tenant) -> None:
    ids = [dial(phone, to=f"+1555020000{i}", name=f"c{i}") for i in range(5)]
    listed = list(phone.sdk.telephony.list(phone.appid, limit=2))
    assert [c.agent_id for c in listed] == ids
    assert [c.agent_id for c in phone.sdk.telephony.list(phone.appid, number="+15550200003")] == [ids[3]]
    assert [c.agent_id for c in phone.sdk.telephony.list(phone.appid, number=CALLER)] == ids
    assert list(phone.sdk.telephony.list(phone.appid, type="inbound")) == []
    phone.advance(61 * 24 * 3600)  # older than the default 60-day window
    assert list(phone.sdk.telephony.list(phone.appid)) == []


def test_call_errors(phone: Tenant) -> None:
    sip = {"to_number": "12345", "from_number": CALLER, "rtc_uid": "200", "rtc_token": "t"}
    with pytest.raises(ApiError) as exc:
        phone.sdk.telephony.call(phone.appid, name="x", sip=sip, properties=properties())
    assert error_of(exc) == (400, "invalid_phone_format")
    sip["to_number"], sip["from_number"] = "+15557654321", "+15550000000"  # not imported
    with pytest.raises(ApiError) as exc:
        phone.sdk.telephony.call(phone.appid, name="x", sip=sip, properties=properties())
    assert error_of(exc) == (422, "unprocessable_content")
    with pytest.raises(ApiError) as exc:
        phone.sdk.telephony.get(phone.appid, "1NT29XNOPE")
    assert error_of(exc) == (404, "not_found")
    r = httpx.get(f"{phone.base}/call", headers={"authorization": "Basic bm9wZTpub3Bl"})
    assert (r.status_code, r.json()["error_type"]) == (401, "unauthorized")
    r = httpx.get(f"{phone.base}/call", params={"type": "sideways"}, headers=phone.auth)
    assert (r.status_code, r.json()["error_type"]) == (422, "unprocessable_content")


def test_inbound_call(phone: Tenant) -> None:
    phone.sdk.phone_numbers.update(CALLER, inbound_config={"pipeline_id": "28"})
    url = f"{phone.server.url}/_mock/agora/customers/{phone.customer_id}/inbound-calls"
    r = httpx.post(url, json={"to_number": CALLER, "from_number": "+15559876543", "source_address": "127.0.0.9"})
    assert r.status_code == 201, r.text
    call = r.json()
    assert (call["type"], call["state"], call["pipeline_id"]) == ("inbound", "answered", "28")
    assert [c.type for c in phone.sdk.telephony.list(phone.appid, type="inbound")] == ["inbound"]
    refused = httpx.post(url, json={"to_number": CALLER, "from_number": "+1555", "source_address": "8.8.8.8"})
    assert refused.status_code == 422 and "allowed_addresses" in refused.json()["detail"]
