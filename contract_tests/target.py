"""What the suite runs against: the in-process mock, a mock served at a URL, or the real APIs.

A ``Target`` knows each vendor's base URL, the credentials to use, whether a control plane can
arrange preconditions (only a mock has one), and what the run may cost. Everything a test does
to a mock goes over HTTP (``ControlPlane``), so ``--target url`` needs no in-process hook; the
in-process target differs only in that its HTTP client calls the ASGI app directly.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import requests
from starlette.testclient import TestClient

from . import report, responses

__all__ = [
    "DEFAULT_FIXTURE",
    "ENVIRONMENT",
    "IN_PROCESS_URL",
    "ControlPlane",
    "ControlPlaneError",
    "Credentials",
    "Http",
    "RealEnv",
    "Target",
    "Throttle",
    "basic",
]

DEFAULT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "default.yaml"
IN_PROCESS_URL = "http://127.0.0.1:8080"  # the spec's own server: what schemathesis uses in process

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


def basic(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


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


class Throttle:
    """A token bucket shared by every request to one vendor: at most ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.updated = self.burst, time.monotonic()
        self.lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                pause = (1 - self.tokens) / self.rate
                self.waited += pause
                time.sleep(pause)


class ThrottledSession(requests.Session):
    """A requests session that waits for the vendor's throttle before each request."""

    def __init__(self, throttles: dict[str, Throttle]) -> None:
        super().__init__()
        self.throttles = throttles

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        vendor = report.vendor_of(urlsplit(request.url or "").path)
        throttle = self.throttles.get(vendor) if vendor else None
        if throttle is not None:
            throttle.acquire()
        return super().send(request, **kwargs)


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


class Http:
    """One vendor-or-control-plane HTTP client: throttled, recorded for the report, replayable as curl.

    Args:
        client: an httpx2 client (``TestClient`` for the in-process mock).
        throttles: vendor -> throttle (real targets only).
    """

    def __init__(
        self, client: httpx.Client, throttles: dict[str, Throttle] | None = None, *, record: bool = True
    ) -> None:
        self.client = client
        self.throttles = throttles or {}
        self.record = record

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        vendor = report.vendor_of(httpx.URL(url).path if "://" in url else url)
        throttle = self.throttles.get(vendor) if vendor else None
        if throttle is not None:
            throttle.acquire()
        response = self.client.request(method, url, **kwargs)
        if self.record:
            report.record_http(response)
            if vendor in ("bithuman", "agora"):
                responses.check(
                    method,
                    response.request.url.path,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.content,
                )
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.client.close()


class ControlPlaneError(AssertionError):
    """The mock refused an arrangement: the suite, not the mock under test, is wrong (or the mock is down)."""


class ControlPlane:
    """The mock's ``/_mock/`` API, over HTTP: how tests arrange preconditions and read what happened."""

    def __init__(self, http: Http, base: str) -> None:
        self.http, self.base = http, base.rstrip("/")

    def _call(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        kwargs: dict[str, Any] = {"params": {k: v for k, v in params.items() if v is not None}}
        if json is not None:
            kwargs["json"] = json
        response = self.http.request(method, f"{self.base}/_mock{path}", **kwargs)
        if response.status_code >= 400:
            raise ControlPlaneError(f"control plane {method} /_mock{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    # -- tenants -------------------------------------------------------------------------------

    def create_bithuman_account(self, tenant: str, secret: str, agents: list[dict[str, Any]]) -> Any:
        return self._call("POST", "/bithuman/accounts", {"id": tenant, "secrets": [secret], "agents": agents})

    def delete_bithuman_account(self, tenant: str) -> None:
        self._call("DELETE", f"/bithuman/accounts/{tenant}")

    def open_room(self, tenant: str, agent: str, room: str) -> Any:
        return self._call("POST", f"/bithuman/accounts/{tenant}/agents/{agent}/rooms", {"room_id": room})

    def close_room(self, tenant: str, agent: str, room: str) -> Any:
        return self._call("POST", f"/bithuman/accounts/{tenant}/agents/{agent}/rooms/{room}/close")

    def create_agora_customer(self, tenant: str, secret: str, projects: list[dict[str, Any]]) -> Any:
        return self._call("POST", "/agora/customers", {"id": tenant, "secret": secret, "projects": projects})

    def delete_agora_customer(self, tenant: str) -> None:
        self._call("DELETE", f"/agora/customers/{tenant}")

    def agent_state(self, appid: str, agent_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/agora/projects/{appid}/agents/{agent_id}")
        return result

    def load_fixture(self, document: dict[str, Any]) -> Any:
        return self._call("POST", "/fixtures", document)

    # -- what happened, and when ---------------------------------------------------------------

    def inbox(self, **filters: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._call("GET", "/inbox", **filters)["events"]
        return events

    def clock(self) -> float:
        return float(self._call("GET", "/clock")["now"])

    def freeze(self) -> float:
        return float(self._call("POST", "/clock/freeze", {})["now"])

    def advance(self, seconds: float) -> float:
        return float(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def resume(self) -> float:
        return float(self._call("POST", "/clock/resume", {})["now"])


@dataclass
class Target:
    """Where the suite points, and what it may do there.

    Attributes:
        kind: ``mock`` (in process), ``url`` (a served mock) or ``real``.
        bithuman_url / agora_url: base URLs of the vendor paths.
        app: the in-process ASGI app (``mock`` only).
        control: the control plane (mocks only).
    """

    kind: str
    bithuman_url: str
    agora_url: str
    app: Any = None
    control: ControlPlane | None = None
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
        self.control.create_bithuman_account(tenant, secret, [{"code": agent, "rooms": rooms}])
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
        for closable in (self.http, self._cleanup_http, self._session):
            if closable is not None:
                closable.close()
