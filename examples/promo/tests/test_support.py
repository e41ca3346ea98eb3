"""The Agora support agent, tested against the mock with the plugin's fixtures only."""

from __future__ import annotations

import pytest
from agora_agent.core.api_error import ApiError
from promo import GREETING, share_order_status, start_support_agent


def test_support_agent(mockserver):
    project = mockserver.agora.project(responder={"order": "Your order has shipped."})
    agent_id = start_support_agent(project.base_url, project.auth_header, project.app_id)
    agent = project.agent(agent_id)
    assert agent.status == "RUNNING"
    agent.user_says("Where is my order?")  # simulated user speech -> scripted reply
    assert "Your order has shipped." in agent.said()
    agent.user_leaves()
    mockserver.clock.advance(seconds=130)  # idle timeout (120 s), then STOPPING -> STOPPED
    agent.assert_status("STOPPED")


def test_greets_the_customer(mockserver):
    project = mockserver.agora.project()
    agent = project.agent(start_support_agent(project.base_url, project.auth_header, project.app_id))
    agent.assert_said(GREETING)


def test_order_status_is_injected_with_think(mockserver):
    project = mockserver.agora.project(responder={"order 42 is shipped": "Good news: order 42 is on its way."})
    agent = project.agent(start_support_agent(project.base_url, project.auth_header, project.app_id))
    agent.advance_until_listening()  # let the greeting finish
    share_order_status(project.base_url, project.auth_header, project.app_id, agent.agent_id, "42", "shipped")
    agent.assert_context("Context from the order system: order 42 is shipped.")
    agent.advance_until_listening()
    agent.assert_said(GREETING, "Good news: order 42 is on its way.")


def test_the_project_is_full(mockserver):
    project = mockserver.agora.project(concurrency_limit=1)
    start_support_agent(project.base_url, project.auth_header, project.app_id, channel="desk-1")
    with pytest.raises(ApiError) as exc:
        start_support_agent(project.base_url, project.auth_header, project.app_id, channel="desk-2")
    assert (exc.value.status_code, exc.value.body["reason"]) == (422, "ConcurrencyLimitExceeded")


def test_agent_failure_is_visible(mockserver):
    project = mockserver.agora.project()
    agent = project.agent(start_support_agent(project.base_url, project.auth_header, project.app_id))
    agent.fail("LLM unreachable")
    agent.assert_status("FAILED")


def test_in_process(mockserver_inprocess):
    project = mockserver_inprocess.agora.project(responder={"hours": "We open at nine."})
    http = mockserver_inprocess.httpx_client()  # no socket: the app runs in this process
    agent = project.agent(start_support_agent(project.base_url, project.auth_header, project.app_id, http=http))
    agent.user_says("What are your hours?")
    agent.assert_said("We open at nine.")
