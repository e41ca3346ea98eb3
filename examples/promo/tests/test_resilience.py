"""What the promo code does when things go wrong inside the conversation (chaos scenarios)."""

from __future__ import annotations

import pytest
from promo import AnnouncementFailed, announce, start_support_agent


@pytest.mark.mockserver_chaos("rate_limit_burst", times=1)
def test_a_rate_limited_announcement_says_so(mockserver):
    agent = mockserver.bithuman.agent(rooms=["r1"])
    with pytest.raises(AnnouncementFailed, match="Rate limit exceeded"):
        announce(mockserver.url, agent.api_secret, agent.code, "20% off")
    # The burst is over: the retry is delivered.
    assert announce(mockserver.url, agent.api_secret, agent.code, "20% off") == ["r1"]


@pytest.mark.mockserver_chaos("agent_fails", when="speaking")
def test_an_agent_that_fails_mid_greeting_can_be_replaced(mockserver):
    project = mockserver.agora.project()
    first = project.agent(start_support_agent(project.base_url, project.auth_header, project.app_id))
    mockserver.clock.advance(seconds=2)  # past the middle of the greeting (2.8 s long)
    first.assert_status("FAILED")
    # The rule acted once: a new agent (same name, the old one has exited) runs normally.
    second = project.agent(start_support_agent(project.base_url, project.auth_header, project.app_id))
    second.assert_status("RUNNING")
