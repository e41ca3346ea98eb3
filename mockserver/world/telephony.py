"""Agora telephony and phone numbers (api-facts §2.9-2.10).

Phone numbers are account-level: each customer imports numbers (E.164) with inbound and outbound
SIP settings. A ``call`` dials out from one of them: it creates an agent that joins the channel
and waits for the callee, and a call record whose state moves on the mock clock:

    ringing -> answered -> hangup          (reason: request = hung up by API, hangup = by the callee)
    ringing -> hangup                      (reason: failed = busy or no answer)

``ringing`` is our name for the pre-answer state (the vendor documents only answered and hangup).
What a callee does comes from the customer's dial rules (fixtures or control plane), by number:
answer after some seconds of ringing (the default: after 2 s), never answer, be busy, and
optionally hang up after some seconds of talk.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .agora import AgoraAgent, Customer, Principal, Project, is_integer_uid
from .errors import DomainError, ErrorCode

if TYPE_CHECKING:
    from . import World

__all__ = ["CALL_OUTCOMES", "Call", "DialRule", "PhoneNumber", "TelephonyWorld"]

DEFAULT_RING_S = 2.0
NO_ANSWER_TIMEOUT_S = 60.0
CALLS_KEPT = 1000  # per project, oldest forgotten first
MAX_PHONE_NUMBERS = 1000  # per customer: our bound (the vendor documents none); 422 beyond
CALL_LIST_WINDOW_S = 60 * 24 * 3600
# What can become of a call, as data the coverage report reads: ``answered``, ``inbound``, or the
# ``why`` of the event that ended it.
CALL_OUTCOMES = (
    "answered",
    "inbound",
    "busy",
    "no answer",
    "never connected",
    "the callee hung up",
    "the call dropped",
    "hung up through the API",
    "the agent left",
)


@dataclass(slots=True)
class DialRule:
    """How a callee answers: ``answer`` (after ``ring_seconds``), ``no_answer`` or ``busy``."""

    number: str
    outcome: str = "answer"
    ring_seconds: float = DEFAULT_RING_S
    hangup_after: float | None = None  # the callee hangs up this long after answering

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "outcome": self.outcome,
            "ring_seconds": self.ring_seconds,
            "hangup_after": self.hangup_after,
        }


@dataclass(slots=True)
class PhoneNumber:
    provider: str
    phone_number: str
    label: str
    inbound: bool = True
    outbound: bool = True
    inbound_config: dict[str, Any] | None = None
    outbound_config: dict[str, Any] | None = None

    def pipeline(self) -> dict[str, str] | None:
        for config in (self.inbound_config, self.outbound_config):
            if config and config.get("pipeline_id"):
                pid = str(config["pipeline_id"])
                # The vendor shows the AI Studio pipeline's name; the mock has none, so it makes one.
                return {"pipeline_id": pid, "pipeline_name": f"Pipeline {pid}"}
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "phone_number": self.phone_number,
            "label": self.label,
            "inbound": self.inbound,
            "outbound": self.outbound,
            "associated_pipeline": self.pipeline(),
            "inbound_config": self.inbound_config,
            "outbound_config": self.outbound_config,
        }


@dataclass(slots=True)
class Call:
    agent: AgoraAgent
    type: str  # inbound | outbound
    to_number: str
    from_number: str
    pipeline_id: str | None
    created: float
    state: str = "ringing"  # ringing | answered | hangup
    reason: str | None = None  # request | hangup | failed
    stopped: float | None = None
    answer_at: float | None = None
    fail_at: float | None = None
    fail_why: str = ""
    remote_hangup_at: float | None = None
    hangup_after: float | None = None
    events: list[str] = field(default_factory=list)

    def to_dict(self, *, with_reason: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "to_number": self.to_number,
            "from_number": self.from_number,
            "pipeline_id": self.pipeline_id or "",
            "type": self.type,
            "agent_id": self.agent.agent_id,
            "channel": self.agent.channel,
            "create_ts": int(self.created),
            "state": self.state,
            "stop_ts": int(self.stopped) if self.stopped is not None else 0,
        }
        if with_reason:
            body["reason"] = self.reason
        return body


def _cidr_ok(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


class TelephonyWorld:
    """Calls per project and phone numbers per customer. Methods named after operations."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._lock: threading.RLock = world.lock
        self.numbers: dict[str, dict[str, PhoneNumber]] = {}  # customer id -> number -> record
        self.rules: dict[str, dict[str, DialRule]] = {}  # customer id -> callee number -> rule
        self.calls: dict[str, dict[str, Call]] = {}  # appid -> agent id -> call

    def snapshot(self) -> Callable[[], None]:
        """A function that puts numbers, rules and calls back as they are now."""
        numbers = {k: dict(v) for k, v in self.numbers.items()}
        rules = dict(self.rules)
        calls = {k: dict(v) for k, v in self.calls.items()}

        def restore() -> None:
            # In place: whoever holds these dicts sees the restored contents.
            self.numbers.clear()
            self.numbers.update(numbers)
            self.rules.clear()
            self.rules.update(rules)
            self.calls.clear()
            self.calls.update(calls)

        return restore

    def clear(self, customer: Customer | None = None) -> None:
        with self._lock:
            if customer is None:
                self.numbers.clear()
                self.rules.clear()
                self.calls.clear()
                return
            self.numbers.pop(customer.id, None)
            self.rules.pop(customer.id, None)
            for appid in customer.projects:
                self.calls.pop(appid, None)

    # -- phone numbers -------------------------------------------------------------------------

    def _numbers(self, customer: Customer) -> dict[str, PhoneNumber]:
        return self.numbers.setdefault(customer.id, {})

    def _number(self, customer: Customer, number: str) -> PhoneNumber:
        record = self._numbers(customer).get(number)
        if record is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"The phone number {number} was not found.")
        return record

    def _locked(self, customer: Customer, number: str) -> bool:
        now = self._world.clock.now()
        return any(
            self._advance(call, now).state != "hangup" and number in (call.from_number, call.to_number)
            for appid in customer.projects
            for call in self.calls.get(appid, {}).values()
        )

    def list_phone_numbers(self, customer: Customer) -> list[PhoneNumber]:
        with self._lock:
            return list(self._numbers(customer).values())

    def add_phone_number(self, customer: Customer, body: dict[str, Any]) -> PhoneNumber:
        inbound_config = body.get("inbound_config")
        for address in (inbound_config or {}).get("allowed_addresses", []):
            if not _cidr_ok(address):
                raise DomainError(
                    ErrorCode.INVALID, f"allowed_addresses: {address!r} is not an IP address or CIDR block"
                )
        with self._lock:
            numbers = self._numbers(customer)
            if body["phone_number"] in numbers:
                raise DomainError(
                    ErrorCode.PHONE_NUMBER_EXISTS, f"The phone number {body['phone_number']} already exists."
                )
            if len(numbers) >= MAX_PHONE_NUMBERS:
                raise DomainError(ErrorCode.INVALID, f"a customer imports at most {MAX_PHONE_NUMBERS} phone numbers")
            record = PhoneNumber(
                provider=body["provider"],
                phone_number=body["phone_number"],
                label=body["label"],
                # Omitted and null (what the SDK sends for None) both mean the default.
                inbound=True if body.get("inbound") is None else body["inbound"],
                outbound=True if body.get("outbound") is None else body["outbound"],
                inbound_config=inbound_config,
                outbound_config=body.get("outbound_config"),
            )
            numbers[record.phone_number] = record
            return record

    def get_phone_number(self, customer: Customer, number: str) -> PhoneNumber:
        with self._lock:
            return self._number(customer, number)

    def update_phone_number(self, customer: Customer, number: str, body: dict[str, Any]) -> PhoneNumber:
        """PATCH: an explicit null clears a config, an omitted key keeps it, an object is merged in."""
        with self._lock:
            record = self._number(customer, number)
            if self._locked(customer, number):
                raise DomainError(ErrorCode.CONFLICT, f"The phone number {number} is in use by an active call.")
            for key in ("inbound_config", "outbound_config"):
                if key not in body:
                    continue
                value = body[key]
                setattr(record, key, None if value is None else {**(getattr(record, key) or {}), **value})
            return record

    def delete_phone_number(self, customer: Customer, number: str) -> None:
        with self._lock:
            self._number(customer, number)
            if self._locked(customer, number):
                raise DomainError(ErrorCode.CONFLICT, f"The phone number {number} is in use by an active call.")
            del self._numbers(customer)[number]

    # -- calls -----------------------------------------------------------------------------------

    def _advance(self, call: Call, now: float) -> Call:
        """Apply the callee's scheduled behaviour up to ``now``."""
        call.agent.conversation.advance(now)
        if call.state == "ringing" and call.fail_at is not None and call.fail_at <= now:
            self._end(call, call.fail_at, "failed", call.fail_why)
        if call.state == "ringing" and call.answer_at is not None and call.answer_at <= now:
            self._answer(call, call.answer_at)
        if call.state == "answered" and call.remote_hangup_at is not None and call.remote_hangup_at <= now:
            self._end(call, call.remote_hangup_at, "hangup", call.fail_why or "the callee hung up")
        if call.state != "hangup" and not call.agent.conversation.live:
            # The agent went away on its own (leave, idle timeout, failure): the call is over.
            self._end(call, call.agent.conversation.stopped_at or now, "request", "the agent left")
        return call

    def _emit(self, call: Call, outcome: str, at: float, **data: Any) -> None:
        call.events.append(outcome)
        call.agent.conversation.emit(
            kind="call",
            text=f"{call.from_number} -> {call.to_number}",
            outcome=outcome,
            time=at,
            data={"type": call.type, "to_number": call.to_number, "from_number": call.from_number, **data},
            operation="start_call" if outcome == "dialled" else "",
        )

    def _answer(self, call: Call, at: float) -> None:
        call.state, call.answer_at = "answered", None
        if call.hangup_after is not None:
            call.remote_hangup_at = at + call.hangup_after
        self._emit(call, "answered", at)
        call.agent.conversation.advance(at)
        call.agent.conversation.greet(at)

    def _end(self, call: Call, at: float, reason: str, why: str) -> None:
        if call.state == "hangup":
            return
        call.state, call.reason, call.stopped = "hangup", reason, at
        call.answer_at = call.fail_at = call.remote_hangup_at = None
        self._emit(call, "failed" if reason == "failed" else "hung_up", at, reason=reason, why=why)
        conversation = call.agent.conversation
        conversation.advance(at)
        if conversation.live and conversation.status != "STOPPING":
            conversation.request_stop(at, None)

    def _calls(self, project: Project) -> dict[str, Call]:
        return self.calls.setdefault(project.appid, {})

    def start_call(self, principal: Principal, project: Project, body: dict[str, Any]) -> Call:
        """``call``: dial out from an imported number; the agent waits in the channel for the callee."""
        sip = body["sip"]
        customer = principal.customer
        with self._lock:
            caller = self._numbers(customer).get(sip["from_number"])
            if caller is None or not caller.outbound:
                raise DomainError(
                    ErrorCode.INVALID,
                    f"from_number {sip['from_number']} is not an imported phone number with outbound calling enabled",
                    field="sip.from_number",
                )
            if not body["properties"].get("enable_string_uid") and not is_integer_uid(sip["rtc_uid"]):
                # StartCallRequest.allOf: the SIP gateway is a uid of the channel like any other.
                raise DomainError(
                    ErrorCode.INVALID_FIELD,
                    f"Invalid value for sip.rtc_uid {sip['rtc_uid']!r}: uids must be integer strings unless "
                    "enable_string_uid is true",
                    field="sip.rtc_uid",
                )
            props = {"remote_rtc_uids": [sip["rtc_uid"]], **body["properties"]}
            join = {"name": body["name"], "properties": props, "pipeline_id": body.get("pipeline_id")}
            agent = self._world.agora.start_agent(
                principal, project, join, greet_on_start=False, operation="start_call"
            )
            now = self._world.clock.now()
            rule = self.rules.get(customer.id, {}).get(sip["to_number"], DialRule(sip["to_number"]))
            call = Call(
                agent,
                "outbound",
                sip["to_number"],
                sip["from_number"],
                body.get("pipeline_id"),
                now,
                hangup_after=rule.hangup_after,
            )
            if rule.outcome == "busy":
                call.fail_at, call.fail_why = now, "busy"
            elif rule.outcome == "no_answer":
                call.fail_at, call.fail_why = now + NO_ANSWER_TIMEOUT_S, "no answer"
            else:
                call.answer_at = now + rule.ring_seconds
            self._keep(project, call)
            self._emit(call, "dialled", now)
            self._world.chaos.on_call(customer.id, call, now)
            self._advance(call, now)
            return call

    def _keep(self, project: Project, call: Call) -> None:
        calls = self._calls(project)
        calls[call.agent.agent_id] = call
        if len(calls) > CALLS_KEPT:
            del calls[next(iter(calls))]  # the oldest (dicts keep insertion order)

    def list_calls(self, project: Project, query: dict[str, Any]) -> tuple[list[Call], str, int]:
        now = self._world.clock.now()
        start = float(query.get("from_time", now - CALL_LIST_WINDOW_S))
        end = float(query.get("to_time", now))
        with self._lock:
            found = [
                c
                for c in self._calls(project).values()
                if start <= self._advance(c, now).created <= end
                and ("type" not in query or c.type == query["type"])
                and ("number" not in query or query["number"] in (c.to_number, c.from_number))
            ]
        ids = [c.agent.agent_id for c in found]
        cursor = query.get("cursor")
        offset = (ids.index(cursor) if cursor in ids else len(found)) if cursor else 0
        limit = int(query.get("limit", 20))
        following = found[offset + limit : offset + limit + 1]
        return found[offset : offset + limit], following[0].agent.agent_id if following else "", len(found)

    def get_call(self, project: Project, agent_id: str) -> Call:
        with self._lock:
            call = self._calls(project).get(agent_id)
            if call is None:
                raise DomainError(ErrorCode.NOT_FOUND, "The specified call session was not found.")
            return self._advance(call, self._world.clock.now())

    def hangup_call(self, project: Project, agent_id: str) -> Call:
        with self._lock:
            call = self.get_call(project, agent_id)
            if call.state == "hangup":
                raise DomainError(ErrorCode.NOT_FOUND, "The specified call session was not found (it has ended).")
            self._end(call, self._world.clock.now(), "request", "hung up through the API")
            return call

    # -- arrangement (control plane and fixtures) ----------------------------------------------

    def set_rules(self, customer: Customer, rules: list[dict[str, Any]]) -> list[DialRule]:
        with self._lock:
            table = {r["number"]: DialRule(**r) for r in rules}
            self.rules[customer.id] = table
            return list(table.values())

    def answer(self, project: Project, agent_id: str) -> Call:
        with self._lock:
            call = self.get_call(project, agent_id)
            if call.state != "ringing":
                raise DomainError(ErrorCode.CONFLICT, f"the call is {call.state}, not ringing")
            self._answer(call, self._world.clock.now())
            return call

    def reject(self, project: Project, agent_id: str, why: str) -> Call:
        with self._lock:
            call = self.get_call(project, agent_id)
            if call.state != "ringing":
                raise DomainError(ErrorCode.CONFLICT, f"the call is {call.state}, not ringing")
            self._end(call, self._world.clock.now(), "failed", why)
            return call

    def remote_hangup(self, project: Project, agent_id: str) -> Call:
        with self._lock:
            call = self.get_call(project, agent_id)
            if call.state == "hangup":
                raise DomainError(ErrorCode.CONFLICT, "the call has already ended")
            self._end(call, self._world.clock.now(), "hangup", "the callee hung up")
            return call

    def inbound_call(self, customer: Customer, body: dict[str, Any]) -> Call:
        """A call arrives at an imported number: an agent answers it, per the number's pipeline."""
        with self._lock:
            number = self._numbers(customer).get(body["to_number"])
            if number is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND, f"{body['to_number']} is not an imported number of {customer.id!r}"
                )
            if not number.inbound:
                raise DomainError(ErrorCode.INVALID, f"{number.phone_number} does not accept inbound calls")
            source = body.get("source_address", "127.0.0.1")
            allowed = (number.inbound_config or {}).get("allowed_addresses") or []
            try:
                address = ipaddress.ip_address(source)
            except ValueError:
                raise DomainError(ErrorCode.INVALID, f"source_address {source!r} is not an IP address") from None
            if not any(address in ipaddress.ip_network(block, strict=False) for block in allowed):
                raise DomainError(
                    ErrorCode.INVALID, f"{source} is not in the allowed_addresses of {number.phone_number}"
                )
            appid = body.get("appid") or next(iter(customer.projects), None)
            if appid is None or appid not in customer.projects:
                raise DomainError(
                    ErrorCode.INVALID, f"customer {customer.id!r} has no project {appid!r} to take the call"
                )
            project = customer.projects[appid]
            pipeline = (number.inbound_config or {}).get("pipeline_id")
            serial = self._world.ids.token("0123456789", 8)
            join = {
                "name": f"inbound-{serial}",
                "pipeline_id": pipeline,
                "preset": None if pipeline else "openai_gpt_4o_mini",
                "properties": {
                    "channel": f"inbound-{serial}",
                    "token": "",
                    "agent_rtc_uid": "0",
                    "remote_rtc_uids": ["*"],
                },
            }
            agent = self._world.agora.start_agent(
                Principal(customer), project, join, greet_on_start=False, operation="inbound_call"
            )
            now = self._world.clock.now()
            call = Call(agent, "inbound", number.phone_number, body["from_number"], pipeline, now)
            self._keep(project, call)
            self._emit(call, "ringing", now)
            self._answer(call, now)
            return call
