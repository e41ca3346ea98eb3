"""Fault rules on the control plane: list, add (checked against the contract), delete, clear."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Exchange, json_response
from ..pipeline import FAULT_STATUSES
from ..spec import load_spec
from ..world.errors import DomainError, ErrorCode

__all__ = ["add_fault", "clear_faults", "delete_fault", "list_faults"]


def list_faults(ex: Exchange) -> Response:
    return json_response([r.to_dict() for r in ex.world.faults.list()])


def add_fault(ex: Exchange) -> Response:
    spec = ex.body
    operation = spec.get("operation")
    status = spec.get("status")
    if operation is not None:
        op = load_spec().operations.get(operation)
        if op is None:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"operation {operation!r} is not an operationId of the contract",
                field="operation",
            )
        if status is not None and str(status) not in op.responses:
            documented = ", ".join(s for s in op.responses if s.startswith(("4", "5")))
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"{operation} does not document status {status}; it documents {documented}",
                field="status",
            )
    elif status is not None and status not in FAULT_STATUSES:
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"status must be one of {', '.join(map(str, FAULT_STATUSES))}", field="status"
        )
    return json_response(ex.world.faults.add(spec).to_dict(), 201)


def delete_fault(ex: Exchange) -> Response:
    ex.world.faults.remove(int(ex.path["fault_id"]))
    return Response(status_code=204)


def clear_faults(ex: Exchange) -> Response:
    return json_response({"dropped": ex.world.faults.clear()})
