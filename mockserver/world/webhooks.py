"""Vendor webhooks: who is subscribed, what each inbox event notifies, and every delivery attempt.

Pure Python, like the rest of the world: ``WebhookWorld`` turns inbox events into notifications
(``notifications.py`` says what they look like on the wire), keeps them in a bounded queue with
their retry schedule on the mock clock, and records every attempt. Sending them over HTTP is
``mockserver.webhooks``'s job.

Our choices where the vendor is silent: ``noticeId`` is ``"<sequence>:<project number>:<eventType>"``
(the documented three-number shape); 104 fires ``TOKEN_WARNING_S`` before the RTC token's expiry;
one session's notifications are sent one at a time, in order.
"""

from __future__ import annotations

import itertools
import threading
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .agora import AgoraAgent, parse_access_token
from .errors import DomainError, ErrorCode
from .inbox import Event
from .notifications import (
    AGORA_EVENTS,
    AGORA_PRODUCT_ID,
    AGORA_RETRY_GAPS,
    BITHUMAN_RETRY_GAPS,
    BITHUMAN_SESSION_EVENTS,
    Attempt,
    BitHumanSubscription,
    BitHumanWebhook,
    Notification,
    Settings,
    Subscription,
    agora_signatures,
    bithuman_session_id,
    bithuman_signature,
    session_id,
)

if TYPE_CHECKING:
    from . import World

__all__ = [
    "AGORA_EVENTS",
    "AGORA_PRODUCT_ID",
    "AGORA_RETRY_GAPS",
    "BITHUMAN_SESSION_EVENTS",
    "Attempt",
    "BitHumanSubscription",
    "BitHumanWebhook",
    "Notification",
    "Settings",
    "Subscription",
    "WebhookWorld",
    "agora_signatures",
    "bithuman_session_id",
    "bithuman_signature",
    "report_agora_error",
    "session_id",
]

RECORDS_KEPT = 1000  # finished deliveries kept for the control plane
TOKEN_WARNING_S = 30.0  # 104 is sent this long before the agent's RTC token expires (our choice)

# facts §2.3: the only documented status / message pairs of 102.
STOP_MESSAGES = {
    "leave": "OK",
    "idle timeout": "Idle for too long",
    "session time limit (72 h)": "Task lifetime limit exceeded",
}
FAILED_MESSAGES = ("Connecting for too long", "RTC connection error")
TOKEN_MESSAGE = "Task exceeded maximum lifetime"  # facts §7.8: copied as documented
CALL_STATES = {  # inbox call outcome -> the NCS state(s) it reports
    "dialled": ("START", "CALLING"),
    "ringing": ("START",),
    "answered": ("ANSWERED",),
    "hung_up": ("HANGUP",),
    "failed": ("HANGUP",),
}


