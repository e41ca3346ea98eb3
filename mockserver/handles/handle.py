"""``MockHandle``: what a test gets from the ``mockserver`` fixture, and what it cleans up."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..client import ASGITransport, ControlClient, ControlError, Event, httpx_transport, requests_adapter
from .agora import Agora
from .bithuman import BitHuman
from .common import Clock, Tenants

__all__ = ["MockHandle"]


class MockHandle:
    """What a test gets from ``mockserver``: fresh tenants, the clock, the inbox, the URL.

    Attributes:
        url: the base URL of both vendor APIs and the control plane.
        client: the ``ControlClient`` underneath, for anything the helpers do not cover.
        bithuman: makes bitHuman accounts and agents (``.agent(rooms=[...])``).
        agora: makes Agora customers and projects (``.project()``).
        clock: the mock clock, shared by every tenant of the server.
        tenants: the tenants this test created or loaded; they are reset when it ends.
    """

    def __init__(
        self, client: ControlClient, *, base_dir: Path | None = None, check: Callable[[], None] | None = None
    ) -> None:
        self.client = client
        self.url = client.url
        self.clock = Clock(client)
        self._tenants = Tenants()
        self.bithuman = BitHuman(client, self._tenants)
        self.agora = Agora(client, self._tenants, self.clock, self.httpx_client)
        self._base_dir = base_dir
        self._check = check
        self._closers: list[Callable[[], None]] = []
        self._chaos: list[dict[str, Any]] = []  # scenarios for every tenant of the test (see chaos)
        self._tenants.listeners.append(self._apply_chaos)

    @property
    def in_process(self) -> bool:
        """True when requests go to the app in this process, not over a socket."""
        return isinstance(self.client.transport, ASGITransport)

    @property
    def tenants(self) -> list[str]:
        """The tenants this test created or loaded (in order, as often as loaded)."""
        return self._tenants.ids

    def new_id(self) -> str:
        """A tenant id no other test, worker or session uses."""
        return self._tenants.new_id()

    def adopt(self, tenant: str) -> None:
        """Reset ``tenant`` when the test ends (the helpers do it for what they create)."""
        self._tenants.adopt(tenant)

    def load_fixture(self, path: str | os.PathLike[str]) -> list[str]:
        """Load a fixture file (relative paths: from the test's directory); returns its tenant ids.

        The tenants it names replace existing ones of the same id and are reset after the test;
        a ``clock`` section changes the shared clock until then.
        """
        found = Path(path)
        if not found.is_absolute() and self._base_dir is not None and (self._base_dir / found).exists():
            found = self._base_dir / found
        if not found.is_file():
            where = f"{self._base_dir} or {Path.cwd()}" if self._base_dir else str(Path.cwd())
            raise FileNotFoundError(f"fixture file {str(path)!r} is not in {where}")
        self.clock.snapshot()
        try:
            loaded = self.client.load_fixture(found.read_bytes())
        except ControlError as exc:
            exc.add_note(f"while loading the fixture file {found}")
            raise
        self._tenants.adopt(*loaded)
        return loaded

    def _apply_chaos(self, tenant: str) -> None:
        for spec in self._chaos:
            self.client.add_chaos_rule({**spec, "tenant": tenant})

    def chaos(self, scenario: str, *, tenant: str | None = None, **options: Any) -> list[dict[str, Any]]:
        """Put a chaos scenario in force for this test (docs/chaos.md); returns the rules made.

        Rules are always scoped to a tenant of this test, so they end with it: ``tenant``, or else
        every tenant the test has and every one it makes from now on (as the
        ``mockserver_chaos`` marker does).

        Args:
            scenario: the scenario's name (``agent_fails``, ``tts_error``, ``rate_limit_burst``, ...).
            tenant: one tenant of the test.
            **options: the rule's ``agent``, ``channel``, ``at``, ``times`` (default 1, ``None``:
                for ever), ``probability``, and the scenario's parameters (``when="speaking"``).
        """
        spec = {"scenario": scenario, **options}
        if tenant is not None:
            return [self.client.add_chaos_rule({**spec, "tenant": tenant})]
        self._chaos.append(spec)
        return [self.client.add_chaos_rule({**spec, "tenant": t}) for t in dict.fromkeys(self.tenants)]

    def events(self, **filters: Any) -> list[Event]:
        """The whole inbox, filtered (tenant, vendor, agent, room, kind, since, limit)."""
        return self.client.list_inbox(**filters)

    def httpx_client(self, **kwargs: Any) -> Any:
        """An ``httpx.Client`` on ``url`` that reaches this mock (in process too); closed after the test."""
        import httpx

        if self.in_process:
            kwargs.setdefault("transport", httpx_transport(self.client.transport))
        client = httpx.Client(base_url=self.url, **kwargs)
        self._closers.append(client.close)
        return client

    def requests_session(self) -> Any:
        """A ``requests.Session`` that reaches this mock (in process too); closed after the test."""
        import requests

        session = requests.Session()
        if self.in_process:
            session.mount(self.url, requests_adapter(self.client.transport))
        self._closers.append(session.close)
        return session

    def raise_if_failed(self) -> None:
        """Fail now if the server thread died or a request hit an error inside the mock."""
        __tracebackhide__ = True
        if self._check is not None:
            self._check()

    def close(self) -> None:
        """Reset this test's tenants, put the clock back to running if the test stopped it."""
        closers, self._closers = self._closers, []
        for close in closers:
            close()
        for tenant in self._tenants.take():
            try:
                self.client.reset_world(tenant)
            except ControlError as exc:
                if exc.status != 404:  # the test deleted it itself
                    raise
        self.clock.restore()
