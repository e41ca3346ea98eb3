"""Every answer the model tests receive is checked against the contract, as schemathesis checks its own.

A vendor operation's answer must have a status the operation documents and, when that response
has a body, a JSON body valid against its schema (``Contract.check_response``, the same check the
unit tests' client runs). So the state machines also catch drift in the responses of the long,
stateful sequences schemathesis does not generate.
"""

from __future__ import annotations

from mockserver.contract import load_contract

from . import report

__all__ = ["ContractViolation", "check"]


class ContractViolation(AssertionError):
    """An answer the contract does not allow."""


def check(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    """Raise ``ContractViolation`` if this answer of a vendor operation breaks the contract."""
    op = report.operation_of(method, path)
    if op is None or status == 405:  # not an operation (a wrong method is answered outside the contract)
        return
    problems = load_contract().check_response(op, status, {"content-type": content_type}, body)
    if problems:
        raise ContractViolation("; ".join(problems))
