"""The rules across fields that openapi.yaml now states, as the mock answers them."""

from __future__ import annotations

import pytest
from agora_agent.core.api_error import ApiError

from mockserver.world.agora import is_integer_uid

from .agora_support import CALLER, Tenant, import_caller, properties


def test_integer_uids_are_ascii_digits() -> None:
    assert is_integer_uid("1001") and is_integer_uid("0")
    # str.isdigit takes these; JSON Schema's [0-9] (and the vendor's integer uids) do not.
    for uid in ("\u00b2", "\u0663", "", "1 ", "-1", "*"):
        assert not is_integer_uid(uid), uid


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"agent_rtc_uid": "\u00b2"}, "enable_string_uid"),
        ({"agent_rtc_uid": "*"}, "enable_string_uid"),
        ({"remote_rtc_uids": [""]}, "enable_string_uid"),
    ],
)
def test_join_refuses_uids_the_contract_refuses(tenant: Tenant, change: dict[str, object], words: str) -> None:
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.start(tenant.appid, name="u", properties=properties(**change))
    body: dict[str, str] = exc.value.body  # type: ignore[assignment]
    assert (exc.value.status_code, body["reason"]) == (400, "InvalidFieldValue") and words in body["detail"]


def test_join_without_modules_names_them(tenant: Tenant) -> None:
    props = properties(llm={"url": ""})
    with pytest.raises(ApiError) as exc:
        tenant.sdk.agents.start(tenant.appid, name="m", properties=props)
    body: dict[str, str] = exc.value.body  # type: ignore[assignment]
    assert (exc.value.status_code, body["reason"]) == (400, "MissingRequiredField")
    assert "properties.llm.url" in body["detail"] and "properties.tts" in body["detail"]


def test_call_sip_uid_is_a_uid_of_the_channel(tenant: Tenant) -> None:
    import_caller(tenant)
    sip = {"to_number": "+15557654321", "from_number": CALLER, "rtc_uid": "gateway", "rtc_token": "tok"}
    props = properties(channel="ch-sip", agent_rtc_uid="100")
    with pytest.raises(ApiError) as exc:
        tenant.sdk.telephony.call(tenant.appid, name="c", sip=sip, properties=props)
    body: dict[str, str] = exc.value.body  # type: ignore[assignment]
    assert exc.value.status_code == 422 and "sip.rtc_uid" in body["description"]
    # With string uids on, the same gateway uid is fine.
    props["enable_string_uid"] = True
    props["remote_rtc_uids"] = ["gateway"]
    assert tenant.sdk.telephony.call(tenant.appid, name="c", sip=sip, properties=props).agent_id


def test_allowed_addresses_are_cidr_blocks(tenant: Tenant) -> None:
    with pytest.raises(ApiError) as exc:
        tenant.sdk.phone_numbers.add(
            provider="byo",
            phone_number=CALLER,
            label="Support",
            inbound_config={"allowed_addresses": [""]},
            outbound_config={"address": "sip.example.com", "transport": "tls"},
        )
    body: dict[str, str] = exc.value.body  # type: ignore[assignment]
    assert exc.value.status_code == 422 and "allowed_addresses" in body["description"]
