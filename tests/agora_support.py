"""Helpers for the Agora tests: a live mock, a fresh customer per test, the official SDK client."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from agora_agent.client import Agora

from mockserver import MockServer

DEFAULT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "default.yaml"
T0 = 1_700_000_000.0
_ids = itertools.count(1)


def basic(customer_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{customer_id}:{secret}".encode()).decode()


def properties(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "channel": "support-channel",
        "token": "rtc-token",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["1002"],
        "idle_timeout": 30,
        "llm": {"url": "https://llm.example/v1/chat/completions", "api_key": "sk-x"},
        "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-A"}},
    }
    props.update(overrides)
    return props


@dataclass
class Tenant:
    server: MockServer
    sdk: Agora
    appid: str
    customer_id: str
    secret: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/api/conversational-ai-agent/v2/projects/{self.appid}"

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": basic(self.customer_id, self.secret)}

    def start(self, name: str = "support", **props: Any) -> str:
        return self.sdk.agents.start(self.appid, name=name, properties=properties(**props)).agent_id

    def advance(self, seconds: float) -> None:
        self.server.world.clock.advance(seconds)

    def events(self, **filters: Any) -> list[Any]:
        return self.server.world.inbox.query(tenant=self.customer_id, **filters)


@pytest.fixture(scope="module")
def agora_server() -> Iterator[MockServer]:
    with MockServer(fixtures=[DEFAULT_FIXTURE], seed=5) as server:
        yield server


@pytest.fixture
def tenant(agora_server: MockServer) -> Iterator[Tenant]:
    """A fresh customer with one project, on a clock frozen at T0."""
    n = next(_ids)
    customer_id, secret, appid = f"cust-{n}", f"secret-{n}", f"app-{n}"
    agora_server.world.agora.create_customer(customer_id, secret, [{"appid": appid}])
    agora_server.world.clock.freeze(T0)
    with httpx.Client(timeout=10) as http:
        sdk = Agora(
            base_url=f"{agora_server.url}/api/conversational-ai-agent",
            authorization=basic(customer_id, secret),
            username=customer_id,
            password=secret,
            httpx_client=http,
        )
        yield Tenant(agora_server, sdk, appid, customer_id, secret)


CALLER = "+15550100001"


def import_caller(tenant: Tenant) -> Tenant:
    """Import ``CALLER`` for ``tenant``: outbound through a SIP trunk, inbound from 127.0.0.0/8."""
    tenant.sdk.phone_numbers.add(
        provider="byo",
        phone_number=CALLER,
        label="Support",
        inbound_config={"allowed_addresses": ["127.0.0.0/8"]},
        outbound_config={"address": "sip.example.com", "transport": "tls"},
    )
    return tenant
