"""bitHuman handles: ``mockserver.bithuman`` makes accounts; an ``Agent`` says what it was told."""

from __future__ import annotations

from secrets import token_hex
from typing import Any

from ..client import ControlClient, Event
from .common import Expected, Tenants, expect

__all__ = ["Account", "Agent", "BitHuman"]


class BitHuman:
    """Makes bitHuman tenants: each call is a new account with an api-secret of its own."""

    def __init__(self, client: ControlClient, tenants: Tenants) -> None:
        self.client, self._tenants = client, tenants

    def account(
        self, *, agents: Any = (), secrets: list[str] | None = None, dialect: str | None = None, rate_limit: Any = None
    ) -> Account:
        """A fresh account; ``agents`` as in the control plane (``[{"code": ..., "rooms": [...]}]``)."""
        tenant = self._tenants.new_id()
        body: dict[str, Any] = {"id": tenant, "secrets": secrets or [f"sk_{token_hex(16)}"], "agents": list(agents)}
        if dialect is not None:
            body["dialect"] = dialect
        if rate_limit is not None:
            body["rate_limit"] = rate_limit
        raw = self.client.create_bithuman_account(body)
        self._tenants.adopt(tenant)
        return Account(self.client, raw, self._tenants)

    def agent(self, code: str | None = None, *, rooms: Any = ("room-1",), **account: Any) -> Agent:
        """A fresh account with one agent in ``rooms`` (active; ``{"id", "active": False}`` for a closed one)."""
        spec = {"rooms": list(rooms), **({"code": code} if code else {})}
        return self.account(agents=[spec], **account).agents[0]

    def get_account(self, account_id: str) -> Account:
        """An account that exists already (from a fixture file, say).

        Changing it (``update``, ``agent``, opening or closing rooms) makes it one of the test's
        tenants: reset to its start-up definition when the test ends.
        """
        return Account(self.client, self.client.get_bithuman_account(account_id), self._tenants)


class Account:
    """A bitHuman account: ``.id``, ``.api_secret`` (``.secrets``), ``.agents``."""

    def __init__(self, client: ControlClient, raw: dict[str, Any], tenants: Tenants | None = None) -> None:
        self.client = client
        self._tenants = tenants
        self.id: str = raw["id"]
        self.secrets: list[str] = list(raw["secrets"])
        self.agents = [Agent(self, a["code"]) for a in raw.get("agents", ())]

    @property
    def api_secret(self) -> str:
        return self.secrets[0]

    def _changing(self) -> None:
        # A change to a tenant the test did not make (a fixture's) is undone by resetting it.
        if self._tenants is not None:
            self._tenants.adopt(self.id)

    def agent(self, code: str | None = None, *, rooms: Any = ("room-1",)) -> Agent:
        """Add an agent to this account."""
        self._changing()
        body = {"rooms": list(rooms), **({"code": code} if code else {})}
        agent = Agent(self, self.client.create_bithuman_agent(self.id, body)["code"])
        self.agents.append(agent)
        return agent

    def get_agent(self, code: str) -> Agent:
        return next((a for a in self.agents if a.code == code), None) or Agent(self, code)

    def update(self, **changes: Any) -> dict[str, Any]:
        """Change ``secrets``, ``dialect`` or ``rate_limit`` (``None`` clears the last two)."""
        self._changing()
        raw = self.client.update_bithuman_account(self.id, **changes)
        self.secrets = list(raw["secrets"])
        return raw

    def events(self, **filters: Any) -> list[Event]:
        return self.client.list_inbox(tenant=self.id, **filters)


class Agent:
    """A bitHuman agent: ``.code``, ``.api_secret``; what it was told, and assertions on it."""

    def __init__(self, account: Account, code: str) -> None:
        self.account, self.code = account, code
        self.client = account.client

    @property
    def api_secret(self) -> str:
        return self.account.api_secret

    @property
    def headers(self) -> dict[str, str]:
        """Its account's credentials as request headers (``api-secret``)."""
        return {"api-secret": self.api_secret}

    @property
    def rooms(self) -> list[str]:
        """The ids of its active rooms."""
        return [r["id"] for r in self.client.get_bithuman_agent(self.account.id, self.code)["rooms"] if r["active"]]

    def open_room(self, room_id: str | None = None) -> str:
        """Open (or re-open) a room; returns its id (generated when not given)."""
        self.account._changing()
        return str(self.client.open_bithuman_room(self.account.id, self.code, room_id or None)["id"])

    def close_room(self, room_id: str) -> None:
        """Close a room: deliveries stop reaching it."""
        self.account._changing()
        self.client.close_bithuman_room(self.account.id, self.code, room_id)

    def events(self, *, kind: str | None = None, room: str | None = None) -> list[Event]:
        """What it received, oldest first."""
        return self.client.list_inbox(tenant=self.account.id, agent=self.code, kind=kind, room=room)

    def said(self, room: str | None = None) -> list[str]:
        """The texts it was told to speak (in ``room``, or in any), in order."""
        return [e.text for e in self.events(kind="speech", room=room)]

    def context(self, room: str | None = None) -> list[str]:
        """The background context it received, in order."""
        return [e.text for e in self.events(kind="context", room=room)]

    def _who(self, room: str | None) -> str:
        return f"bitHuman agent {self.code!r} (account {self.account.id!r}{f', room {room!r}' if room else ''})"

    def assert_said(self, *expected: Expected, room: str | None = None) -> None:
        """Assert it was told to say these (strings, or ``re`` patterns), in this order, among others."""
        __tracebackhide__ = True
        expect(self._who(room), ("say", "said"), expected, self.said(room), self.events())

    def assert_context(self, *expected: Expected, room: str | None = None) -> None:
        """Assert it received this background context, in this order, among other context."""
        __tracebackhide__ = True
        expect(self._who(room), ("receive as context", "received"), expected, self.context(room), self.events())

    def assert_silent(self, room: str | None = None) -> None:
        """Assert it was told to say nothing."""
        __tracebackhide__ = True
        expect(self._who(room), ("say", "said"), (), self.said(room), self.events())
