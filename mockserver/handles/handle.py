"""``MockHandle``: what a test gets from the ``mockserver`` fixture, and what it cleans up."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..client import ASGITransport, ControlClient, ControlError, Event, httpx_transport, requests_adapter
from .agora import AGORA_PREFIX, Agora, AgoraAgent, Project
from .bithuman import Account, Agent, BitHuman
from .common import Clock, Tenants
from .scope import Baseline

__all__ = ["MockHandle", "SessionHTTP"]

_FAULT_OPTIONS = frozenset(["latency_ms", "jitter_ms", "retry_after", "times", "probability", "message"])


class SessionHTTP:
    """One ``httpx.Client`` per session on the mock's URL, made when first asked for.

    A new ``httpx.Client`` costs about 40 ms (its TLS context, even for plain HTTP), more than a
    whole test against the mock; one client kept for the session also keeps its connection alive.
    ``reset()`` puts back the headers and drops the cookies a test left on it.
    """

    def __init__(self, client: ControlClient) -> None:
        self._control = client
        self._client: Any = None
        self._headers: dict[str, str] = {}

    def get(self) -> Any:
        if self._client is None:
            import httpx

            kwargs: dict[str, Any] = {}
            if isinstance(self._control.transport, ASGITransport):
                kwargs["transport"] = httpx_transport(self._control.transport)
            self._client = httpx.Client(base_url=self._control.url, timeout=30, **kwargs)
            self._headers = dict(self._client.headers)
        return self._client

    def reset(self) -> None:
        if self._client is not None and (dict(self._client.headers) != self._headers or self._client.cookies):
            self._client.headers = self._headers
            self._client.cookies.clear()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


class MockHandle:
    """What a test gets from ``mockserver``: fresh tenants, the clock, the inbox, the URL.

    Attributes:
        url: the base URL of both vendor APIs and the control plane.
        client: the ``ControlClient`` underneath, for anything the helpers do not cover.
        bithuman_url: the bitHuman API's base URL (``url``); agora_url: the Agora API's (``url`` + prefix).
        bithuman: makes bitHuman accounts and agents (``.agent(rooms=[...])``).
        agora: makes Agora customers and projects (``.project()``).
        clock: the mock clock, shared by every tenant of the server.
        tenants: the tenants this test created or loaded; they are reset when it ends.
    """

    def __init__(
        self,
        client: ControlClient,
        *,
        base_dir: Path | None = None,
        check: Callable[[], None] | None = None,
        baseline: Baseline | None = None,
        http: SessionHTTP | None = None,
    ) -> None:
        self.client = client
        self.url = client.url
        self.bithuman_url = client.url
        self.agora_url = client.url + AGORA_PREFIX
        self._baseline = baseline
        self._http = http
        self._faults: list[int] = []
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

    @property
    def http(self) -> Any:
        """An ``httpx.Client`` on ``url`` shared by the session's tests (in process too): cheap to use.

        Relative URLs go to the mock (``mockserver.http.post("/v1/agent/A1/speak", ...)``); the
        vendor credentials are the handles' ``headers`` (``agent.headers``, ``project.headers``).
        Headers set on it are put back after the test; make your own with ``httpx_client()`` to
        change more (its transport, its timeouts).
        """
        if self._http is None:
            self._http = SessionHTTP(self.client)
            self._closers.append(self._http.close)
        return self._http.get()

    def fault(
        self,
        operation: str | None = None,
        *,
        status: int | None = None,
        kind: str | None = None,
        tenant: str | Account | Project | None = None,
        agent: Agent | AgoraAgent | str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Add a fault rule for this test; it is removed when the test ends. Returns the rule.

        Args:
            operation: a vendor operationId (``bithuman_speak``, ``agora_start_agent``...); any if unset.
            status: answer this status in the vendor's error envelope (``kind="error"``).
            kind: ``error`` (with ``status``), ``latency`` (with ``latency_ms``), ``rate_limit`` or
                ``drop``; by default ``error`` when ``status`` is given, else ``latency``.
            tenant: only this tenant's requests (an id, an ``Account`` or a ``Project``); unset: every
                tenant's, so against a shared server (``--mockserver-url``) prefer giving it.
            agent: only this agent's requests (an ``Agent``/``AgoraAgent``, whose tenant it implies, or an id).
            **options: ``latency_ms``, ``jitter_ms``, ``retry_after``, ``times``, ``probability``, ``message``.
        """
        unknown = set(options) - _FAULT_OPTIONS
        if unknown:
            raise TypeError(f"fault() got unexpected options: {', '.join(sorted(unknown))}")
        if isinstance(agent, Agent):
            tenant, agent = tenant or agent.account.id, agent.code
        elif isinstance(agent, AgoraAgent):
            tenant, agent = tenant or agent.project.customer_id, agent.agent_id
        if isinstance(tenant, Account):
            tenant = tenant.id
        elif isinstance(tenant, Project):
            tenant = tenant.customer_id
        kind = kind or ("error" if status is not None else "latency")
        rule = {"kind": kind, "operation": operation, "tenant": tenant, "agent": agent, "status": status, **options}
        added = self.client.add_fault({k: v for k, v in rule.items() if v is not None})
        self._faults.append(added["id"])
        return added

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules in force on the server (every tenant's), with how often each fired."""
        return self.client.list_faults()

    def journal(self, *, tenant: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """The journaled vendor requests of this test's tenants (or of ``tenant``), oldest first.

        Filters: ``operation``, ``status``, ``since``, ``limit``. Requests no tenant was found for
        (an unknown secret, say) are under no tenant: read them with ``client.list_journal()``.
        """
        tenants = [tenant] if tenant is not None else list(dict.fromkeys(self._tenants.ids))
        entries = {e["id"]: e for t in tenants for e in self.client.list_journal(tenant=t, **filters)["entries"]}
        return [entries[i] for i in sorted(entries)]

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
        """Undo the test: reset its tenants, remove its fault rules, put the clock back as it ran.

        With a ``baseline`` (a server this session owns) every shared setting the test changed,
        however it changed it, is put back; otherwise the fault rules it added through this handle
        or scoped to its tenants are removed (another session's rules are not this test's to touch).
        """
        closers, self._closers = self._closers, []
        for close in closers:
            close()
        if self._http is not None:
            self._http.reset()
        tenants = self._tenants.take()
        for tenant in tenants:
            try:
                self.client.reset_world(tenant)
            except ControlError as exc:
                if exc.status != 404:  # the test deleted it itself
                    raise
        self.clock.restore()
        mine, self._faults = set(self._faults), []
        if self._baseline is not None:
            self._baseline.restore()
        elif mine or tenants:
            for rule in self.client.list_faults():
                if rule["id"] in mine or rule.get("tenant") in tenants:
                    self.client.delete_fault(rule["id"])
