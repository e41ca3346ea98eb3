"""Who the suite is, per vendor, and where its resources live."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

__all__ = ["Credentials", "basic"]


def basic(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Credentials:
    """Who the suite is, per vendor, and where its resources live."""

    bithuman_secret: str | None = None
    bithuman_agent: str | None = None
    bithuman_rooms: list[str] = field(default_factory=list)
    agora_customer: str | None = None
    agora_secret: str | None = None
    agora_appid: str | None = None
    agora_from_number: str | None = None  # an imported number with outbound calling
    agora_to_number: str | None = None  # a callee that answers
    tenant: str | None = None  # the arranged tenant (mocks)

    @property
    def agora_authorization(self) -> str | None:
        if self.agora_customer is None or self.agora_secret is None:
            return None
        return basic(self.agora_customer, self.agora_secret)
