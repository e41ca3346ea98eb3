"""Traffic for the bridge's tests: a proxy in front of an upstream, and requests through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from mockserver.bridge.har import HarWriter
from mockserver.bridge.proxy import Proxy, ProxyServer, Violation

SECRET = {"api-secret": "YOUR_API_SECRET"}
AGORA = ("demo-customer-id", "demo-customer-secret")
PREFIX = "/api/conversational-ai-agent/v2/projects/demo-app-id"
JOIN = {
    "name": "support",
    "properties": {
        "channel": "support",
        "token": "rtc-token",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["1002"],
        "llm": {"url": "https://llm.example/v1/chat/completions", "api_key": "sk-live-abcdefgh12345"},
        "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-AndrewNeural"}},
    },
}


def bithuman_traffic(client: httpx.Client) -> None:
    """Requests a bitHuman client makes, answered and refused."""
    client.post("/v1/agent/A12345678/speak", headers=SECRET, json={"message": "Hello there"})
    client.post("/v1/agent/A12345678/speak", headers=SECRET, json={"message": "Hi", "room_id": "room_123"})
    client.post("/v1/agent/A12345678/add-context", headers=SECRET, json={"context": "VIP customer", "type": "speak"})
    client.post("/v1/agent/A00000000/speak", headers=SECRET, json={"message": "Anyone?"})  # agent not found
    client.post("/v1/agent/A91XMB7113/speak", headers=SECRET, json={"message": "Anyone?"})  # no active rooms
    client.post("/v1/agent/A12345678/speak", json={"message": "no secret"})  # 401
    client.get("/v1/agent/A12345678/speak")  # 405 with Allow


def agora_traffic(client: httpx.Client) -> None:
    """An Agora agent's life: start, read, speak, list, stop; and the imported numbers."""
    started = client.post(f"{PREFIX}/join", auth=AGORA, json=JOIN).json()
    agent = started["agent_id"]
    client.get(f"{PREFIX}/agents/{agent}", auth=AGORA)
    client.post(f"{PREFIX}/agents/{agent}/speak", auth=AGORA, json={"text": "Your order has shipped."})
    client.get(f"{PREFIX}/agents", auth=AGORA)
    client.post(f"{PREFIX}/agents/{agent}/leave", auth=AGORA)
    client.get("/api/conversational-ai-agent/v2/phone-numbers", auth=AGORA)


def record(upstream_url: str, har: Path, *traffic: Any) -> tuple[Proxy, list[Violation]]:
    """Run ``traffic`` through a recording proxy in front of ``upstream_url``."""
    seen: list[Violation] = []
    with HarWriter(har) as writer:
        proxy = Proxy({"bithuman": upstream_url, "agora": upstream_url}, record=writer, on_violation=seen.append)
        with ProxyServer(proxy) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            for one in traffic:
                one(client)
    return proxy, seen
