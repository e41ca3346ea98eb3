"""What the official SDK sends for an optional argument given as ``None``: JSON ``null``.

``agora-agents`` marks a left-out argument with its own sentinel and leaves it out of the body, but a
caller who passes ``None`` gets ``"field": null`` on the wire. Agora's pages mark optional fields
nullable (the ``think`` page: "string nullable"), so the service reads null as "not given": the
contract types these fields ``[T, "null"]`` and the mock applies the default. Every such argument of
the SDK is driven here, over a socket, and each request is checked to carry the null.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from agora_agent.client import Agora
from agora_agent.core.api_error import ApiError

from mockserver.contract import load_contract

from .agora_support import Tenant, basic, properties

CALLER = "+15550100001"


class Wire:
    """Records each request body the SDK sent and checks each answer against the contract."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.contract = load_contract()

    def request(self, request: httpx.Request) -> None:
        content = request.read()
        self.bodies.append(orjson.loads(content) if content else {})

    def response(self, response: httpx.Response) -> None:
        response.read()
        op = self.contract.match(response.request.method, response.request.url.path)
        assert op is not None
        problems = self.contract.check_response(op, response.status_code, response.headers, response.content)
        assert not problems, "; ".join(problems)

    @property
    def last(self) -> dict[str, Any]:
        return self.bodies[-1]


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def sdk(tenant: Tenant, wire: Wire) -> Iterator[Agora]:
    hooks: dict[str, list[Any]] = {"request": [wire.request], "response": [wire.response]}
    with httpx.Client(timeout=10, event_hooks=hooks) as http:
        yield Agora(
            base_url=f"{tenant.server.url}/api/conversational-ai-agent",
            authorization=basic(tenant.customer_id, tenant.secret),
            username=tenant.customer_id,
            password=tenant.secret,
            httpx_client=http,
        )


def test_start_with_preset_and_pipeline_none(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    started = sdk.agents.start(tenant.appid, name="a", properties=properties(), preset=None, pipeline_id=None)
    assert {k: wire.last[k] for k in ("preset", "pipeline_id")} == {"preset": None, "pipeline_id": None}
    agent = tenant.server.world.agora.agent(tenant.appid, started.agent_id)
    assert (agent.preset, agent.pipeline_id) == (None, None)
    # Null is not a preset: the llm and tts rule still applies.
    props = properties()
    del props["llm"]
    with pytest.raises(ApiError) as exc:
        sdk.agents.start(tenant.appid, name="b", properties=props, preset=None, pipeline_id=None)
    assert exc.value.status_code == 400 and exc.value.body["reason"] == "MissingRequiredField"  # type: ignore[index]


def test_speak_with_priority_and_interruptable_none(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    agent_id = tenant.start()
    spoke = sdk.agents.speak(tenant.appid, agent_id, text="Hello there.", priority=None, interruptable=None)
    assert spoke.agent_id == agent_id
    assert (wire.last["priority"], wire.last["interruptable"]) == (None, None)
    # The defaults apply: INTERRUPT (spoken now) and interruptable by the user.
    speech = tenant.server.world.agora.agent(tenant.appid, agent_id).conversation.current
    assert speech is not None and speech.text == "Hello there." and speech.interruptable is True
    [event] = [e for e in tenant.events(agent=agent_id) if e.operation == "speak_agent"]
    assert event.data["priority"] == "INTERRUPT" and event.data["interruptable"] is True


def test_update_with_properties_none_changes_nothing(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    agent_id = tenant.start()
    before = dict(tenant.server.world.agora.agent(tenant.appid, agent_id).properties)
    updated = sdk.agents.update(tenant.appid, agent_id, properties=None)
    assert wire.last == {"properties": None}
    assert updated.agent_id == agent_id
    assert tenant.server.world.agora.agent(tenant.appid, agent_id).properties == before


def test_think_with_every_option_none(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    agent_id = tenant.start()
    thought = sdk.agent_management.agent_think(
        tenant.appid,
        agent_id,
        text="The user clicked buy.",
        on_listening_action=None,
        on_thinking_action=None,
        on_speaking_action=None,
        interruptable=None,
        metadata=None,
    )
    assert thought.agent_id == agent_id and wire.last["metadata"] is None


def test_add_number_with_inbound_and_outbound_none(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    added = sdk.phone_numbers.add(
        provider="byo",
        phone_number=CALLER,
        label="Support",
        inbound=None,
        outbound=None,
        inbound_config={"allowed_addresses": ["127.0.0.0/8"]},
        outbound_config={"address": "sip.example.com", "transport": "tls"},
    )
    assert (wire.last["inbound"], wire.last["outbound"]) == (None, None)
    assert (added.inbound, added.outbound) == (True, True)  # the documented defaults
    got = sdk.phone_numbers.get(CALLER)
    assert (got.inbound, got.outbound) == (True, True)


def test_call_with_pipeline_none(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    sdk.phone_numbers.add(
        provider="byo",
        phone_number=CALLER,
        label="Support",
        inbound_config={"allowed_addresses": ["127.0.0.0/8"]},
        outbound_config={"address": "sip.example.com", "transport": "tls"},
    )
    sip = {"to_number": "+15557654321", "from_number": CALLER, "rtc_uid": "200", "rtc_token": "tok"}
    props = properties(channel="ch-call", agent_rtc_uid="100")
    del props["remote_rtc_uids"]
    called = sdk.telephony.call(tenant.appid, name="call", sip=sip, properties=props, pipeline_id=None)
    assert wire.last["pipeline_id"] is None
    assert sdk.telephony.get(tenant.appid, called.agent_id).pipeline_id in ("", None)


def test_update_number_with_configs_none_clears_them(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    sdk.phone_numbers.add(
        provider="byo",
        phone_number=CALLER,
        label="Support",
        inbound_config={"allowed_addresses": ["127.0.0.0/8"]},
        outbound_config={"address": "sip.example.com", "transport": "tls"},
    )
    updated = sdk.phone_numbers.update(CALLER, inbound_config=None, outbound_config=None)
    assert wire.last == {"inbound_config": None, "outbound_config": None}
    assert updated.phone_number == CALLER
    got = sdk.phone_numbers.get(CALLER)
    assert (got.inbound_config, got.outbound_config) == (None, None)


def test_inbound_config_needs_allowed_addresses(tenant: Tenant, sdk: Agora, wire: Wire) -> None:
    # The SDK's model makes allowed_addresses optional; the import page (which describes the
    # service) requires it inside inbound_config, and a trunk without it could take no inbound
    # call. The contract follows the page: the SDK's omission is a clear 422 naming the field.
    with pytest.raises(ApiError) as exc:
        sdk.phone_numbers.add(
            provider="byo",
            phone_number=CALLER,
            label="Support",
            inbound_config={},
            outbound_config={"address": "sip.example.com", "transport": "tls"},
        )
    assert exc.value.status_code == 422
    body: Any = exc.value.body
    assert body["error_type"] == "unprocessable_content" and "allowed_addresses" in body["description"]
