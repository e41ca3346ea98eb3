"""Generated cases kept within what the contract cannot state, so that valid data means valid.

schemathesis' ``positive_data_acceptance`` expects every schema-valid request to be accepted. The
rules across fields that JSON Schema can express are in ``openapi.yaml`` itself, so generated cases
keep them. Left are a limit in bytes and preconditions on the world (``rules.py``; a call goes out
from an imported number, under a name and channel not in use; ``speak`` reaches an agent without an
MLLM). A positive case that breaks one of them is repaired here to the nearest one that keeps it;
negative cases are left alone. Before that, ``guards.py`` aims every case at the target's own
resources. Against the real APIs, positive cases also use only what the environment provides (its
pipeline or preset: the account's own LLM and TTS, not generated ones).
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from schemathesis.core.parameters import ParameterLocation

from . import rules
from .guards import guard

if TYPE_CHECKING:
    import schemathesis

    from .target import Target

__all__ = ["before_send", "repair"]

_unique = itertools.count(1)
EXAMPLE_PRESET = "deepgram_nova_3,openai_gpt_4o_mini,minimax_speech_2_6_turbo"  # the contract's own example
EXAMPLE_PIPELINE = "28"


def _positive_body(case: schemathesis.Case) -> bool:
    meta = case.meta
    return isinstance(case.body, dict) and (meta is None or not meta.is_negative_at(ParameterLocation.BODY))


def _stateful(case: schemathesis.Case) -> bool:
    return case.meta is not None and case.meta.phase.name.value == "stateful"


def _without_mllm(body: dict[str, Any], props: dict[str, Any]) -> None:
    # In the stateful phase agents are followed by `speak`, which the contract refuses (400) on an
    # agent that uses an MLLM (rules.uses_mllm): start them without one.
    if not rules.uses_mllm(props):
        return
    if isinstance(props.get("mllm"), dict):
        props["mllm"] = {**props["mllm"], "enable": False}
    if isinstance(props.get("advanced_features"), dict):
        props["advanced_features"] = {**props["advanced_features"], "enable_mllm": False}
    # The MLLM may have been what met the contract's join rule (StartAgentRequest.anyOf): the
    # contract's own preset example stands in for it.
    if not body.get("pipeline_id"):
        body["preset"] = body.get("preset") or EXAMPLE_PRESET


def _start_agent(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict) or not _positive_body(case):
        return
    env = target.env
    if _stateful(case):
        _without_mllm(body, props)
    if env is not None:
        if env.agora_pipeline:
            body["pipeline_id"] = env.agora_pipeline
        else:
            body["preset"] = env.agora_preset or EXAMPLE_PRESET


def _start_call(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    if not isinstance(body, dict):
        return
    sip, props = body.get("sip"), body.get("properties")
    if not _positive_body(case) or not isinstance(sip, dict) or not isinstance(props, dict):
        return
    # A call goes out from an imported number with outbound calling (a precondition on the world).
    sip["from_number"] = target.credentials.agora_from_number
    env = target.env
    if env is not None:
        body["pipeline_id"] = env.agora_pipeline or EXAMPLE_PIPELINE


def _speak_agent(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    if _positive_body(case) and isinstance(body.get("text"), str):
        body["text"] = rules.fits_speak(body["text"])


_REPAIRS: dict[str, Callable[[schemathesis.Case, Target], None]] = {
    "start_agent": _start_agent,
    "start_call": _start_call,
    "speak_agent": _speak_agent,
}
_GUARDED = {*_REPAIRS, "bithuman_speak", "bithuman_add_context"}  # operations whose body guards.py changes


_SUFFIX = re.compile(r"~[0-9]+$")


def before_send(case: schemathesis.Case, target: Target) -> None:
    """Just before a case is sent: the documented rules again, and fresh names for ``call``.

    ``map_case`` does not see every case (the examples phase sends the contract's own examples as
    they are), so ``repair`` runs again here. Then each positive ``call`` gets its own name and
    channel.

    The call API refuses a name or an agent uid already in use (422: the mock's choice, since the
    vendor documents no 409), and an agent that was just hung up stays in its channel while it
    stops, so a replayed case would collide with itself.
    """
    repair(case, target)
    if case.operation.definition.raw.get("operationId") != "start_call" or not _positive_body(case):
        return
    body: Any = case.body
    props = body.get("properties")
    n = next(_unique)
    if isinstance(body.get("name"), str):
        body["name"] = f"{_SUFFIX.sub('', body['name'])}~{n}"
    if isinstance(props, dict) and isinstance(props.get("channel"), str):
        props["channel"] = f"{_SUFFIX.sub('', props['channel'])}~{n}"


def repair(case: schemathesis.Case, target: Target) -> schemathesis.Case:
    """Aim the case at the target's resources (``guards``), then keep it within the rules (see above)."""
    # Copies first: a generated value may be the schema's own example object, shared with later draws.
    if isinstance(case.path_parameters, dict):
        case.path_parameters = dict(case.path_parameters)
    operation_id = case.operation.definition.raw.get("operationId", "")
    if operation_id in _GUARDED and isinstance(case.body, dict):
        case.body = copy.deepcopy(case.body)
    guard(case, target)
    fix = _REPAIRS.get(operation_id)
    if fix is not None:
        fix(case, target)
    return case
