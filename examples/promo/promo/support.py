"""Run a support agent on Agora's Conversational AI Engine with the official SDK (``agora-agents``)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import httpx
from agora_agent.client import Agora

__all__ = ["GREETING", "share_order_status", "start_support_agent"]

GREETING = "Hi! I am the shop's assistant. How can I help?"


def _sdk(base_url: str, auth_header: str, http: httpx.Client) -> Agora:
    # The SDK wants username and password too, but sends the Authorization header it is given.
    return Agora(base_url=base_url, authorization=auth_header, username="", password="", httpx_client=http)


def _http(http: httpx.Client | None) -> Any:
    # A client we were given is the caller's to close; one we make is ours.
    return nullcontext(http) if http is not None else httpx.Client(timeout=10)


def start_support_agent(
    base_url: str, auth_header: str, app_id: str, *, channel: str = "support-desk", http: httpx.Client | None = None
) -> str:
    """Start the support agent in ``channel``; returns its agent id.

    Args:
        base_url: the Conversational AI API's base URL (``https://api.agora.io/api/conversational-ai-agent``).
        auth_header: ``Basic <base64 customer_id:customer_secret>``.
        app_id: the project's App ID.
        channel: the RTC channel the customer joins.
        http: an httpx client to use (the caller closes it).
    """
    properties = {
        "channel": channel,
        "token": "",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["*"],
        "idle_timeout": 120,
        "llm": {
            "url": "https://llm.example.com/v1/chat/completions",
            "api_key": "sk-example",
            "system_messages": [{"role": "system", "content": "You are the shop's friendly support assistant."}],
            "greeting_message": GREETING,
        },
        "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-AriaNeural"}},
    }
    with _http(http) as client:
        return str(
            _sdk(base_url, auth_header, client).agents.start(app_id, name=channel, properties=properties).agent_id
        )


def share_order_status(
    base_url: str,
    auth_header: str,
    app_id: str,
    agent_id: str,
    order_id: str,
    status: str,
    *,
    http: httpx.Client | None = None,
) -> None:
    """Tell the agent what the order system knows, as hidden input (``think``), while it listens."""
    text = f"Context from the order system: order {order_id} is {status}."
    with _http(http) as client:
        _sdk(base_url, auth_header, client).agent_management.agent_think(
            app_id, agent_id, text=text, on_listening_action="inject", on_speaking_action="append"
        )
