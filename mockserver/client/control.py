"""``ControlClient``: every operation of the control plane (``/_mock/``), one method per operationId.

The methods are named after the operationIds of ``mockserver/admin/openapi.yaml`` (a test checks that
none is missing) and send what docs/control-plane.md describes; an error answer raises
``ControlError`` with the problem's ``detail``. ``request`` and ``call`` reach any path, the vendor
APIs included.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .transport import HTTPTransport, Response, Transport

__all__ = ["ControlClient", "ControlError", "Event", "quote"]


@dataclass(frozen=True, slots=True)
class Event:
    """One inbox event (see ``GET /_mock/inbox``): what an agent was told, or a change it went through."""

    id: int
    time: float
    vendor: str
    tenant: str
    agent: str
    room: str | None
    kind: str
    text: str
    outcome: str
    operation: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in names})

    def describe(self) -> str:
        """One readable line, for failure messages."""
        why = self.data.get("source") or self.data.get("caused_by") or self.data.get("priority") or ""
        where = f"room {self.room}" if self.vendor == "bithuman" else ""
        parts = [f"#{self.id}", where, self.kind, self.outcome, f"({why})" if why else "", repr(self.text)]
        return " ".join(p for p in parts if p)


class ControlError(Exception):
    """The mock refused a control-plane (or vendor) request; ``detail`` is its explanation."""

    def __init__(self, method: str, target: str, response: Response) -> None:
        self.method, self.target, self.status, self.response = method, target, response.status, response
        try:
            body = response.json()
        except orjson.JSONDecodeError:
            body = None
        self.problem: dict[str, Any] = body if isinstance(body, dict) else {}
        self.detail: str = str(self.problem.get("detail") or response.content[:500].decode("utf-8", "replace"))
        super().__init__(f"{method} {target} -> {self.status}: {self.detail}")


_NO_BODY: Any = object()


def quote(segment: str) -> str:
    """One path segment, percent-encoded (ids may hold any character)."""
    return urllib.parse.quote(segment, safe="")


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _given(**fields: Any) -> dict[str, Any]:
    """A request body of the fields that were given (``None`` means: not sent)."""
    return {k: v for k, v in fields.items() if v is not None}


class ControlClient:
    """Drive the mock through its control plane.

    Args:
        target: the mock's base URL, or a transport (``ASGITransport(create_app())`` for in process).
        timeout: seconds, for a URL.
        token: the mock's control token, if it was started with one (sent as ``X-Mock-Token``).
    """

    def __init__(self, target: str | Transport, *, timeout: float = 10.0, token: str | None = None) -> None:
        self.transport: Transport = HTTPTransport(target, timeout) if isinstance(target, str) else target
        self.token = token

    @property
    def url(self) -> str:
        """The base URL of the mock (an ``.invalid`` one in process)."""
        return self.transport.url

    def request(
        self,
        method: str,
        path: str,
        json: Any = _NO_BODY,
        *,
        query: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and return the answer whatever its status."""
        target = path
        if query:
            target += "?" + urllib.parse.urlencode({k: _text(v) for k, v in query.items() if v is not None})
        sent = dict(headers or {})
        if self.token:
            sent.setdefault("x-mock-token", self.token)
        if json is not _NO_BODY:
            content = orjson.dumps(json)
            sent.setdefault("content-type", "application/json")
        elif content is None and method in ("POST", "PUT", "PATCH"):
            # The control plane takes writes only as JSON (see docs/security.md), even empty ones.
            sent.setdefault("content-type", "application/json")
        return self.transport.request(method, target, content, sent)

    def call(self, method: str, path: str, json: Any = _NO_BODY, **kwargs: Any) -> Any:
        """Send one request; return the JSON answer (``None`` for an empty one).

        Raises:
            ControlError: the answer is an error (4xx or 5xx).
        """
        response = self._ok(method, path, json, **kwargs)
        return response.json()

    def _ok(self, method: str, path: str, json: Any = _NO_BODY, **kwargs: Any) -> Response:
        response = self.request(method, path, json, **kwargs)
        if response.status >= 400:
            raise ControlError(method, path, response)
        return response

    # -- the mock itself ---------------------------------------------------------------------------

    def get_health(self) -> dict[str, Any]:
        return self.call("GET", "/_mock/health")

    def get_version(self) -> dict[str, Any]:
        """``{version, contract_version}``."""
        return self.call("GET", "/_mock/version")

    def get_control_plane_spec(self) -> dict[str, Any]:
        """The control plane's own OpenAPI document."""
        return self.call("GET", "/_mock/openapi.json")

    def get_dashboard(self) -> str:
        """The dashboard's HTML page."""
        return self._ok("GET", "/_mock/").content.decode()

    def get_dashboard_asset(self, asset: str) -> bytes:
        """One file of the dashboard (``app.js``, ``style.css``...)."""
        return self._ok("GET", f"/_mock/static/{quote(asset)}").content

    def reset_world(self, tenant: str | None = None) -> dict[str, Any]:
        """Reset the whole world, or only ``tenant`` (its state and events)."""
        return self.call("POST", "/_mock/reset", _given(tenant=tenant))

    def load_fixture(self, document: Mapping[str, Any] | str | bytes, *, replace: bool = False) -> list[str]:
        """Apply a fixture document (a mapping, or YAML text); returns the tenant ids it defined."""
        query = {"replace": "true"} if replace else None
        if isinstance(document, Mapping):
            return self.call("POST", "/_mock/fixtures", dict(document), query=query)["loaded"]
        text = document.encode() if isinstance(document, str) else document
        headers = {"content-type": "application/yaml"}
        return self.call("POST", "/_mock/fixtures", content=text, headers=headers, query=query)["loaded"]

    def list_tenants(self) -> list[dict[str, str]]:
        """``[{id, vendor}]``, sorted by id."""
        return self.call("GET", "/_mock/tenants")

    # -- bitHuman ----------------------------------------------------------------------------------

    def list_bithuman_accounts(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_mock/bithuman/accounts")

    def create_bithuman_account(self, account: Mapping[str, Any]) -> dict[str, Any]:
        """``account``: ``{id, secrets, agents, dialect, rate_limit}`` as in a fixture."""
        return self.call("POST", "/_mock/bithuman/accounts", dict(account))

    def get_bithuman_account(self, account_id: str) -> dict[str, Any]:
        return self.call("GET", _account(account_id))

    def update_bithuman_account(self, account_id: str, **changes: Any) -> dict[str, Any]:
        """Change ``secrets``, ``dialect`` or ``rate_limit`` (``None`` clears the last two)."""
        return self.call("PATCH", _account(account_id), changes)

    def delete_bithuman_account(self, account_id: str) -> None:
        self._ok("DELETE", _account(account_id))

    def create_bithuman_agent(self, account_id: str, agent: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``agent``: ``{code, rooms}`` (both optional: a code is generated)."""
        return self.call("POST", f"{_account(account_id)}/agents", dict(agent or {}))

    def get_bithuman_agent(self, account_id: str, agent_code: str) -> dict[str, Any]:
        return self.call("GET", _agent(account_id, agent_code))

    def delete_bithuman_agent(self, account_id: str, agent_code: str) -> None:
        self._ok("DELETE", _agent(account_id, agent_code))

    def open_bithuman_room(self, account_id: str, agent_code: str, room_id: str | None = None) -> dict[str, Any]:
        """Open (or re-open) a room; its id is generated when not given."""
        return self.call("POST", f"{_agent(account_id, agent_code)}/rooms", _given(room_id=room_id))

    def close_bithuman_room(self, account_id: str, agent_code: str, room_id: str) -> dict[str, Any]:
        return self.call("POST", f"{_agent(account_id, agent_code)}/rooms/{quote(room_id)}/close")

    # -- Agora -------------------------------------------------------------------------------------

    def list_agora_customers(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_mock/agora/customers")

    def create_agora_customer(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        """``customer``: ``{id, secret, projects, phone_numbers, ...}`` as in a fixture."""
        return self.call("POST", "/_mock/agora/customers", dict(customer))

    def get_agora_customer(self, customer_id: str) -> dict[str, Any]:
        return self.call("GET", _customer(customer_id))

    def delete_agora_customer(self, customer_id: str) -> None:
        self._ok("DELETE", _customer(customer_id))

    def create_agora_project(self, customer_id: str, project: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"{_customer(customer_id)}/projects", dict(project))

    def get_agora_project(self, appid: str) -> dict[str, Any]:
        return self.call("GET", _project(appid))

    def update_agora_project(self, appid: str, **changes: Any) -> dict[str, Any]:
        """Change ``responder``, ``concurrency_limit``, ``startup_delay`` or ``tokens``."""
        return self.call("PATCH", _project(appid), changes)

    def get_agora_agent_state(self, appid: str, agent_id: str) -> dict[str, Any]:
        """The simulation's view of an agent, brought up to the mock clock."""
        return self.call("GET", _agora_agent(appid, agent_id))

    def agora_user_joins(self, appid: str, agent_id: str) -> dict[str, Any]:
        return self.call("POST", f"{_agora_agent(appid, agent_id)}/user/join")

    def agora_user_leaves(self, appid: str, agent_id: str) -> dict[str, Any]:
        return self.call("POST", f"{_agora_agent(appid, agent_id)}/user/leave")

    def agora_user_says(self, appid: str, agent_id: str, text: str) -> dict[str, Any]:
        """The agent's state, with the ``outcome`` of the utterance (heard, queued or ignored)."""
        return self.call("POST", f"{_agora_agent(appid, agent_id)}/user/say", {"text": text})

    def fail_agora_agent(self, appid: str, agent_id: str, message: str | None = None) -> dict[str, Any]:
        return self.call("POST", f"{_agora_agent(appid, agent_id)}/fail", _given(message=message))

    def set_agora_dial_rules(self, customer_id: str, rules: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace the customer's dial rules (what callees do when called)."""
        return self.call("PUT", f"{_customer(customer_id)}/dial-rules", [dict(r) for r in rules])

    def simulate_inbound_call(
        self,
        customer_id: str,
        to_number: str,
        from_number: str,
        *,
        source_address: str | None = None,
        appid: str | None = None,
    ) -> dict[str, Any]:
        """A call arrives at an imported number; returns the call, answered."""
        body = _given(to_number=to_number, from_number=from_number, source_address=source_address, appid=appid)
        return self.call("POST", f"{_customer(customer_id)}/inbound-calls", body)

    def answer_agora_call(self, appid: str, agent_id: str) -> dict[str, Any]:
        return self.call("POST", f"{_call(appid, agent_id)}/answer")

    def reject_agora_call(self, appid: str, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        """The callee refuses: ``busy`` or ``no_answer``."""
        return self.call("POST", f"{_call(appid, agent_id)}/reject", _given(reason=reason))

    def remote_hangup_agora_call(self, appid: str, agent_id: str) -> dict[str, Any]:
        return self.call("POST", f"{_call(appid, agent_id)}/remote-hangup")

    # -- what happened -----------------------------------------------------------------------------

    def list_inbox(self, **filters: Any) -> list[Event]:
        """Inbox events, oldest first; filters: tenant, vendor, agent, room, kind, since, limit."""
        return [Event.from_dict(e) for e in self.call("GET", "/_mock/inbox", query=filters)["events"]]

    def clear_inbox(self, tenant: str | None = None) -> int:
        return self.call("DELETE", "/_mock/inbox", query={"tenant": tenant})["dropped"]

    def stream_events(self, *, last_event_id: int | None = None, **filters: Any) -> Iterator[Event]:
        """The inbox as it happens (Server-Sent Events): past events after ``last_event_id``, then live.

        It never ends by itself; stop iterating (or ``close()`` the iterator) to hang up. Filters as
        ``list_inbox``. It needs a served mock: an in-process app has no stream to read.
        """
        if not isinstance(self.transport, HTTPTransport):
            raise TypeError("stream_events needs a mock served at a URL (an HTTPTransport)")
        query = urllib.parse.urlencode({k: _text(v) for k, v in filters.items() if v is not None})
        headers = {"accept": "text/event-stream"}
        if last_event_id is not None:
            headers["last-event-id"] = str(last_event_id)
        kind = ""
        for line in self.transport.lines("/_mock/events/stream" + (f"?{query}" if query else ""), headers):
            if line.startswith(b"event:"):
                kind = line[6:].strip().decode()
            elif line.startswith(b"data:") and kind == "inbox":
                yield Event.from_dict(orjson.loads(line[5:]))
            elif line.startswith(b"data:") and kind == "overflow":
                raise ControlError("GET", "/_mock/events/stream", Response(409, {}, line[5:].strip()))

    def list_journal(self, **filters: Any) -> dict[str, Any]:
        """``{count, total, last_id, entries}``; filters: operation, status, tenant, since, limit."""
        return self.call("GET", "/_mock/journal", query=filters)

    def count_journal(self, **filters: Any) -> dict[str, Any]:
        """``{count, total, by_status, by_operation}``; filters: operation, status, tenant."""
        return self.call("GET", "/_mock/journal/count", query=filters)

    def clear_journal(self) -> int:
        return self.call("DELETE", "/_mock/journal")["dropped"]

    # -- faults ------------------------------------------------------------------------------------

    def list_faults(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_mock/faults")

    def add_fault(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """A fault rule (operation, tenant, agent, status, delay, drop, times, probability...)."""
        return self.call("POST", "/_mock/faults", dict(rule))

    def delete_fault(self, fault_id: int) -> None:
        self._ok("DELETE", f"/_mock/faults/{fault_id}")

    def clear_faults(self) -> int:
        """Remove every rule; returns how many there were."""
        return self.call("DELETE", "/_mock/faults")["dropped"]

    # -- webhooks (see docs/webhooks.md) -------------------------------------------------------------

    def get_webhooks(self) -> dict[str, Any]:
        """Delivery settings and counters (queued, delivered, failed, dropped)."""
        return self.call("GET", "/_mock/webhooks")

    def update_webhook_settings(self, **settings: Any) -> dict[str, Any]:
        """Change delivery settings (retries, intervals, chaos options)."""
        return self.call("PATCH", "/_mock/webhooks", settings)

    def list_webhook_deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        """Every attempt so far; filters: ``tenant``, ``event``, ``state``, ``limit``."""
        return self.call("GET", "/_mock/webhooks/deliveries", query=filters)

    def resend_webhook_delivery(self, delivery_id: str) -> dict[str, Any]:
        return self.call("POST", f"/_mock/webhooks/deliveries/{quote(str(delivery_id))}/resend")

    def set_agora_webhook(self, appid: str, webhook: Mapping[str, Any]) -> dict[str, Any]:
        """``webhook``: ``{url, secret, events?}`` (the project's NCS subscription)."""
        return self.call("PUT", f"{_project(appid)}/webhook", dict(webhook))

    def get_agora_webhook(self, appid: str) -> dict[str, Any]:
        return self.call("GET", f"{_project(appid)}/webhook")

    def delete_agora_webhook(self, appid: str) -> None:
        self._ok("DELETE", f"{_project(appid)}/webhook")

    def check_agora_webhook(self, appid: str) -> dict[str, Any]:
        """The Console's Check: one test notification per subscribed event."""
        return self.call("POST", f"{_project(appid)}/webhook/check")

    def report_agora_agent_error(self, appid: str, agent_id: str, error: Mapping[str, Any]) -> dict[str, Any]:
        """A module error of a running agent (NCS event 110)."""
        return self.call("POST", f"{_agora_agent(appid, agent_id)}/error", dict(error))

    def set_bithuman_webhook(self, account_id: str, webhook: Mapping[str, Any]) -> dict[str, Any]:
        """``webhook``: ``{url, headers?, events?}`` (the account's session webhook)."""
        return self.call("PUT", f"{_account(account_id)}/webhook", dict(webhook))

    def get_bithuman_webhook(self, account_id: str) -> dict[str, Any]:
        return self.call("GET", f"{_account(account_id)}/webhook")

    def delete_bithuman_webhook(self, account_id: str) -> None:
        self._ok("DELETE", f"{_account(account_id)}/webhook")

    # -- chaos and coverage (docs/chaos.md, docs/coverage.md) ------------------------------------

    def list_chaos_scenarios(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_mock/chaos/scenarios")

    def list_chaos_rules(self, tenant: str | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/_mock/chaos/rules", query={"tenant": tenant})

    def add_chaos_rule(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """A chaos rule (scenario, tenant, agent, channel, at, times, probability, params)."""
        return self.call("POST", "/_mock/chaos/rules", dict(rule))

    def clear_chaos_rules(self, tenant: str | None = None) -> int:
        return self.call("DELETE", "/_mock/chaos/rules", query={"tenant": tenant})["dropped"]

    def delete_chaos_rule(self, rule_id: int) -> None:
        self.call("DELETE", f"/_mock/chaos/rules/{rule_id}")

    def get_coverage(self, tenant: str | None = None, *, anonymous: bool = False) -> dict[str, Any]:
        """What vendor requests exercised: all tenants, ``tenant``, or unauthenticated ones."""
        return self.call("GET", "/_mock/coverage", query={"tenant": tenant, "anonymous": "true" if anonymous else None})

    # -- the clock ---------------------------------------------------------------------------------

    def get_clock(self) -> dict[str, Any]:
        """``{now, iso, frozen, speed}``."""
        return self.call("GET", "/_mock/clock")

    def freeze_clock(self, at: float | str | None = None) -> dict[str, Any]:
        return self.call("POST", "/_mock/clock/freeze", _given(at=at))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self.call("POST", "/_mock/clock/advance", {"seconds": seconds})

    def resume_clock(self, speed: float = 1.0) -> dict[str, Any]:
        return self.call("POST", "/_mock/clock/resume", {"speed": speed})

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The control plane's paths, built in one place.


def _account(account_id: str) -> str:
    return f"/_mock/bithuman/accounts/{quote(account_id)}"


def _agent(account_id: str, agent_code: str) -> str:
    return f"{_account(account_id)}/agents/{quote(agent_code)}"


def _customer(customer_id: str) -> str:
    return f"/_mock/agora/customers/{quote(customer_id)}"


def _project(appid: str) -> str:
    return f"/_mock/agora/projects/{quote(appid)}"


def _agora_agent(appid: str, agent_id: str) -> str:
    return f"{_project(appid)}/agents/{quote(agent_id)}"


def _call(appid: str, agent_id: str) -> str:
    return f"{_project(appid)}/calls/{quote(agent_id)}"
