"""Everything generated requests create is removed again, even when a test fails.

Agents started by ``join``, calls placed by ``call`` and numbers imported by ``add_phone_number``
are noted from their 2xx answers (schemathesis' ``after_call`` hook, or the model tests) and
removed by ``cleanup``: agents leave, calls hang up, numbers are deleted. Against the real API with
``--allow-destructive``, ``NumberSnapshot`` also puts back numbers the run changed or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from .credentials import Credentials
    from .http import Http
    from .target import Target

__all__ = ["AGORA_V2", "NumberSnapshot", "Resources"]

AGORA_V2 = "/api/conversational-ai-agent/v2"


@dataclass
class Resources:
    """Resources created on one target, newest last."""

    target: Target
    credentials: Credentials | None = None  # whose resources (default: the target's)
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, appid or "", id)

    def note(self, operation_id: str | None, path_parameters: dict[str, Any], status: int, body: Any) -> None:
        if not 200 <= status < 300:
            return
        appid = str(path_parameters.get("appid", ""))
        if operation_id == "start_agent" and isinstance(body, dict) and body.get("agent_id"):
            self.items.append(("agent", appid, str(body["agent_id"])))
        elif operation_id == "start_call" and isinstance(body, dict) and body.get("agent_id"):
            self.items.append(("call", appid, str(body["agent_id"])))
        elif operation_id == "add_phone_number" and isinstance(body, dict) and body.get("phone_number"):
            self.items.append(("number", "", str(body["phone_number"])))

    def cleanup(self, http: Http) -> list[str]:
        """Remove every noted resource; returns what could not be removed (and why)."""
        problems = []
        auth = (self.credentials or self.target.credentials).agora_authorization
        headers = {"authorization": auth} if auth else {}
        base = self.target.agora_url + AGORA_V2
        while self.items:
            kind, appid, ident = self.items.pop()
            if kind == "agent":
                url, method = f"{base}/projects/{appid}/agents/{quote(ident, safe='')}/leave", "POST"
            elif kind == "call":
                url, method = f"{base}/projects/{appid}/calls/{quote(ident, safe='')}/hangup", "POST"
            else:
                url, method = f"{base}/phone-numbers/{quote(ident, safe='')}", "DELETE"
            try:
                response = http.request(method, url, headers=headers)
            except Exception as exc:  # keep removing the rest
                problems.append(f"{kind} {ident}: {exc}")
                continue
            # 404: already gone (a stopped agent, an ended call, a deleted number).
            if response.status_code >= 300 and response.status_code != 404:
                problems.append(f"{kind} {ident}: {method} answered {response.status_code} {response.text[:200]}")
        return problems


@dataclass
class NumberSnapshot:
    """The account's phone numbers before a destructive run, to put them back afterwards (real API)."""

    target: Target
    before: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _headers(self) -> dict[str, str]:
        auth = self.target.credentials.agora_authorization
        return {"authorization": auth} if auth else {}

    def take(self, http: Http) -> None:
        response = http.get(f"{self.target.agora_url}{AGORA_V2}/phone-numbers", headers=self._headers())
        response.raise_for_status()
        self.before = {n["phone_number"]: n for n in response.json()}

    def restore(self, http: Http) -> list[str]:
        base = f"{self.target.agora_url}{AGORA_V2}/phone-numbers"
        now = {n["phone_number"]: n for n in http.get(base, headers=self._headers()).json()}
        problems = []
        for number in set(now) - set(self.before):
            r = http.delete(f"{base}/{quote(number, safe='')}", headers=self._headers())
            if r.status_code not in (204, 404):
                problems.append(f"delete {number}: {r.status_code}")
        for number, record in self.before.items():
            if number not in now:
                fields = (
                    "provider",
                    "phone_number",
                    "label",
                    "inbound",
                    "outbound",
                    "inbound_config",
                    "outbound_config",
                )
                body = {k: record[k] for k in fields if record.get(k) is not None}
                r = http.post(base, json=body, headers=self._headers())
            elif {k: now[number].get(k) for k in ("inbound_config", "outbound_config")} != {
                k: record.get(k) for k in ("inbound_config", "outbound_config")
            }:
                body = {k: record.get(k) for k in ("inbound_config", "outbound_config")}
                r = http.patch(f"{base}/{quote(number, safe='')}", json=body, headers=self._headers())
            else:
                continue
            if r.status_code >= 300:
                problems.append(f"restore {number}: {r.status_code} {r.text[:200]}")
        return problems
