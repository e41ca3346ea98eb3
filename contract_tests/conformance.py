"""The schemathesis side of the suite: the contract as a schema aimed at one target.

``build_schema`` loads ``openapi.yaml`` into schemathesis with every check enabled and both
positive and negative data, and wires it to the target:

- credentials come from an auth provider, so schemathesis can take them away again for its
  ``ignored_auth`` and ``missing_required_header`` probes;
- ``map_case`` names the target's own project and agent in paths and applies the rules the
  contract states in prose (``repairs.py``);
- ``after_call`` notes what was created (``resources.py``) and counts calls, ``after_validate``
  counts checks (``report.py``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import schemathesis
from schemathesis.config import SchemathesisConfig

from mockserver.spec import load_spec

from . import repairs, report
from .resources import Resources

if TYPE_CHECKING:
    from .target import Target

__all__ = ["SAFETY", "ConformanceSchema", "build_schema", "operation_id", "safety"]

# What an operation may do to a real account (see docs/contract-tests.md). Everything not named
# here is safe: reads, and actions on an agent or call by id (a generated id names nothing).
SAFETY = {
    "start_agent": "costly",  # starts an agent: billed by the minute
    "start_call": "costly",  # places a phone call (and starts its agent)
    "add_phone_number": "destructive",
    "update_phone_number": "destructive",
    "delete_phone_number": "destructive",
}


def safety(op_id: str) -> str:
    return SAFETY.get(op_id, "safe")


def operation_id(operation: Any) -> str:
    return str(operation.definition.raw.get("operationId", ""))


class ConformanceSchema:
    """A schemathesis schema for one target, with the resources its calls created."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.resources = Resources(target)
        self.schema = build_schema(target, self.resources)

    def call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
        """Where one case goes: in process (the schema's app) or the vendor's base URL."""
        if self.target.app is not None:
            return {}
        kwargs: dict[str, Any] = {"base_url": self.target.base_url(case.operation.path)}
        session = self.target.session()
        if session is not None:
            kwargs["session"] = session
        return kwargs

    def cleanup(self) -> list[str]:
        return self.resources.cleanup(self.target.cleanup_http())

    def check(self, case: schemathesis.Case) -> None:
        """Send one case with every check, then remove what it created (even if a check failed)."""
        try:
            repairs.before_send(case, self.target)
            case.call_and_validate(**self.call_kwargs(case))
        finally:
            problems = self.cleanup()
        assert not problems, f"could not remove what the case created: {problems}"


def build_schema(target: Target, resources: Resources) -> schemathesis.BaseSchema:
    creds = target.credentials
    raw: dict[str, Any] = {"generation": {"mode": "all"}}
    if target.kind == "real" and not target.thorough:
        # The coverage phase sends every boundary of every field: thousands of requests for `join`
        # (each a billed agent) and hours at the vendors' rate limits. Against the real APIs the
        # examples and a few generated cases per operation run; --thorough adds the coverage phase.
        raw["phases"] = {"coverage": {"enabled": False}}
    if target.kind == "url":
        raw["base-url"] = target.agora_url
    config = SchemathesisConfig.from_dict(raw)
    schema = schemathesis.openapi.from_dict(copy.deepcopy(load_spec().document), config=config)
    if target.app is not None:
        schema.app = target.app

    # No caching: the credential depends on the operation's vendor (a cached one would be replayed
    # on the other vendor's operations, then refreshed on their 401s).
    @schema.auth(refresh_interval=None)
    class VendorAuth:
        """The target's credentials for the operation's vendor."""

        def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> tuple[str, str] | None:
            if report.vendor_of(case.operation.path) == "bithuman":
                return ("api-secret", creds.bithuman_secret) if creds.bithuman_secret else None
            authorization = creds.agora_authorization
            return ("Authorization", authorization) if authorization else None

        def set(self, case: schemathesis.Case, data: tuple[str, str], ctx: schemathesis.AuthContext) -> None:
            name, value = data
            case.headers = {**(case.headers or {}), name: value}

    def map_case(ctx: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
        return repairs.repair(case, target)

    def after_call(ctx: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response) -> None:
        op = operation_id(case.operation)
        if target.counted:
            report.record_case(op, response.status_code)
        try:
            body = response.json()
        except Exception:  # a body that is not JSON created nothing
            body = None
        resources.note(op, dict(case.path_parameters or {}), response.status_code, body)

    def after_validate(
        ctx: schemathesis.HookContext,
        case: schemathesis.Case,
        response: schemathesis.Response,
        results: list[schemathesis.CheckResult],
    ) -> None:
        if target.counted:
            report.record_checks(results)

    schema.hook(map_case)
    schema.hook(after_call)
    schema.hook(after_validate)
    return schema
