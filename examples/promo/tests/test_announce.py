"""Promotions through bitHuman, tested against the mock with the plugin's fixtures only."""

from __future__ import annotations

import re

import pytest
from promo import AnnouncementFailed, announce, brief


def test_announce(mockserver):
    agent = mockserver.bithuman.agent(rooms=["r1", "r2"])  # a fresh tenant: .code, .api_secret
    announce(base_url=mockserver.url, secret=agent.api_secret, agent_code=agent.code, text="20% off")
    assert agent.said(room="r1") == ["20% off"]
    assert agent.context() == []


def test_announce_in_one_room(mockserver):
    agent = mockserver.bithuman.agent(rooms=["r1", "r2"])
    assert announce(mockserver.url, agent.api_secret, agent.code, "Free shipping", room_id="r2") == ["r2"]
    agent.assert_said("Free shipping", room="r2")
    agent.assert_silent(room="r1")


def test_closed_rooms_hear_nothing(mockserver):
    agent = mockserver.bithuman.agent(rooms=["r1", "r2"])
    agent.close_room("r1")
    assert announce(mockserver.url, agent.api_secret, agent.code, "Last call") == ["r2"]
    with pytest.raises(AnnouncementFailed, match="No active rooms"):
        announce(mockserver.url, agent.api_secret, agent.code, "Last call", room_id="r1")


def test_agent_without_a_live_session(mockserver):
    agent = mockserver.bithuman.agent(rooms=[])
    with pytest.raises(AnnouncementFailed, match="No active rooms"):
        announce(mockserver.url, agent.api_secret, agent.code, "Anyone there?")


def test_brief_gives_context_without_speaking(mockserver):
    agent = mockserver.bithuman.agent()
    brief(mockserver.url, agent.api_secret, agent.code, ["Sale ends Sunday", "VIPs get 30%"])
    agent.assert_context("Sale ends Sunday", re.compile(r"VIPs get \d+%"))
    agent.assert_silent()


def test_rate_limited_account(mockserver):
    agent = mockserver.bithuman.agent(rate_limit=2)
    for n in range(2):
        announce(mockserver.url, agent.api_secret, agent.code, f"Deal {n}")
    with pytest.raises(AnnouncementFailed):
        announce(mockserver.url, agent.api_secret, agent.code, "One too many")
    assert agent.said() == ["Deal 0", "Deal 1"]


@pytest.mark.mockserver_fixture("fixtures/shop.yaml")
def test_staging_credentials(mockserver):
    assert announce(mockserver.url, "shop-staging-secret", "A12345678", "Welcome") == ["storefront", "checkout"]
    mockserver.bithuman.get_account("shop").get_agent("A12345678").assert_said("Welcome", room="checkout")


def test_in_process(mockserver_inprocess):
    # No socket: the requests session carries the call to the app in this process.
    agent = mockserver_inprocess.bithuman.agent(rooms=["r1"])
    session = mockserver_inprocess.requests_session()
    announce(mockserver_inprocess.url, agent.api_secret, agent.code, "Fast", session=session)
    agent.assert_said("Fast", room="r1")


def test_a_503_is_reported_and_the_next_call_works(mockserver):
    # The fault is this test's: removed when it ends, so no other test sees it.
    agent = mockserver.bithuman.agent(rooms=["r1"])
    mockserver.fault("bithuman_speak", status=503, agent=agent, times=1)
    with pytest.raises(AnnouncementFailed):
        announce(mockserver.url, agent.api_secret, agent.code, "Flash sale")
    assert announce(mockserver.url, agent.api_secret, agent.code, "Flash sale") == ["r1"]
    assert [e["status"] for e in mockserver.journal(operation="bithuman_speak")] == [503, 200]


def test_the_raw_api_through_the_sessions_client(mockserver):
    # mockserver.http: one httpx client for the whole session, cheaper than a new one per call.
    agent = mockserver.bithuman.agent(rooms=["r1"])
    r = mockserver.http.post(f"/v1/agent/{agent.code}/speak", headers=agent.headers, json={"message": "Hi"})
    assert r.status_code == 200 and r.json()["delivered_to_rooms"] == 1
    agent.assert_said("Hi", room="r1")
