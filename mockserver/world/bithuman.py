"""bitHuman Agent Context API: accounts, agents, rooms and deliveries.

An account owns api-secrets and agents (``agent_code``); an agent has LiveKit rooms that are active
or closed. ``speak`` and ``add-context`` deliver to every active room of the agent, or to the one
``room_id``; every delivery is an inbox event. Agent codes are scoped to their account: an agent of
another account is "not found", as the vendor answers ("or the agent is not yours").
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from .credentials import digest as _digest
from .errors import DomainError, ErrorCode
from .ratelimit import WRITE_TIER_PER_MINUTE, Admission, TokenBucket

if TYPE_CHECKING:
    from . import World

__all__ = [
    "DELIVERY_OUTCOMES",
    "DIALECTS",
    "MAX_ACCOUNTS",
    "MAX_AGENTS",
    "MAX_ROOMS",
    "Account",
    "Agent",
    "BitHumanWorld",
    "Delivery",
    "Room",
]

VENDOR = "bithuman"
# The three generations of the vendor's docs (README, "bitHuman dialects"): ``current`` (the OpenAPI
# file and the Errors page), ``transitional`` (the page with the status/code table: flat bodies,
# per-case codes, 422) and ``legacy`` (the imaginex-era page: the {success, message, data} envelope).
DIALECTS = ("current", "transitional", "legacy")
CONTEXT_TYPES = ("add_context", "speak")
# What can come of a delivery, as data the coverage report reads (by request and error code).
DELIVERY_OUTCOMES = {
    "all rooms": None,
    "one room": None,
    "no active rooms": "no_active_rooms",
    "unknown agent": "agent_not_found",
    "rate limited": "rate_limited",
}
# Bounds of our choosing (arrangement goes through the control plane; the vendor has none to say):
# past them, creating answers 422, so a long-running mock never grows without limit.
MAX_ACCOUNTS = 10_000
MAX_AGENTS = 1000  # per account
MAX_ROOMS = 1000  # per agent, open or closed


@dataclass(slots=True)
class Room:
    id: str
    active: bool
    opened_at: float
    closed_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "active": self.active, "opened_at": self.opened_at, "closed_at": self.closed_at}


@dataclass(slots=True)
class Agent:
    code: str
    rooms: dict[str, Room] = field(default_factory=dict)

    def active_rooms(self) -> list[str]:
        return [r.id for r in self.rooms.values() if r.active]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "rooms": [r.to_dict() for r in self.rooms.values()]}


@dataclass(slots=True)
class Account:
    id: str
    secrets: list[str]
    digests: list[bytes] = field(default_factory=list)  # SHA-256 of each secret, computed once
    dialect: str | None = None
    rate_limit: TokenBucket | None = None
    agents: dict[str, Agent] = field(default_factory=dict)

    def to_dict(self, *, with_secrets: bool = True) -> dict[str, Any]:
        return {
            "id": self.id,
            "secrets": list(self.secrets) if with_secrets else [f"{s[:2]}***" for s in self.secrets],
            "dialect": self.dialect,
            "rate_limit": {"per_minute": self.rate_limit.per_minute} if self.rate_limit else None,
            "agents": [a.to_dict() for a in self.agents.values()],
        }


class Delivery(NamedTuple):
    """What ``speak`` / ``add-context`` did: which rooms got the text, and when.

    A named tuple rather than a frozen dataclass: one is made per delivery, and it is cheaper.
    """

    agent_code: str
    context_type: str
    rooms: list[str]
    time: float


class BitHumanWorld:
    """The bitHuman part of the world. Methods named after operations are the API's behaviour."""

    def __init__(self, world: World, default_dialect: str = "current") -> None:
        if default_dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}")
        self._world = world
        self._lock: threading.RLock = world.lock
        self.default_dialect = default_dialect
        self.accounts: dict[str, Account] = {}
        self._by_secret: dict[bytes, Account] = {}  # SHA-256 of a secret -> its account

    # -- the API's behaviour -------------------------------------------------------------------

    def authenticate(self, secret: str | None) -> Account:
        """The account an ``api-secret`` belongs to.

        The lookup is by SHA-256 digest and the final comparison is constant-time, so response
        times say nothing about how much of a guessed secret was right.
        """
        return self.account_for(self.credential_of(secret))

    def credential_of(self, secret: str | None) -> bytes:
        """What ``account_for`` looks an ``api-secret`` up by (its SHA-256 digest)."""
        if secret is None or secret == "":
            raise DomainError(ErrorCode.MISSING_AUTH, "Missing api-secret header")
        return _digest(secret)

    def account_for(self, digest: bytes) -> Account:
        """The account whose secret has this digest, as the world is now (``authenticate``'s second half).

        A request checks its credential twice, before and after its body arrives; the digest is
        computed once.
        """
        account = self._by_secret.get(digest)  # one read of a dict: no lock needed
        if account is not None:
            for known in account.digests:
                if hmac.compare_digest(digest, known):
                    return account
        raise DomainError(ErrorCode.UNAUTHORIZED, "Invalid api-secret")

    def dialect_of(self, account: Account | None, agent_code: str | None = None) -> str:
        """The dialect that answers: the account's own, else the server's.

        Without an account (no or a wrong ``api-secret``) the agent code in the path still says
        who is being addressed: when every account that has an agent of that code speaks the
        same dialect, that one answers, so a client of a legacy account sees its own envelope
        even for a 401. Otherwise (no such agent, or accounts that disagree) the server's does.
        """
        if account is not None:
            return account.dialect or self.default_dialect
        if agent_code is None:
            return self.default_dialect
        with self._lock:
            spoken = {
                owner.dialect or self.default_dialect for owner in self.accounts.values() if agent_code in owner.agents
            }
        return spoken.pop() if len(spoken) == 1 else self.default_dialect

    def admit(self, account: Account) -> Admission | None:
        """Take one token from the account's write bucket; ``None`` when it has no rate limit."""
        chaos = self._world.chaos
        forced = chaos.on_admit(account.id) if chaos.rules else None  # a rate_limit_burst scenario
        if forced is not None:
            raise DomainError(
                ErrorCode.RATE_LIMITED, f"Rate limit exceeded. Retry in {forced.retry_after} seconds.", admission=forced
            )
        bucket = account.rate_limit
        if bucket is None:
            return None
        with self._lock:
            admission = bucket.take(self._world.clock.now())
        if not admission.allowed:
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"Rate limit exceeded. Retry in {admission.retry_after} seconds.",
                admission=admission,
            )
        return admission

    def bithuman_speak(self, account: Account, agent_code: str, message: str, room_id: str | None) -> Delivery:
        """Make the agent say ``message`` in all its active rooms, or in ``room_id``."""
        return self._deliver(account, agent_code, message, room_id, "speak", "bithuman_speak")

    def bithuman_add_context(
        self, account: Account, agent_code: str, context: str, type: str | None, room_id: str | None
    ) -> Delivery:
        """Give the agent background ``context`` (or speech, when ``type`` is ``speak``)."""
        context_type = type or "add_context"
        if context_type not in CONTEXT_TYPES:
            raise DomainError(ErrorCode.INVALID, "Invalid type. Must be one of: speak, add_context", field="type")
        return self._deliver(account, agent_code, context, room_id, context_type, "bithuman_add_context")

    def _deliver(
        self, account: Account, agent_code: str, text: str, room_id: str | None, context_type: str, operation: str
    ) -> Delivery:
        with self._lock:
            agent = account.agents.get(agent_code)
            if agent is None:
                raise DomainError(
                    ErrorCode.AGENT_NOT_FOUND, f"Agent not found for code: {agent_code}", agent_code=agent_code
                )
            if room_id is None:
                rooms = agent.active_rooms()
            else:
                room = agent.rooms.get(room_id)
                rooms = [room_id] if room is not None and room.active else []
            if not rooms:
                # Our choice where the vendor is silent: a room_id that is not an active room of
                # the agent answers like "no active rooms" (the delivery would reach nobody).
                hint = f" (room_id {room_id!r} is not an active room of this agent)" if room_id else ""
                raise DomainError(
                    ErrorCode.NO_ACTIVE_ROOMS,
                    f"No active rooms found for agent {agent_code}{hint}",
                    agent_code=agent_code,
                    room_id=room_id,
                )
            now = self._world.clock.now()
        kind = "speech" if context_type == "speak" else "context"
        for room_name in rooms:
            self._world.inbox.record(
                time=now,
                vendor=VENDOR,
                tenant=account.id,
                agent=agent_code,
                room=room_name,
                kind=kind,
                text=text,
                operation=operation,
                outcome="delivered",
            )
        chaos = self._world.chaos
        if chaos.rules:
            chaos.on_delivery(account.id, agent_code, rooms)
        return Delivery(agent_code, context_type, rooms, now)

    # -- arrangement (control plane and fixtures) ----------------------------------------------

    def create_account(
        self,
        account_id: str | None = None,
        secrets: list[str] | None = None,
        dialect: str | None = None,
        rate_limit: int | str | None = None,
        agents: list[dict[str, Any]] | None = None,
        *,
        replace: bool = False,
    ) -> Account:
        """Create an account; ids and a secret are generated when not given.

        Raises ``conflict`` when the id exists (unless ``replace``) or a secret belongs to
        another account, ``invalid`` for an unknown dialect or rate limit.
        """
        ids = self._world.ids
        with self._lock:
            account_id = account_id or ids.account_id()
            if account_id in self.accounts and not replace:
                raise DomainError(
                    ErrorCode.CONFLICT, f"bitHuman account {account_id!r} already exists", account=account_id
                )
            if account_id not in self.accounts and len(self.accounts) >= MAX_ACCOUNTS:
                raise DomainError(ErrorCode.INVALID, f"the mock holds at most {MAX_ACCOUNTS} bitHuman accounts")
            if len(agents or ()) > MAX_AGENTS:
                raise DomainError(ErrorCode.INVALID, f"an account has at most {MAX_AGENTS} agents")
            secrets = list(secrets) if secrets else [ids.secret()]
            for secret in secrets:
                owner = self._by_secret.get(_digest(secret))
                if owner is not None and owner.id != account_id:
                    raise DomainError(
                        ErrorCode.CONFLICT, f"an api-secret of {account_id!r} already belongs to account {owner.id!r}"
                    )
            account = Account(id=account_id, secrets=[])
            self._set_dialect(account, dialect)
            self._set_rate_limit(account, rate_limit)
            if account_id in self.accounts:
                self.delete_account(account_id)
            self.accounts[account_id] = account
            self._set_secrets(account, secrets)
            for spec in agents or ():
                self.create_agent(account_id, spec.get("code"), spec.get("rooms", ()))
            return account

    def update_account(
        self,
        account_id: str,
        *,
        secrets: list[str] | None = None,
        dialect: str | None = None,
        rate_limit: int | str | None = None,
        fields: frozenset[str] = frozenset(),
    ) -> Account:
        """Change what ``fields`` names (``secrets``, ``dialect``, ``rate_limit``; ``None`` clears)."""
        with self._lock:
            account = self.get_account(account_id)
            if "secrets" in fields:
                for secret in secrets or ():
                    owner = self._by_secret.get(_digest(secret))
                    if owner is not None and owner.id != account_id:
                        raise DomainError(
                            ErrorCode.CONFLICT, f"that api-secret already belongs to account {owner.id!r}"
                        )
                self._set_secrets(account, list(secrets) if secrets else [self._world.ids.secret()])
            if "dialect" in fields:
                self._set_dialect(account, dialect)
            if "rate_limit" in fields:
                self._set_rate_limit(account, rate_limit)
            return account

    def _set_secrets(self, account: Account, secrets: list[str]) -> None:
        for old in account.secrets:
            self._by_secret.pop(_digest(old), None)
        account.secrets = secrets
        account.digests = [_digest(secret) for secret in secrets]
        for secret in secrets:
            self._by_secret[_digest(secret)] = account

    def _set_dialect(self, account: Account, dialect: str | None) -> None:
        if dialect is not None and dialect not in DIALECTS:
            raise DomainError(ErrorCode.INVALID, f"dialect must be one of: {', '.join(DIALECTS)}", field="dialect")
        account.dialect = dialect

    def _set_rate_limit(self, account: Account, rate_limit: int | str | None) -> None:
        if rate_limit is None:
            account.rate_limit = None
            return
        if isinstance(rate_limit, str):
            if rate_limit not in WRITE_TIER_PER_MINUTE:
                raise DomainError(
                    ErrorCode.INVALID,
                    f"rate_limit must be a number per minute or one of: {', '.join(WRITE_TIER_PER_MINUTE)}",
                    field="rate_limit",
                )
            rate_limit = WRITE_TIER_PER_MINUTE[rate_limit]
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int) or rate_limit < 1:
            raise DomainError(ErrorCode.INVALID, "rate_limit must be at least 1 per minute", field="rate_limit")
        account.rate_limit = TokenBucket(rate_limit, self._world.clock.now())

    def clear(self) -> None:
        with self._lock:
            self.accounts.clear()
            self._by_secret.clear()

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the accounts back as they are now (loading replaces them whole)."""
        accounts, by_secret = dict(self.accounts), dict(self._by_secret)

        def restore() -> None:
            _refill(self.accounts, accounts)
            _refill(self._by_secret, by_secret)

        return restore

    def get_account(self, account_id: str) -> Account:
        with self._lock:
            account = self.accounts.get(account_id)
        if account is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no bitHuman account {account_id!r}", account=account_id)
        return account

    def delete_account(self, account_id: str) -> None:
        with self._lock:
            account = self.get_account(account_id)
            for secret in account.secrets:
                self._by_secret.pop(_digest(secret), None)
            del self.accounts[account_id]

    def create_agent(self, account_id: str, code: str | None = None, rooms: Any = ()) -> Agent:
        """Add an agent; ``rooms`` are ids (active) or ``{id, active}`` mappings."""
        with self._lock:
            account = self.get_account(account_id)
            code = code or self._world.ids.agent_code()
            if code in account.agents:
                raise DomainError(ErrorCode.CONFLICT, f"agent {code!r} already exists in account {account_id!r}")
            if len(account.agents) >= MAX_AGENTS:
                raise DomainError(ErrorCode.INVALID, f"an account has at most {MAX_AGENTS} agents")
            agent = account.agents[code] = Agent(code=code)
            self._world.webhooks.account_event(account_id, "agent.ready", {"agent_id": code, "code": code})
            for room in rooms:
                if isinstance(room, str):
                    self.open_room(account_id, code, room)
                else:
                    opened = self.open_room(account_id, code, room.get("id"))
                    if room.get("active", True) is False:
                        self.close_room(account_id, code, opened.id)
            return agent

    def get_agent(self, account_id: str, code: str) -> Agent:
        with self._lock:
            agent = self.get_account(account_id).agents.get(code)
        if agent is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no agent {code!r} in account {account_id!r}", agent_code=code)
        return agent

    def delete_agent(self, account_id: str, code: str) -> None:
        with self._lock:
            self.get_agent(account_id, code)
            del self.accounts[account_id].agents[code]

    def open_room(self, account_id: str, code: str, room_id: str | None = None) -> Room:
        """Open (or re-open) a room of the agent: it becomes a live LiveKit session."""
        with self._lock:
            agent = self.get_agent(account_id, code)
            room_id = room_id or self._world.ids.room_id()
            room = agent.rooms.get(room_id)
            now = self._world.clock.now()
            if room is None:
                if len(agent.rooms) >= MAX_ROOMS:
                    raise DomainError(ErrorCode.INVALID, f"an agent has at most {MAX_ROOMS} rooms, open or closed")
                room = agent.rooms[room_id] = Room(id=room_id, active=True, opened_at=now)
            elif not room.active:
                room.active, room.opened_at, room.closed_at = True, now, None
            else:
                return room
            self._world.webhooks.room_opened(account_id, code, room_id, now)  # a conversation starts: room.join
            return room

    def close_room(self, account_id: str, code: str, room_id: str) -> Room:
        """Close a room: deliveries no longer reach it; it stays listed as closed."""
        with self._lock:
            agent = self.get_agent(account_id, code)
            room = agent.rooms.get(room_id)
            if room is None:
                raise DomainError(ErrorCode.NOT_FOUND, f"agent {code!r} has no room {room_id!r}", room_id=room_id)
            if room.active:
                room.active, room.closed_at = False, self._world.clock.now()
            return room


def _refill(live: dict[Any, Any], saved: dict[Any, Any]) -> None:
    # In place: whoever holds the dict sees the restored contents.
    live.clear()
    live.update(saved)
