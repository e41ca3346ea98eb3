"""What a webhook notification is on the wire: bodies, headers, signatures, and delivery records.

Agora NCS (webhooks-facts §1, §2, §4): productId 17, body ``{noticeId, productId, eventType,
notifyMs, sid, payload}``, both ``Agora-Signature`` (HMAC-SHA1) and ``Agora-Signature-V2``
(HMAC-SHA256) in lowercase hex over the exact bytes sent; success is status 200 within 10 s; one
attempt and three retries, the same ``noticeId`` with a fresh ``notifyMs`` (so fresh signatures).
The vendor publishes no retry intervals: ours are 0 s, 2 s and 4 s on the mock clock (facts §7.10).

bitHuman session events (facts §6.2, the newest docs, BH-WH3): ``room.join`` and ``chat.push``,
unsigned (the account's own headers are sent instead), one attempt, success only on 200.

bitHuman account webhooks (facts §6.1, BH-WH3): signed ``X-BitHuman-Signature: sha256=`` over
``"{timestamp}.{body}"``; success is any 2xx; 3 attempts, after 0, 2 and 5 s (mock clock).

Our choices where the vendors are silent: ``sid`` is derived from the agent id (16 upper-case
letters and digits, stable for the session); a bitHuman ``session_id`` is a UUID derived from the
room and the time it opened.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "AGORA_EVENTS",
    "AGORA_PRODUCT_ID",
    "AGORA_RETRY_GAPS",
    "BITHUMAN_ACCOUNT_EVENTS",
    "BITHUMAN_RETRY_GAPS",
    "BITHUMAN_SESSION_EVENTS",
    "Attempt",
    "BitHumanSubscription",
    "BitHumanWebhook",
    "Notification",
    "Settings",
    "Subscription",
    "agora_signatures",
    "bithuman_session_id",
    "bithuman_signature",
    "dumps",
    "iso_time",
    "session_id",
]

AGORA_PRODUCT_ID = 17
AGORA_EVENTS = (101, 102, 103, 104, 110, 111, 112, 201, 202)
AGORA_RETRY_GAPS = (0.0, 2.0, 4.0)  # facts §7.10: immediately, then growing gaps; 3 retries in all
DELIVERY_TIMEOUT_S = 10.0  # facts §4: status 200 within 10 s
QUEUE_LIMIT = 1000  # notifications waiting to be sent; more are dropped (and counted)
BITHUMAN_SESSION_EVENTS = ("room.join", "chat.push")
BITHUMAN_ACCOUNT_EVENTS = ("agent.ready", "agent.failed", "video.completed", "video.failed", "ping")
BITHUMAN_RETRY_GAPS = (2.0, 3.0)  # facts §7.19: attempts at 0, 2 and 5 s


def agora_signatures(secret: str, body: bytes) -> tuple[str, str]:
    """``(Agora-Signature, Agora-Signature-V2)``: HMAC-SHA1 and HMAC-SHA256 of the raw body, lowercase hex."""
    key = secret.encode("utf-8")
    return hmac.new(key, body, hashlib.sha1).hexdigest(), hmac.new(key, body, hashlib.sha256).hexdigest()


def bithuman_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``X-BitHuman-Signature``: ``sha256=`` + HMAC-SHA256 over ``"{timestamp}.{body}"``, lowercase hex."""
    signed = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=4096)  # the same room's id for every message of a conversation
def bithuman_session_id(account_id: str, agent_code: str, room_id: str, opened_at: float) -> str:
    """A conversation's ``session_id`` (a UUID), stable for one opening of a room (our choice)."""
    digest = hashlib.sha256(f"{account_id}/{agent_code}/{room_id}/{opened_at!r}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def session_id(agent_id: str) -> str:
    """The ``sid`` of an agent's session: 16 upper-case letters and digits (facts §7.3), stable."""
    return base64.b32encode(hashlib.sha256(agent_id.encode()).digest()).decode()[:16]


@dataclass(slots=True)
class Subscription:
    """An Agora project's webhook: where notifications go, the secret that signs them, which events."""

    appid: str
    customer_id: str
    url: str
    secret: str
    events: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"appid": self.appid, "customer_id": self.customer_id, "url": self.url, "events": list(self.events)}


@dataclass(slots=True)
class BitHumanSubscription:
    """A bitHuman account's session webhook: where events go, the headers sent with them, which events."""

    account_id: str
    url: str
    headers: dict[str, str]
    events: list[str]

    def to_dict(self) -> dict[str, Any]:
        # The headers usually carry the receiver's own secret: only their names are shown.
        return {"account_id": self.account_id, "url": self.url, "headers": sorted(self.headers), "events": self.events}