class WebhookWorld:
    """Subscriptions, the bounded queue of notifications and the record of deliveries.

    ``on_event`` is the inbox listener (it runs in whichever thread records the event, under the
    world lock); ``due``, ``begin`` and ``finish`` are the sender's side; ``tick`` replays what fell
    due on the clock, so events happen even when nobody reads the world.
    """

    def __init__(self, world: World) -> None:
        self._world = world
        self._lock = threading.RLock()
        self.settings = Settings()
        self.subscriptions: dict[str, Subscription] = {}  # appid -> its project's webhook
        self.bithuman: dict[str, BitHumanSubscription] = {}  # account id -> its session webhook
        self.account_hooks: dict[str, dict[str, BitHumanWebhook]] = {}  # account id -> id -> webhook
        self.notifications: dict[int, Notification] = {}  # pending and finished, bounded
        self._open: dict[int, Notification] = {}  # pending or sending: the queue (the API adds to it cheaply)
        self._finished: deque[int] = deque()
        self._ids = itertools.count(1)
        self._notices = itertools.count(1)
        self.dropped = 0
        self.delivered = 0
        self.failed = 0
        self._stop_reasons: dict[str, str] = {}  # agent id -> why it is STOPPING
        self._token_warned: dict[str, str] = {}  # agent id -> the token already warned about
        # Set by the sender: told when a notification is queued (must not block) or a webhook is set.
        self.wake: Callable[[], None] = lambda: None
        self.activate: Callable[[], None] = lambda: None

    # -- subscriptions ---------------------------------------------------------------------------

    def set_agora(self, appid: str, url: str, secret: str, events: list[int] | None = None) -> Subscription:
        """Subscribe a project's webhook (replacing any). No ``events``: all nine."""
        project = self._world.agora.get_project(appid)
        chosen = sorted(set(events)) if events else list(AGORA_EVENTS)
        unknown = [e for e in chosen if e not in AGORA_EVENTS]
        if unknown:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"unknown event types {unknown}: Agora sends {list(AGORA_EVENTS)}",
                field="events",
            )
        if not url.startswith(("http://", "https://")):
            raise DomainError(ErrorCode.INVALID_FIELD, f"url {url!r} is not an http(s) URL", field="url")
        with self._lock:
            sub = self.subscriptions[appid] = Subscription(appid, project.customer_id, url, secret, chosen)
        self.activate()
        return sub

    def get_agora(self, appid: str) -> Subscription:
        with self._lock:
            sub = self.subscriptions.get(appid)
        if sub is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"project {appid!r} has no webhook")
        return sub

    def delete_agora(self, appid: str) -> None:
        with self._lock:
            if self.subscriptions.pop(appid, None) is None:
                raise DomainError(ErrorCode.NOT_FOUND, f"project {appid!r} has no webhook")

    def set_bithuman(
        self, account_id: str, url: str, headers: dict[str, str] | None = None, events: list[str] | None = None
    ) -> BitHumanSubscription:
        """Subscribe an account's session webhook (replacing any). No ``events``: both."""
        self._world.bithuman.get_account(account_id)
        chosen = [e for e in BITHUMAN_SESSION_EVENTS if e in events] if events else list(BITHUMAN_SESSION_EVENTS)
        unknown = sorted(set(events or ()) - set(BITHUMAN_SESSION_EVENTS))
        if unknown:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"unknown events {unknown}: sessions send {list(BITHUMAN_SESSION_EVENTS)}",
                field="events",
            )
        if not url.startswith(("http://", "https://")):
            raise DomainError(ErrorCode.INVALID_FIELD, f"url {url!r} is not an http(s) URL", field="url")
        with self._lock:
            sub = self.bithuman[account_id] = BitHumanSubscription(account_id, url, dict(headers or {}), chosen)
        self.activate()
        return sub

    def get_bithuman(self, account_id: str) -> BitHumanSubscription:
        with self._lock:
            sub = self.bithuman.get(account_id)
        if sub is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"account {account_id!r} has no session webhook")
        return sub

    def delete_bithuman(self, account_id: str) -> None:
        with self._lock:
            if self.bithuman.pop(account_id, None) is None:
                raise DomainError(ErrorCode.NOT_FOUND, f"account {account_id!r} has no session webhook")

    def forget_tenant(self, tenant: str) -> None:
        with self._lock:
            self.bithuman.pop(tenant, None)
            self.account_hooks.pop(tenant, None)
            for appid in [a for a, s in self.subscriptions.items() if s.customer_id == tenant]:
                del self.subscriptions[appid]

    @property
    def active(self) -> bool:
        """Whether any webhook is configured (the sender's ticker runs only then)."""
        return bool(self.subscriptions or self.bithuman or self.account_hooks)

    def update_settings(self, changes: dict[str, Any]) -> Settings:
        with self._lock:
            s = self.settings
            if "retry_gaps" in changes:
                gaps = [float(g) for g in changes["retry_gaps"]]
                if any(g < 0 for g in gaps):
                    raise DomainError(ErrorCode.INVALID_FIELD, "retry gaps must not be negative", field="retry_gaps")
                s.retry_gaps = gaps
            for key in ("timeout", "queue_limit", "duplicate", "out_of_order"):
                if key in changes:
                    setattr(s, key, changes[key])
            return s

    def clear(self) -> None:
        """Forget subscriptions, queued notifications, records and counts (a full reset)."""
        with self._lock:
            self.subscriptions.clear()
            self.bithuman.clear()
            self.account_hooks.clear()
            self.notifications.clear()
            self._open.clear()
            self._finished.clear()
            self._stop_reasons.clear()
            self._token_warned.clear()
            self.dropped = self.delivered = self.failed = 0
            self.settings = Settings()

    # -- inbox events -> notifications ---------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """The inbox listener: queue the notifications an event causes, if its project subscribed."""
        if event.vendor == "bithuman" and event.kind == "speech" and event.tenant in self.bithuman:
            self._chat_push(event)
            return
        if event.vendor != "agora" or event.kind == "webhook" or not self.subscriptions:
            return
        appid = event.data.get("appid")
        sub = self.subscriptions.get(appid) if isinstance(appid, str) else None
        if sub is None or sub.customer_id != event.tenant:
            return
        project = self._world.agora.projects.get(sub.appid)
        agent = project.agents.get(event.agent) if project is not None else None
        if agent is None:
            return
        for event_type, payload in self._agora_payloads(event, agent):
            if event_type in sub.events:
                self._queue(sub, agent, event_type, payload, event.time)

    def _agora_payloads(self, event: Event, agent: AgoraAgent) -> list[tuple[int, dict[str, Any]]]:
        conv = agent.conversation
        base: dict[str, Any] = {"agent_id": agent.agent_id, "name": agent.name, "channel": agent.channel}
        labels = agent.properties.get("labels")
        if labels:
            base["labels"] = labels  # facts §2.1: echoed in every notification when given at start
        start_ts = int(agent.created)
        key = (event.kind, event.outcome)
        if key == ("lifecycle", "RUNNING"):
            return [(101, {**base, "start_ts": start_ts})]
        if key == ("lifecycle", "STOPPING"):
            self._stop_reasons[agent.agent_id] = str(event.data.get("reason", "leave"))
            return []
        if key in (("lifecycle", "STOPPED"), ("lifecycle", "FAILED")):
            stop_ts = int(event.time)
            if event.outcome == "FAILED":
                message = str(event.data.get("message", ""))
                status, message = "FAILED", message if message in FAILED_MESSAGES else FAILED_MESSAGES[0]
            else:
                status = "STOPPED"
                message = STOP_MESSAGES.get(self._stop_reasons.pop(agent.agent_id, "leave"), "OK")
            contents = list(conv.history)
            turns = sorted(conv.turns, key=lambda t: t.turn_id)
            metrics = [
                {
                    "turn_id": t.turn_id,
                    "asr_ttlw": 200 if t.start_type == "voice_input" else 0,
                    "llm_ttfb": max(0, t.latency_ms - 350) if t.start_type == "voice_input" else 0,
                    "llm_ttfs": max(0, t.latency_ms - 150) if t.start_type == "voice_input" else 0,
                    "tts_ttfb": 150,
                }
                for t in turns
            ]
            turn_records = [t.to_dict(agent.agent_id, agent.channel) for t in turns[-200:]]
            # Session-end order (facts §7.14): 102, then 103 history, 111 metrics, 112 turns.
            return [
                (102, {**base, "start_ts": start_ts, "stop_ts": stop_ts, "status": status, "message": message}),
                (103, {**base, "start_ts": start_ts, "stop_ts": stop_ts, "contents": contents}),
                (111, {**base, "start_ts": start_ts, "stop_ts": stop_ts, "metrics": metrics}),
                (
                    112,
                    {
                        **base,
                        "start_ts": int(round(agent.created * 1000)),  # facts §7.6: ms in 112
                        "stop_ts": int(round(event.time * 1000)),
                        "total_turn_count": len(turns),
                        "is_truncated": len(turns) > 200,
                        "turns": turn_records,
                    },
                ),
            ]
        if key == ("token", "expiring"):
            # facts §2.2: 104 lists no labels.
            payload = {"agent_id": agent.agent_id, "name": agent.name, "start_ts": start_ts, "channel": agent.channel}
            return [(104, {**payload, "message": TOKEN_MESSAGE})]
        if event.kind == "error":
            errors = [{k: event.data[k] for k in ("module", "turn_id", "code", "message") if k in event.data}]
            return [(110, {**base, "start_ts": start_ts, "turn_id": event.data.get("turn_id", ""), "errors": errors})]
        if event.kind == "call" and event.outcome in CALL_STATES:
            inbound = event.data.get("type") == "inbound"
            states = list(CALL_STATES[event.outcome])
            if event.outcome == "dialled" and self._callee_rings(agent):
                states.append("RINGING")
            report_ms = int(round(event.time * 1000))
            return [(201 if inbound else 202, {**base, "state": s, "report_ms": report_ms}) for s in states]
        return []

    # -- bitHuman session events -----------------------------------------------------------------

    def room_opened(self, account_id: str, agent_code: str, room_id: str, opened_at: float) -> None:
        """``room.join``: a conversation starts in a room (called by the bitHuman world)."""
        sub = self.bithuman.get(account_id)
        if sub is None or "room.join" not in sub.events:
            return
        session = bithuman_session_id(account_id, agent_code, room_id, opened_at)
        data = {"room_name": room_id, "participant_count": 2, "session_id": session}  # the agent and its avatar
        body = {"agent_id": agent_code, "event_type": "room.join", "data": data, "timestamp": opened_at}
        self._queue_bithuman(sub, agent_code, room_id, "room.join", body, session, opened_at)

    def _chat_push(self, event: Event) -> None:
        sub = self.bithuman.get(event.tenant)
        if sub is None or "chat.push" not in sub.events or event.room is None:
            return
        account = self._world.bithuman.accounts.get(event.tenant)
        agent = account.agents.get(event.agent) if account is not None else None
        room = agent.rooms.get(event.room) if agent is not None else None
        if room is None:
            return
        session = bithuman_session_id(event.tenant, event.agent, room.id, room.opened_at)
        data = {"role": "assistant", "message": event.text, "session_id": session, "timestamp": event.time}
        body = {"agent_id": event.agent, "event_type": "chat.push", "data": data, "timestamp": event.time}
        self._queue_bithuman(sub, event.agent, room.id, "chat.push", body, session, event.time)

    def _queue_bithuman(
        self,
        sub: BitHumanSubscription,
        agent_code: str,
        room_id: str,
        event_type: str,
        body: dict[str, Any],
        session: str,
        at: float,
    ) -> None:
        with self._lock:
            if self._queued() >= self.settings.queue_limit:
                self.dropped += 1
                return
            n = Notification(
                id=next(self._ids),
                vendor="bithuman",
                tenant=sub.account_id,
                agent=agent_code,
                channel=room_id,
                url=sub.url,
                secret="",
                event=event_type,
                notice_id="",
                sid=session,
                payload=body,
                created=at,
                max_attempts=1,  # facts §6.2: one attempt, no retries
                next_at=at,
                headers=dict(sub.headers),
                flavor="bithuman_session",
            )
            self.notifications[n.id] = self._open[n.id] = n
        self.wake()

    # -- bitHuman account webhooks (the /v1/webhooks API) ---------------------------------------

    def bithuman_create_webhook(self, account_id: str, body: dict[str, Any]) -> BitHumanWebhook:
        url = str(body["url"])
        if not url.startswith(("http://", "https://")):
            raise DomainError(ErrorCode.INVALID_FIELD, f"url must be an https URL, not {url!r}", field="url")
        events = list(dict.fromkeys(body.get("events") or ()))
        ids = self._world.ids
        hook = BitHumanWebhook(
            id=str(uuid.UUID(ids.token("0123456789abcdef", 32), version=4)),
            account_id=account_id,
            url=url,
            events=events,
            description=body.get("description"),
            secret="whsec_" + ids.token("0123456789abcdef", 32),
            created=self._world.clock.now(),
        )
        with self._lock:
            self.account_hooks.setdefault(account_id, {})[hook.id] = hook
        self.activate()
        return hook

    def bithuman_list_webhooks(self, account_id: str) -> list[BitHumanWebhook]:
        with self._lock:
            return list(self.account_hooks.get(account_id, {}).values())

    def bithuman_get_webhook(self, account_id: str, webhook_id: str) -> BitHumanWebhook:
        with self._lock:
            hook = self.account_hooks.get(account_id, {}).get(webhook_id)
        if hook is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"Webhook not found: {webhook_id}", webhook_id=webhook_id)
        return hook

    def bithuman_delete_webhook(self, account_id: str, webhook_id: str) -> None:
        with self._lock:
            self.bithuman_get_webhook(account_id, webhook_id)
            del self.account_hooks[account_id][webhook_id]

    def bithuman_test_webhook(
        self, account_id: str, webhook_id: str, waiter: Callable[[Notification], None]
    ) -> Notification:
        """Queue a ``ping`` to the webhook: one attempt (our choice), ``waiter`` told of its outcome."""
        hook = self.bithuman_get_webhook(account_id, webhook_id)
        data = {"webhook_id": hook.id, "message": "This is a test event from bitHuman."}
        n = self._queue_account(hook, "ping", data, max_attempts=1, waiter=waiter)
        if n is None:
            raise DomainError(ErrorCode.UNAVAILABLE, "the webhook queue is full")
        return n

    def bithuman_list_webhook_deliveries(self, account_id: str, webhook_id: str) -> list[Notification]:
        self.bithuman_get_webhook(account_id, webhook_id)
        with self._lock:
            found = [n for n in self.notifications.values() if n.webhook_id == webhook_id]
        return found[::-1]

    def account_event(self, account_id: str, event: str, data: dict[str, Any]) -> None:
        """An account event (``agent.ready``, ``agent.failed``) for every webhook that wants it."""
        for hook in self.bithuman_list_webhooks(account_id):
            if hook.active and (not hook.events or event in hook.events):
                self._queue_account(hook, event, data, max_attempts=1 + len(BITHUMAN_RETRY_GAPS))

    def _queue_account(
        self,
        hook: BitHumanWebhook,
        event: str,
        data: dict[str, Any],
        max_attempts: int,
        waiter: Callable[[Notification], None] | None = None,
    ) -> Notification | None:
        now = self._world.clock.now()
        with self._lock:
            if self._queued() >= self.settings.queue_limit:
                self.dropped += 1
                return None
            number = next(self._ids)
            delivery = f"evt_{number:012x}"
            n = Notification(
                id=number,
                vendor="bithuman",
                tenant=hook.account_id,
                agent=str(data.get("agent_id", "")),
                channel=None,
                url=hook.url,
                secret=hook.secret,
                event=event,
                notice_id=delivery,
                sid=delivery,  # account events do not wait for each other
                payload={"id": delivery, "event": event, "created": int(now), "data": data},
                created=now,
                max_attempts=max_attempts,
                next_at=now,
                flavor="bithuman_account",
                gaps=BITHUMAN_RETRY_GAPS,
                webhook_id=hook.id,
                waiters=[waiter] if waiter is not None else [],
            )
            self.notifications[n.id] = self._open[n.id] = n
        self.wake()
        return n

    def _queued(self) -> int:
        return len(self._open)

    def _callee_rings(self, agent: AgoraAgent) -> bool:
        call = self._world.telephony.calls.get(agent.appid, {}).get(agent.agent_id)
        return call is None or call.fail_why != "busy"

    def _queue(self, sub: Subscription, agent: AgoraAgent, event_type: int, payload: dict[str, Any], at: float) -> None:
        with self._lock:
            pending = self._queued()
            copies = 2 if self.settings.duplicate else 1
            for _ in range(copies):
                if pending >= self.settings.queue_limit:
                    self.dropped += 1
                    continue
                pending += 1
                notice = f"{2000000000 + next(self._notices)}:{zlib.crc32(sub.appid.encode()) % 10000}:{event_type}"
                n = Notification(
                    id=next(self._ids),
                    vendor="agora",
                    tenant=sub.customer_id,
                    agent=agent.agent_id,
                    channel=agent.channel,
                    url=sub.url,
                    secret=sub.secret,
                    event=event_type,
                    notice_id=notice,
                    sid=session_id(agent.agent_id),
                    payload=payload,
                    created=at,
                    max_attempts=1 + len(self.settings.retry_gaps),
                    next_at=at,
                )
                if copies == 2 and _ == 1:
                    n.notice_id = self.notifications[n.id - 1].notice_id  # the same notification, twice
                self.notifications[n.id] = self._open[n.id] = n
        self.wake()

    def check_agora(self, appid: str, waiter: Callable[[Notification], None]) -> list[Notification]:
        """The Console's "Check": one test notification per subscribed event, one attempt each.

        Facts §7.15 (inferred): the payload names channel ``test_webhook``; each must get 200 with a
        JSON body within the timeout. ``waiter`` is told as each one finishes.
        """
        sub = self.get_agora(appid)
        now = self._world.clock.now()
        sent: list[Notification] = []
        with self._lock:
            for event_type in sub.events:
                number = next(self._ids)
                n = Notification(
                    id=number,
                    vendor="agora",
                    tenant=sub.customer_id,
                    agent="test_webhook",
                    channel="test_webhook",
                    url=sub.url,
                    secret=sub.secret,
                    event=event_type,
                    notice_id=f"{2000000000 + next(self._notices)}:{zlib.crc32(appid.encode()) % 10000}:{event_type}",
                    sid=f"CHECK{number:011d}",  # each its own lane: the checks go out together
                    payload={"agent_id": "test_webhook", "name": "test_webhook", "channel": "test_webhook"},
                    created=now,
                    max_attempts=1,
                    next_at=now,
                    waiters=[waiter],
                )
                self.notifications[n.id] = self._open[n.id] = n
                sent.append(n)
        self.wake()
        return sent

    # -- the clock -------------------------------------------------------------------------------

    def tick(self) -> None:
        """Replay what fell due on the clock in every live conversation and call, and warn of tokens."""
        world = self._world
        with world.lock:
            now = world.clock.now()
            for appid, sub in list(self.subscriptions.items()):
                project = world.agora.projects.get(appid)
                if project is None or project.customer_id != sub.customer_id:
                    with self._lock:  # its project was deleted: nothing will notify it again
                        self.subscriptions.pop(appid, None)
            for project in list(world.agora.projects.values()):
                if project.appid not in self.subscriptions:
                    continue
                for agent in list(project.agents.values()):
                    if not agent.conversation.live:
                        continue
                    call = world.telephony.calls.get(project.appid, {}).get(agent.agent_id)
                    if call is not None:
                        world.telephony.get_call(project, agent.agent_id)
                    else:
                        agent.conversation.advance(now)
                    self._check_token(agent, now)

    def _check_token(self, agent: AgoraAgent, now: float) -> None:
        token = str(agent.properties.get("token") or "")
        if agent.conversation.status != "RUNNING" or not token or self._token_warned.get(agent.agent_id) == token:
            return
        try:
            parsed = parse_access_token(token)
        except ValueError:
            return  # not an AccessToken2: the world does not know when it expires
        expiry = parsed["issue_ts"] + parsed["expire"]
        if now >= expiry - TOKEN_WARNING_S:
            self._token_warned[agent.agent_id] = token
            agent.conversation.emit(
                kind="token", text="RTC token expiring", outcome="expiring", time=now, data={"expires": expiry}
            )

    # -- the sender's side -----------------------------------------------------------------------

    def due(self, now: float) -> list[Notification]:
        """Notifications whose next attempt is due at ``now``; they are marked ``sending``."""
        with self._lock:
            waiting = [n for n in self._open.values() if n.state == "pending" and n.next_at <= now]
            if self.settings.out_of_order:
                found = waiting[::-1]  # chaos: newest first, nothing waits for anything
            else:
                # One session's notifications go one at a time, in the order they happened (facts
                # §7.14); other sessions never wait for it. A retry may come after later ones.
                busy = {n.sid for n in self._open.values() if n.state == "sending"}
                found = []
                for n in waiting:
                    if n.sid not in busy:
                        busy.add(n.sid)
                        found.append(n)
            for n in found:
                n.state = "sending"
            return found

    def finish(self, notification: Notification, attempt: Attempt) -> None:
        """Record an attempt: delivered, or retried after the next gap, or failed for good."""
        n = notification
        with self._lock:
            n.attempts.append(attempt)
            if attempt.ok or (
                n.flavor == "bithuman_account" and attempt.status is not None and 200 <= attempt.status < 300
            ):
                n.state = "delivered"
                self.delivered += 1
            elif (tried := attempt.number - n.round_start) < n.max_attempts and tried <= len(
                gaps := n.retry_gaps(self.settings.retry_gaps)
            ):
                n.state = "pending"
                n.next_at = attempt.at + gaps[tried - 1]
            else:
                n.state = "failed"
                self.failed += 1
            if n.state in ("delivered", "failed"):
                self._open.pop(n.id, None)
                self._finished.append(n.id)
                while len(self._finished) > RECORDS_KEPT:
                    self.notifications.pop(self._finished.popleft(), None)
            state = n.state
        outcome = {"pending": "retrying"}.get(state, state)
        self._world.inbox.record(
            time=attempt.at,
            vendor=n.vendor,
            tenant=n.tenant,
            agent=n.agent,
            room=n.channel,
            kind="webhook",
            text=f"{n.event} -> {n.url}",
            operation="",
            outcome=outcome,
            data={"delivery": n.id, "notice_id": n.notice_id, "event": n.event, "url": n.url, **attempt.to_dict()},
        )
        if state in ("delivered", "failed"):
            for waiter in n.waiters:
                waiter(n)
        self.wake()  # the next of its session, or its retry, may be due now

    def resend(self, notification_id: int) -> Notification:
        """Send a finished notification again (the same ``noticeId``), with a full set of retries."""
        with self._lock:
            n = self.notifications.get(notification_id)
            if n is None:
                raise DomainError(ErrorCode.NOT_FOUND, f"no webhook delivery {notification_id}")
            if n.state in ("pending", "sending"):
                raise DomainError(ErrorCode.CONFLICT, f"webhook delivery {notification_id} is still under way")
            n.state, n.next_at, n.round_start = "pending", self._world.clock.now(), len(n.attempts)
            self._open[n.id] = n
        self.wake()
        return n

    def list(
        self, *, tenant: str | None = None, event: int | str | None = None, state: str | None = None
    ) -> list[Notification]:
        with self._lock:
            return [
                n
                for n in self.notifications.values()
                if (tenant is None or n.tenant == tenant)
                and (event is None or str(n.event) == str(event))
                and (state is None or n.state == state)
            ]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "queued": len(self._open),
                "delivered": self.delivered,
                "failed": self.failed,
                "dropped": self.dropped,
            }


def report_agora_error(world: World, appid: str, agent_id: str, error: dict[str, Any]) -> AgoraAgent:
    """A module of a live agent reports an error (the control plane's way to cause a 110)."""
    with world.lock:
        agent = world.agora.agent(appid, agent_id)
        if not agent.conversation.live:
            raise DomainError(ErrorCode.CONFLICT, f"agent {agent_id} has already exited")
        data = {"module": error["module"], "turn_id": error.get("turn_id", ""), "code": error.get("code", 0)}
        data["message"] = error.get("message", "")
        agent.conversation.emit(
            kind="error", text=str(data["message"]), outcome="reported", time=world.clock.now(), data=data
        )
        return agent
