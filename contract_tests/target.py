"""What the suite runs against: the in-process mock, a mock served at a URL, or the real APIs.

A ``Target`` knows each vendor's base URL, the credentials to use, whether a control plane can
arrange preconditions (only a mock has one), and what the run may cost. Everything a test does
to a mock goes through ``mockserver.client.ControlClient``: over HTTP for ``--target url`` (so it
needs no in-process hook), and straight into the ASGI app in process, where the vendor requests'
client also calls the app directly.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import requests
from starlette.testclient import TestClient

from mockserver.client import ControlClient

from . import report
from .credentials import Credentials
from .http import Http
from .real_env import RealEnv
from .throttle import Throttle, ThrottledSession

__all__ = ["DEFAULT_FIXTURE", "IN_PROCESS_URL", "Target"]

DEFAULT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "default.yaml"
IN_PROCESS_URL = "http://127.0.0.1:8080"  # the spec's own server: what schemathesis uses in process


@dataclass
class Target:
    """Where the suite points, and what it may do there.

    Attributes:
        kind: ``mock`` (in process), ``url`` (a served mock) or ``real``.
        bithuman_url / agora_url: base URLs of the vendor paths.
        app: the in-process ASGI app (``mock`` only).
        control: the control plane's client (mocks only).
    """

    kind: str
    bithuman_url: str
    agora_url: str
    app: Any = None
    control: ControlClient | None = None
    http: Http | None = None
    allow_costly: bool = False
    allow_destructive: bool = False
    thorough: bool = False
    env: RealEnv | None = None
    throttles: dict[str, Throttle] = field(default_factory=dict)
    credentials: Credentials = field(default_factory=Credentials)
    tenants: list[tuple[str, str]] = field(default_factory=list)  # (vendor, id) arranged by this process
    counted: bool = True  # what it answers goes into the run's summary (the suite's self-tests say no)
    _cleanup_http: Http | None = field(default=None, repr=False)
    _session: requests.Session | None = field(default=None, repr=False)

    @property
    def is_mock(self) -> bool:
        return self.control is not None

    def base_url(self, path: str) -> str:
        return self.bithuman_url if report.vendor_of(path) == "bithuman" else self.agora_url

    def new_http(self, *, record: bool = True) -> Http:
        """A fresh client for one test (the in-process one calls the app directly)."""
        record = record and self.counted
        if self.app is not None:
            return Http(TestClient(self.app, base_url=IN_PROCESS_URL, raise_server_exceptions=True), record=record)
        return Http(httpx.Client(timeout=30.0), self.throttles, record=record)

    def cleanup_http(self) -> Http:
        """The client that removes what tests created (not counted in the report)."""
        if self._cleanup_http is None:
            self._cleanup_http = self.new_http(record=False)
        return self._cleanup_http

    def session(self) -> requests.Session | None:
        """The requests session schemathesis sends through over the network: keep-alive, throttled."""
        if self.app is not None:
            return None
        if self._session is None:
            self._session = ThrottledSession(self.throttles)
        return self._session

    def new_id(self, prefix: str = "ct") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    # -- arranged tenants (mocks) ------------------------------------------------------------

    def arrange_bithuman(self, rooms: list[str] | None = None, agent: str = "A00CT0001") -> Credentials:
        """A fresh bitHuman account with one agent and its rooms (mocks only)."""
        assert self.control is not None, "only a mock can be arranged"
        tenant, secret = self.new_id("ct-bh"), self.new_id("secret")
        rooms = ["room-a", "room-b", "room-c"] if rooms is None else rooms
        self.control.create_bithuman_account(
            {"id": tenant, "secrets": [secret], "agents": [{"code": agent, "rooms": rooms}]}
        )
        self.tenants.append(("bithuman", tenant))
        return Credentials(bithuman_secret=secret, bithuman_agent=agent, bithuman_rooms=list(rooms), tenant=tenant)

    def arrange_agora(self, **project: Any) -> Credentials:
        """A fresh Agora customer with one project and an outbound number (mocks only)."""
        assert self.control is not None, "only a mock can be arranged"
        tenant, secret = self.new_id("ct-ag"), self.new_id("secret")
        appid = self.new_id("app")
        number = "+15550100001"
        self.control.load_fixture(
            {
                "agora": {
                    "customers": [
                        {
                            "id": tenant,
                            "secret": secret,
                            "projects": [{"appid": appid, **project}],
                            "phone_numbers": [
                                {
                                    "provider": "byo",
                                    "phone_number": number,
                                    "label": "contract suite",
                                    "inbound_config": {"allowed_addresses": ["127.0.0.0/8"]},
                                    "outbound_config": {"address": "sip.example.com", "transport": "tls"},
                                }
                            ],
                        }
                    ]
                }
            }
        )
        self.tenants.append(("agora", tenant))
        return Credentials(
            agora_customer=tenant,
            agora_secret=secret,
            agora_appid=appid,
            agora_from_number=number,
            agora_to_number="+15550123456",
            tenant=tenant,
        )

    def forget(self, vendor: str, tenant: str) -> None:
        """Delete a tenant this process arranged."""
        assert self.control is not None
        if vendor == "bithuman":
            self.control.delete_bithuman_account(tenant)
        else:
            self.control.delete_agora_customer(tenant)
        self.tenants.remove((vendor, tenant))

    @contextmanager
    def bithuman_tenant(self, rooms: list[str] | None = None) -> Iterator[Credentials]:
        """Credentials for one test: a fresh arranged account on a mock, the environment's on the real API."""
        if not self.is_mock:
            yield self.credentials
            return
        creds = self.arrange_bithuman(rooms)
        try:
            yield creds
        finally:
            assert creds.tenant is not None
            self.forget("bithuman", creds.tenant)

    @contextmanager
    def agora_tenant(self, **project: Any) -> Iterator[Credentials]:
        if not self.is_mock:
            yield self.credentials
            return
        creds = self.arrange_agora(**project)
        try:
            yield creds
        finally:
            assert creds.tenant is not None
            self.forget("agora", creds.tenant)

    def close(self) -> None:
        """Delete every tenant this process arranged (best effort) and close the clients."""
        if self.control is not None:
            for vendor, tenant in list(self.tenants):
                with contextlib.suppress(Exception):  # a mock that went away has nothing left to clean
                    self.forget(vendor, tenant)
        for closable in (self.http, self._cleanup_http, self._session, self.control):
            if closable is not None:
                closable.close()
