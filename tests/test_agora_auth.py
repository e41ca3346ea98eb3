"""Agora authentication: Basic, AccessToken2 (`agora token=`), fixed tokens, the SDK's pool client."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
from agora_agent.agentkit.token import generate_convo_ai_token

from mockserver import MockServer

from .agora_support import Tenant, properties

CERT = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def signed(tenant: Tenant) -> Tenant:
    """The tenant gains a project (a 32-hex App ID) whose tokens are verified with an App Certificate."""
    appid = hashlib.md5(tenant.customer_id.encode()).hexdigest()
    tenant.server.world.agora.create_project(tenant.customer_id, appid=appid, app_certificate=CERT)
    tenant.appid = appid
    return tenant


def token_header(token: str) -> dict[str, str]:
    return {"authorization": f"agora token={token}"}


def test_sdk_built_token_is_accepted(signed: Tenant) -> None:
    token = generate_convo_ai_token(signed.appid, CERT, "support-channel", 1001)
    r = httpx.get(f"{signed.base}/agents", headers=token_header(token))
    assert r.status_code == 200, r.text
    r = httpx.post(f"{signed.base}/join", headers=token_header(token), json={"name": "t", "properties": properties()})
    assert r.status_code == 200 and r.json()["status"] == "RUNNING"


def test_token_for_another_channel_cannot_join(signed: Tenant) -> None:
    token = generate_convo_ai_token(signed.appid, CERT, "other-channel", 1001)
    r = httpx.post(f"{signed.base}/join", headers=token_header(token), json={"name": "t", "properties": properties()})
    assert r.status_code == 401 and "other-channel" in r.json()["detail"]


def test_token_signed_with_another_certificate_is_refused(signed: Tenant) -> None:
    token = generate_convo_ai_token(signed.appid, "0" * 32, "support-channel", 1001)
    r = httpx.get(f"{signed.base}/agents", headers=token_header(token))
    assert r.status_code == 401 and "signature" in r.json()["detail"]


def test_expired_token_is_refused_on_the_mock_clock(signed: Tenant) -> None:
    signed.server.world.clock.freeze(time.time())
    token = generate_convo_ai_token(signed.appid, CERT, "support-channel", 1001, token_expire=60)
    assert httpx.get(f"{signed.base}/agents", headers=token_header(token)).status_code == 200
    signed.advance(61)
    r = httpx.get(f"{signed.base}/agents", headers=token_header(token))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_token_of_one_project_on_another_is_refused(signed: Tenant) -> None:
    token = generate_convo_ai_token(signed.appid, CERT, "support-channel", 1001)
    other = f"{signed.server.url}/api/conversational-ai-agent/v2/projects/demo-app-id/agents"
    assert httpx.get(other, headers=token_header(token)).status_code == 401


def test_garbage_tokens_are_401(tenant: Tenant) -> None:
    for token in ("", "007", "007!!!", "007" + "QUJD", "abc"):
        r = httpx.get(f"{tenant.base}/agents", headers=token_header(token))
        assert r.status_code == 401, token


def test_fixed_fixture_token(agora_server: MockServer) -> None:
    url = f"{agora_server.url}/api/conversational-ai-agent/v2/projects/demo-app-id/agents"
    assert httpx.get(url, headers=token_header("demo-token")).status_code == 200


def test_pool_client_through_the_base_url_variable(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    from agora_agent import Agora, Area

    monkeypatch.setenv("AGORA_AGENTS_API_BASE_URL", tenant.server.url)
    with httpx.Client(timeout=10) as http:
        client = Agora(
            area=Area.US,
            app_id=tenant.appid,
            app_certificate=CERT,
            customer_id=tenant.customer_id,
            customer_secret=tenant.secret,
            httpx_client=http,
        )
        agent_id = client.agents.start(tenant.appid, name="pool", properties=properties()).agent_id
        assert [a.agent_id for a in client.agents.list(tenant.appid)] == [agent_id]
