"""Every answer the model tests receive is checked against the contract, as schemathesis checks its own.

A vendor operation's answer must have a status the operation documents and, when that response
has a body, a JSON body valid against its schema. So the state machines also catch drift in the
responses of the long, stateful sequences schemathesis does not generate.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs
import orjson

from mockserver.spec import load_spec

from . import report

__all__ = ["ContractViolation", "check"]


class ContractViolation(AssertionError):
    """An answer the contract does not allow."""


@cache
def _validator(operation_id: str, status: str) -> Any:
    spec = load_spec()
    op = spec.operations[operation_id]
    content = op.responses[status].get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return None
    return jsonschema_rs.validator_for({**schema, "components": spec.document.get("components", {})})


def check(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    """Raise ``ContractViolation`` if this answer of a vendor operation breaks the contract."""
    op_id = report.operation_of(method, path)
    if op_id is None or status == 405:  # not an operation (a wrong method is answered outside the contract)
        return
    responses = load_spec().operations[op_id].responses
    if str(status) not in responses:
        raise ContractViolation(
            f"{op_id} answered {status}, which the contract does not document "
            f"(documented: {', '.join(sorted(responses))}): {body[:300]!r}"
        )
    declared = responses[str(status)].get("content")
    if not declared:
        if body not in (b"", b"{}"):
            raise ContractViolation(f"{op_id} {status} must have no body, got {body[:200]!r}")
        return
    media = content_type.split(";")[0].strip()
    if media not in declared:
        raise ContractViolation(f"{op_id} {status}: content type {media!r}, the contract says {sorted(declared)}")
    validator = _validator(op_id, str(status))
    if validator is None:
        return
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ContractViolation(f"{op_id} {status}: the body is not JSON: {body[:200]!r}") from None
    errors = [f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(value)]
    if errors:
        raise ContractViolation(f"{op_id} {status}: the body does not match the contract: {errors[:3]}")
