"""The simulated world: tenants, agents, rooms, the inbox, the clock and the ids.

Pure Python: nothing here imports a web framework (a test enforces it), so the same world serves
HTTP handlers, the control plane, fixtures and direct use from tests. All state sits under one
re-entrant lock; the clock and the inbox are thread-safe on their own.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from .agora import AgoraWorld
from .bithuman import DIALECTS, BitHumanWorld
from .chaos import Chaos
from .clock import Clock, parse_instant
from .coverage import Coverage
from .errors import DomainError, ErrorCode
from .faults import Faults
from .ids import Ids
from .inbox import DEFAULT_INBOX_LIMIT, Event, Inbox
from .journal import DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_LIMIT, Journal
from .telephony import TelephonyWorld
from .webhooks import WebhookWorld

__all__ = ["DIALECTS", "Clock", "DomainError", "Event", "Ids", "Inbox", "World"]


class World:
    """Everything the mock knows.

    Args:
        seed: seed for generated ids (``None``: not reproducible).
        bithuman_dialect: the default bitHuman dialect, ``current``, ``transitional`` or ``legacy``.
        inbox_limit: events kept per tenant.
        journal_limit: requests kept in the request journal (0: no journal).
        journal_bytes: bytes the request journal may keep (its oldest entries go first).
        clock: a clock to share (a new real-time clock by default).
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        bithuman_dialect: str = "current",
        inbox_limit: int = DEFAULT_INBOX_LIMIT,
        journal_limit: int = DEFAULT_JOURNAL_LIMIT,
        journal_bytes: int = DEFAULT_JOURNAL_BYTES,
        clock: Clock | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.seed = seed
        self.ids = Ids(seed)
        self.inbox = Inbox(inbox_limit)
        self.journal = Journal(journal_limit, journal_bytes)
        self.faults = Faults(random.Random(seed))
        self.chaos = Chaos(self, random.Random(seed))
        self.coverage = Coverage()
        self.inbox.subscribe(self.coverage.observe)
        self.bithuman = BitHumanWorld(self, bithuman_dialect)
        self.agora = AgoraWorld(self)
        self.telephony = TelephonyWorld(self)
        self.webhooks = WebhookWorld(self)
        self.inbox.subscribe(self.webhooks.on_event)  # inbox events become vendor webhooks
        self.agora.customer_removed.append(self.telephony.clear)
        # Fixture documents applied at start-up; ``reset`` goes back to them.
        self._boot: list[dict[str, Any]] = []

    # -- fixtures ------------------------------------------------------------------------------

    def load(self, document: dict[str, Any], *, boot: bool = False, replace: bool = False) -> list[str]:
        """Apply a fixture document that was already validated (see ``mockserver.fixtures``).

        All or nothing: if any part fails (a conflict with the world as it is, a value out of
        range), the world is left exactly as it was and the ``DomainError`` propagates. Tenants
        the document names are replaced whole; ``replace`` empties the world first. With
        ``boot``, ``reset`` restores the document. Returns the tenant ids it defined.
        """
        with self.lock:
            # Loading replaces tenants whole (never mutates one in place), so copies of the
            # top-level tables are enough to undo it.
            undo = [
                self.bithuman.snapshot(),
                self.agora.snapshot(),
                self.telephony.snapshot(),
                self.faults.snapshot(),
                self.chaos.snapshot(),
                self.clock.snapshot(),
                self.ids.snapshot(),
            ]
            seed = self.seed
            try:
                if replace:
                    self.bithuman.clear()
                    self.agora.clear()
                    self.faults.clear()
                    self.chaos.clear()
                tenants = self._apply(document)
            except BaseException:
                for restore in undo:
                    restore()
                self.seed = seed
                raise
            if replace:
                # Only once the document is in: a failed load keeps the events and the journal.
                self.inbox.clear()
                self.journal.clear()
            if boot:
                self._boot.append(document)
            return tenants

    def _apply(self, document: dict[str, Any], only_tenant: str | None = None) -> list[str]:
        tenants: list[str] = []
        if only_tenant is None:
            if "seed" in document:
                self.seed = document["seed"]
                self.ids.reseed(self.seed)
                self.faults.set_rng(random.Random(self.seed))
                self.chaos.set_rng(random.Random(self.seed))
            for rule in document.get("faults", ()):
                self.faults.add(rule)
            clock = document.get("clock") or {}
            if "freeze_at" in clock:
                self.clock.freeze(parse_instant(clock["freeze_at"], "clock.freeze_at"))
        for spec in (document.get("bithuman") or {}).get("accounts", ()):
            if only_tenant is not None and spec["id"] != only_tenant:
                continue
            self.bithuman.create_account(
                spec["id"],
                secrets=spec["secrets"],
                dialect=spec.get("dialect"),
                rate_limit=spec.get("rate_limit"),
                agents=spec.get("agents", ()),
                replace=True,
            )
            if "webhook" in spec:
                hook = spec["webhook"]
                self.webhooks.set_bithuman(spec["id"], hook["url"], hook.get("headers"), hook.get("events"))
            tenants.append(spec["id"])
        for spec in (document.get("agora") or {}).get("customers", ()):
            if only_tenant is not None and spec["id"] != only_tenant:
                continue
            # A project's ``webhook`` is not part of the project: it subscribes once the project exists.
            projects = [{k: v for k, v in p.items() if k != "webhook"} for p in spec.get("projects", [])]
            customer = self.agora.create_customer(spec["id"], spec["secret"], projects, replace=True)
            for project in spec.get("projects", ()):
                if "webhook" in project:
                    hook = project["webhook"]
                    self.webhooks.set_agora(project["appid"], hook["url"], hook["secret"], hook.get("events"))
            for number in spec.get("phone_numbers", ()):
                self.telephony.add_phone_number(customer, number)
            self.telephony.set_rules(customer, spec.get("dial_rules", []))
            tenants.append(spec["id"])
        # Chaos rules come after the tenants; a tenant reset drops its rules and re-applies these.
        for rule in document.get("chaos", ()):
            if only_tenant is None or rule.get("tenant") == only_tenant:
                self.chaos.add(rule)
        return tenants

    # -- reset ---------------------------------------------------------------------------------

    def reset(self, tenant: str | None = None) -> None:
        """Go back to the start-up state: all of it, or one tenant's part.

        A full reset also drops every event, returns the clock to real time and reseeds the
        ids; a tenant reset drops that tenant's state and events and re-applies its start-up
        definition, if it had one.
        """
        with self.lock:
            if tenant is None:
                self.clear()
                self.clock.reset()
                self.ids.reseed(self.seed)
                self.faults.set_rng(random.Random(self.seed))
                self.chaos.set_rng(random.Random(self.seed))
                for document in self._boot:
                    self._apply(document)
                return
            booted = {
                spec["id"] for document in self._boot for spec in (document.get("bithuman") or {}).get("accounts", ())
            }
            if tenant not in self.tenants() and tenant not in booted:
                raise DomainError(ErrorCode.NOT_FOUND, f"no tenant {tenant!r}", tenant=tenant)
            if tenant in self.bithuman.accounts:
                self.bithuman.delete_account(tenant)
            if tenant in self.agora.customers:
                self.agora.delete_customer(tenant)
            self.webhooks.forget_tenant(tenant)
            self.inbox.clear(tenant)
            self.chaos.clear(tenant)
            self.coverage.clear(tenant)
            for document in self._boot:
                self._apply(document, only_tenant=tenant)

    def clear(self) -> None:
        """Drop every tenant and event (the clock and ids are left as they are)."""
        with self.lock:
            self.bithuman.clear()
            self.agora.clear()
            self.inbox.clear()
            self.journal.clear()
            self.faults.clear()
            self.webhooks.clear()
            self.chaos.clear()
            self.coverage.clear()

    def tenants(self) -> dict[str, str]:
        """Tenant id -> vendor, for every tenant that exists now."""
        with self.lock:
            tenants = {account_id: "bithuman" for account_id in self.bithuman.accounts}
            tenants.update({customer_id: "agora" for customer_id in self.agora.customers})
            return tenants
