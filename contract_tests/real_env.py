"""The environment ``--target real`` reads: the vendors' URLs, credentials, resources and rates."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["ENVIRONMENT", "RealEnv"]

# The documented environment of ``--target real`` (docs/contract-tests.md): name -> meaning.
ENVIRONMENT = {
    "BITHUMAN_BASE_URL": "bitHuman API base URL (default https://api.bithuman.ai)",
    "BITHUMAN_API_SECRET": "api-secret of your account (every bitHuman test needs it)",
    "BITHUMAN_AGENT_CODE": "an agent of that account with a live LiveKit room",
    "BITHUMAN_ROOM_ID": "that live room: every delivery the suite makes is aimed at it, never broadcast",
    "BITHUMAN_RATE_LIMIT": "requests per minute the suite may send (default 30: the Free plan's write tier)",
    "AGORA_BASE_URL": "Agora API base URL (default https://api.agora.io)",
    "AGORA_CUSTOMER_ID": "RESTful API customer ID (HTTP Basic user)",
    "AGORA_CUSTOMER_SECRET": "RESTful API customer secret (HTTP Basic password)",
    "AGORA_APP_ID": "App ID of a project with Conversational AI enabled",
    "AGORA_RATE_LIMIT": "requests per second the suite may send to Agora (default 1; Agora publishes no limit)",
    "AGORA_CHANNEL": "--allow-costly: the RTC channel started agents join (default: a fresh name per agent)",
    "AGORA_RTC_TOKEN": "--allow-costly: the token agents join with (empty when the project has no certificate)",
    "AGORA_PIPELINE_ID": "--allow-costly: an AI Studio pipeline agents and calls use (or AGORA_PRESET)",
    "AGORA_PRESET": "--allow-costly: presets agents use instead of a pipeline, e.g. openai_gpt_4o_mini",
    "AGORA_FROM_NUMBER": "--allow-costly: an imported number with outbound calling, calls go out from it",
    "AGORA_TO_NUMBER": "--allow-costly: a number you own; every call the suite places goes to it",
}


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class RealEnv:
    """The environment ``--target real`` reads (see ``ENVIRONMENT``)."""

    bithuman_url: str
    bithuman_secret: str | None
    bithuman_agent: str | None
    bithuman_room: str | None
    bithuman_per_minute: float
    agora_url: str
    agora_customer: str | None
    agora_secret: str | None
    agora_appid: str | None
    agora_per_second: float
    agora_channel: str | None
    agora_token: str
    agora_pipeline: str | None
    agora_preset: str | None
    agora_from: str | None
    agora_to: str | None

    @classmethod
    def read(cls) -> RealEnv:
        return cls(
            bithuman_url=(_env("BITHUMAN_BASE_URL") or "https://api.bithuman.ai").rstrip("/"),
            bithuman_secret=_env("BITHUMAN_API_SECRET"),
            bithuman_agent=_env("BITHUMAN_AGENT_CODE"),
            bithuman_room=_env("BITHUMAN_ROOM_ID"),
            bithuman_per_minute=float(_env("BITHUMAN_RATE_LIMIT") or 30),
            agora_url=(_env("AGORA_BASE_URL") or "https://api.agora.io").rstrip("/"),
            agora_customer=_env("AGORA_CUSTOMER_ID"),
            agora_secret=_env("AGORA_CUSTOMER_SECRET"),
            agora_appid=_env("AGORA_APP_ID"),
            agora_per_second=float(_env("AGORA_RATE_LIMIT") or 1),
            agora_channel=_env("AGORA_CHANNEL"),
            agora_token=os.environ.get("AGORA_RTC_TOKEN", ""),
            agora_pipeline=_env("AGORA_PIPELINE_ID"),
            agora_preset=_env("AGORA_PRESET"),
            agora_from=_env("AGORA_FROM_NUMBER"),
            agora_to=_env("AGORA_TO_NUMBER"),
        )