@dataclass(slots=True)
class BitHumanWebhook:
    """A webhook registered through bitHuman's ``/v1/webhooks`` API (account events, signed)."""

    id: str
    account_id: str
    url: str
    events: list[str]
    description: str | None
    secret: str
    created: float
    active: bool = True

    def to_dict(self, *, with_secret: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "active": self.active,
        }
        if with_secret:
            body["secret"] = self.secret
        body["created_at"] = body["updated_at"] = iso_time(self.created)
        return body


@dataclass(slots=True)
class Settings:
    """How notifications are delivered (control plane: ``PATCH /_mock/webhooks``)."""

    retry_gaps: list[float] = field(default_factory=lambda: list(AGORA_RETRY_GAPS))
    timeout: float = DELIVERY_TIMEOUT_S
    queue_limit: int = QUEUE_LIMIT
    duplicate: bool = False  # chaos: every notification is delivered twice (same noticeId)
    out_of_order: bool = False  # chaos: notifications that fall due together are sent newest first

    def to_dict(self) -> dict[str, Any]:
        return {
            "retry_gaps": list(self.retry_gaps),
            "timeout": self.timeout,
            "queue_limit": self.queue_limit,
            "duplicate": self.duplicate,
            "out_of_order": self.out_of_order,
        }


@dataclass(slots=True)
class Attempt:
    """One POST of a notification and what came of it."""

    number: int
    at: float  # mock time the attempt was sent
    status: int | None  # None: no answer (timeout, refused, ...)
    error: str | None
    duration_ms: float
    json_reply: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
            "json_reply": self.json_reply,
        }


@dataclass(slots=True)
class Notification:
    """One notification and its deliveries: the same ``noticeId`` on every attempt."""

    id: int
    vendor: str
    tenant: str
    agent: str
    channel: str | None
    url: str
    secret: str
    event: int | str
    notice_id: str
    sid: str
    payload: dict[str, Any]
    created: float
    max_attempts: int
    state: str = "pending"  # pending | sending | delivered | failed
    next_at: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    round_start: int = 0  # attempts made before the last "send again"
    headers: dict[str, str] = field(default_factory=dict)  # sent as they are (bitHuman session events)
    flavor: str = "agora"  # agora | bithuman_session | bithuman_account
    gaps: tuple[float, ...] | None = None  # retry gaps of this notification (None: the settings')
    webhook_id: str | None = None  # the bitHuman account webhook it was sent to
    waiters: list[Callable[[Notification], None]] = field(default_factory=list)  # told when it is finished

    def render(self, now: float) -> tuple[bytes, dict[str, str]]:
        """The exact bytes and headers of an attempt sent at ``now`` (fresh ``notifyMs``, fresh signatures)."""
        if self.flavor == "bithuman_session":
            return dumps(self.payload), {"Content-Type": "application/json", **self.headers}
        if self.flavor == "bithuman_account":
            body, timestamp = dumps(self.payload), str(int(now))
            return body, {
                "Content-Type": "application/json",
                "X-BitHuman-Event": str(self.event),
                "X-BitHuman-Delivery": self.notice_id,
                "X-BitHuman-Timestamp": timestamp,
                "X-BitHuman-Signature": bithuman_signature(self.secret, timestamp, body),
            }
        body = dumps(
            {
                "noticeId": self.notice_id,
                "productId": AGORA_PRODUCT_ID,
                "eventType": self.event,
                "notifyMs": int(round(now * 1000)),
                "sid": self.sid,
                "payload": self.payload,
            }
        )
        sha1, sha256 = agora_signatures(self.secret, body)
        headers = {"Content-Type": "application/json", "Agora-Signature": sha1, "Agora-Signature-V2": sha256}
        return body, headers

    def retry_gaps(self, default: Sequence[float]) -> Sequence[float]:
        """The gaps before each retry: its own, or ``default`` (the settings')."""
        return self.gaps if self.gaps is not None else default

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vendor": self.vendor,
            "tenant": self.tenant,
            "agent": self.agent,
            "channel": self.channel,
            "url": self.url,
            "event": self.event,
            "notice_id": self.notice_id,
            "state": self.state,
            "created": self.created,
            "next_at": self.next_at if self.state == "pending" else None,
            "attempts": [a.to_dict() for a in self.attempts],
            "payload": self.payload,
        }
