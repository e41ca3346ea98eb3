"""What every generated case is given so that it reaches only the target's own resources.

Applied to every case, negative or not. On any target, path parameters name the target's own
project and agent (unless the path is the negative part). Against the real APIs, a delivery goes to
the environment's one room (never a broadcast to every live room), an agent joins only the channel,
with the token, the environment gives, and a call rings only the environment's callee, from its own
number: a request the API accepts by mistake must still reach no one else.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from schemathesis.core.parameters import ParameterLocation

if TYPE_CHECKING:
    import schemathesis

    from .target import Target

__all__ = ["guard"]

_channels = itertools.count(1)


def _own_resources(case: schemathesis.Case, target: Target) -> None:
    """Path parameters that name the target's own project and agent (unless they are the negative part).

    Applied here rather than as schemathesis parameter overrides, which the stateful phase ignores.
    """
    meta = case.meta
    if not isinstance(case.path_parameters, dict) or (meta is not None and meta.is_negative_at(ParameterLocation.PATH)):
        return
    creds = target.credentials
    if "appid" in case.path_parameters and creds.agora_appid:
        case.path_parameters["appid"] = creds.agora_appid
    # Against the real API, generated requests name your agent only when they can be aimed at its
    # one room (see _bithuman); otherwise generated codes name no agent (404).
    aimed = target.env is None or bool(target.env.bithuman_room)
    if "agent_code" in case.path_parameters and creds.bithuman_agent and aimed:
        case.path_parameters["agent_code"] = creds.bithuman_agent


def _start_agent(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    props = body.get("properties") if isinstance(body, dict) else None
    env = target.env
    if env is not None and isinstance(props, dict):
        props["channel"] = env.agora_channel or f"ct-channel-{next(_channels)}"
        props["token"] = env.agora_token


def _start_call(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    sip = body.get("sip") if isinstance(body, dict) else None
    if target.env is not None and isinstance(sip, dict):
        sip["to_number"] = target.credentials.agora_to_number
        sip["from_number"] = target.credentials.agora_from_number


def _bithuman(case: schemathesis.Case, target: Target) -> None:
    env = target.env
    if env is not None and isinstance(case.body, dict):
        case.body["room_id"] = env.bithuman_room


_GUARDS: dict[str, Callable[[schemathesis.Case, Target], None]] = {
    "start_agent": _start_agent,
    "start_call": _start_call,
    "bithuman_speak": _bithuman,
    "bithuman_add_context": _bithuman,
}


def guard(case: schemathesis.Case, target: Target) -> None:
    """Aim ``case`` at the target's own resources (its body already copied, see ``repairs.repair``)."""
    _own_resources(case, target)
    rule = _GUARDS.get(case.operation.definition.raw.get("operationId", ""))
    if rule is not None:
        rule(case, target)
