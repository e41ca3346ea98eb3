"""A fixture world implied by a recording: the tenants and things its answers say existed.

Secrets were redacted before the recording was written, so each credential of the recording (told
apart by its ``_credential`` label, see ``har``) gets a placeholder; ``replay_headers`` gives the
placeholder credential to send in place of the recorded one, so a replay authenticates as the same
tenant.

What is read from the recording:

- bitHuman: one account per api-secret that was not refused (401); its dialect from the shape of
  its answers; its rate limit from ``X-RateLimit-Limit``; an agent for every code answered 200 or
  "no active rooms" (not "agent not found"); as active rooms, the rooms its answers list and the
  ``room_id`` of accepted requests (an answer that only counts rooms gets that many made-up ones);
- Agora: one customer per Basic credential, owning every App ID it was answered for (not 401 or
  403); a fixed token per ``agora token=`` credential, on the project of its path; the imported
  phone numbers that answers show before the recording imports them itself.

Agents that were started before the recording began cannot be arranged by a fixture: record from
a clean start (docs/proxy.md).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from ..contract import load_contract

__all__ = ["fixture_from_entries", "replay_headers"]

_CLEAN = re.compile(r"[^A-Za-z0-9_-]")


def _secret(label: str) -> str:
    return f"replay-secret-{label}"


def _customer(label: str) -> str:
    return f"replay-customer-{label}"


def _token(label: str) -> str:
    return f"replay-token-{label}"


def replay_headers(entry: dict[str, Any]) -> dict[str, str]:
    """The placeholder credential to send for a recorded request (header name -> value); {} if none."""
    credential = entry.get("_credential")
    if not isinstance(credential, dict):
        return {}
    label = _CLEAN.sub("", str(credential.get("label", "")))
    if credential.get("header") == "api-secret":
        return {"api-secret": _secret(label)}
    if credential.get("scheme") == "basic":
        basic = base64.b64encode(f"{_customer(label)}:{_secret(label)}".encode()).decode()
        return {"authorization": f"Basic {basic}"}
    if credential.get("scheme") == "token":
        return {"authorization": f"agora token={_token(label)}"}
    return {}


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _header(headers: Iterable[dict[str, Any]], name: str) -> str | None:
    return next((str(h.get("value")) for h in headers if str(h.get("name", "")).lower() == name), None)


class _Account:
    def __init__(self, label: str) -> None:
        self.label = label
        self.refused_only = True
        self.dialect: str | None = None
        self.rate_limit: int | None = None
        self.agents: dict[str, list[str]] = {}  # code -> active rooms, in order seen


def fixture_from_entries(entries: list[dict[str, Any]], *, description: str = "") -> dict[str, Any]:
    """The fixture document (valid against ``fixture.schema.json``) a recording implies."""
    contract = load_contract()
    accounts: dict[str, _Account] = {}
    customers: dict[str, dict[str, dict[str, Any]]] = {}  # label -> appid -> project
    token_projects: dict[str, set[str]] = {}  # token label -> App IDs
    numbers: dict[str, dict[str, Any]] = {}  # E.164 -> imported number, shown before the recording made it
    made: set[str] = set()  # numbers the recording imports itself
    for entry in entries:
        request, response = entry["request"], entry.get("response") or {}
        parts = urlsplit(str(request.get("url", "")))
        method = str(request.get("method", "GET"))
        op = contract.match(method, parts.path)
        if op is None:
            continue
        matched = contract.table.match(parts.path)
        params = {k: unquote(v) for k, v in (matched[1] if matched else {}).items()}
        status = int(response.get("status") or 0)
        credential = entry.get("_credential") if isinstance(entry.get("_credential"), dict) else None
        label = _CLEAN.sub("", str(credential.get("label", ""))) if credential else ""
        answer = _json((response.get("content") or {}).get("text"))
        sent = _json((request.get("postData") or {}).get("text"))
        if op.operation_id in ("bithuman_speak", "bithuman_add_context"):
            if credential is None or credential.get("header") != "api-secret" or status in (0, 401, 502, 504):
                continue
            account = accounts.setdefault(label, _Account(label))
            _bithuman(account, params.get("agent_code", ""), status, answer, sent, response.get("headers") or [])
            continue
        appid = params.get("appid")
        if credential is not None and status not in (0, 401, 403, 502, 504):
            if credential.get("scheme") == "basic":
                projects = customers.setdefault(label, {})
                if appid:
                    projects.setdefault(appid, {"appid": appid})
            elif credential.get("scheme") == "token" and appid:
                token_projects.setdefault(label, set()).add(appid)
        if op.operation_id == "add_phone_number" and isinstance(sent, dict):
            number = sent.get("phone_number")
            if isinstance(number, str) and status == 409 and number not in made:
                numbers.setdefault(number, _number(sent))
            elif isinstance(number, str) and status < 300:
                made.add(number)
        if op.operation_id in ("get_phone_number", "list_phone_numbers") and status == 200:
            items = answer if isinstance(answer, list) else [answer]
            if isinstance(answer, dict) and isinstance(answer.get("data"), list):
                items = answer["data"]
            for item in items:
                number = item.get("phone_number") if isinstance(item, dict) else None
                if isinstance(number, str) and number not in made:
                    numbers.setdefault(number, _number(item))
        if op.operation_id == "start_call" and isinstance(sent, dict) and status < 500:
            sip = sent.get("sip")
            number = sip.get("from_number") if isinstance(sip, dict) else None
            if isinstance(number, str) and number not in made and status < 400:
                numbers.setdefault(number, _number({"phone_number": number}))
    return _document(accounts, customers, token_projects, numbers, description)


def _bithuman(account: _Account, code: str, status: int, answer: Any, sent: Any, headers: list[dict[str, Any]]) -> None:
    account.refused_only = False
    if isinstance(answer, dict) and "success" in answer:
        account.dialect = "legacy"
    elif isinstance(answer, dict) and account.dialect is None:
        account.dialect = "current"
    limit = _header(headers, "x-ratelimit-limit")
    if limit and limit.isdigit() and int(limit) >= 1:
        account.rate_limit = int(limit)
    room = sent.get("room_id") if isinstance(sent, dict) else None
    if status == 200:
        rooms = account.agents.setdefault(code, [])
        listed = answer.get("rooms") if isinstance(answer, dict) else None
        data = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(listed, list):
            rooms += [r for r in listed if isinstance(r, str) and r not in rooms]
        if isinstance(room, str) and room not in rooms:
            rooms.append(room)
        count = (data or {}).get("delivered_to_rooms") if isinstance(data, dict) else None
        if isinstance(count, int) and room is None:
            rooms += [f"room-{i}" for i in range(len(rooms) + 1, min(count, 1000) + 1)]
    elif status == 404 and "no active" in orjson.dumps(answer).decode().lower():
        account.agents.setdefault(code, [])


def _number(item: dict[str, Any]) -> dict[str, Any]:
    number: dict[str, Any] = {
        "provider": item.get("provider") if item.get("provider") in ("byo", "twilio") else "byo",
        "phone_number": item["phone_number"],
        "label": str(item.get("label") or "recorded"),
    }
    for key in ("inbound", "outbound"):
        if isinstance(item.get(key), bool):
            number[key] = item[key]
    for key in ("inbound_config", "outbound_config"):
        if isinstance(item.get(key), dict):
            number[key] = item[key]
    return number


def _document(
    accounts: dict[str, _Account],
    customers: dict[str, dict[str, dict[str, Any]]],
    token_projects: dict[str, set[str]],
    numbers: dict[str, dict[str, Any]],
    description: str,
) -> dict[str, Any]:
    document: dict[str, Any] = {"version": 1, "description": description or "Arranged from a recording"}
    bithuman = []
    for account in accounts.values():
        if account.refused_only:
            continue
        one: dict[str, Any] = {"id": f"replay-{account.label}", "secrets": [_secret(account.label)]}
        if account.dialect is not None:
            one["dialect"] = account.dialect
        if account.rate_limit is not None:
            one["rate_limit"] = account.rate_limit
        one["agents"] = [{"code": code, "rooms": rooms} for code, rooms in account.agents.items()]
        bithuman.append(one)
    if bithuman:
        document["bithuman"] = {"accounts": bithuman}
    owner: dict[str, str] = {appid: label for label, projects in customers.items() for appid in projects}
    for label, appids in sorted(token_projects.items()):
        for appid in sorted(appids):
            holder = owner.get(appid)
            if holder is None:  # a project only ever reached with a token: a customer of its own
                holder = owner[appid] = label
                customers.setdefault(label, {})[appid] = {"appid": appid}
            project = customers[holder][appid]
            project.setdefault("tokens", []).append(_token(label))
            # A recorded AccessToken2 was redacted and is replayed as this fixed token.
    agora = []
    for label, projects in customers.items():
        customer: dict[str, Any] = {
            "id": _customer(label),
            "secret": _secret(label),
            "projects": list(projects.values()),
        }
        agora.append(customer)
    if agora:
        # Imported numbers belong to an account: the first customer's (a recording rarely has two).
        if numbers:
            agora[0]["phone_numbers"] = list(numbers.values())
        document["agora"] = {"customers": agora}
    return document
