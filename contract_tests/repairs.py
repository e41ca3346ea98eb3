"""Generated cases kept within the contract's rules across fields, so that valid data means valid.

schemathesis' ``positive_data_acceptance`` expects every schema-valid request to be accepted. A few
operations have rules across fields that the JSON Schemas do not state (``rules.py``: ``join`` needs
``llm`` and ``tts`` unless a preset, pipeline or MLLM replaces them; uids are integer strings unless
``enable_string_uid``; ...) or preconditions on the world (a call goes out from an imported number).
A positive case that breaks one of them is not a valid request, so it is repaired here to the
nearest one that keeps the rule; negative cases are left alone. Before that, ``guards.py`` aims
every case at the target's own resources. Against the real APIs, positive cases also use only what
the environment provides (its pipeline or preset).
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


def _without_mllm(props: dict[str, Any]) -> None:
    # In the stateful phase agents are followed by `speak`, which the contract refuses (400) on an
    # agent that uses an MLLM (rules.uses_mllm): start them without one.
    if isinstance(props.get("mllm"), dict):
        props["mllm"] = {**props["mllm"], "enable": False}
    if isinstance(props.get("advanced_features"), dict):
        props["advanced_features"] = {**props["advanced_features"], "enable_mllm": False}


def _start_agent(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict) or not _positive_body(case):
        return
    env = target.env
    if _stateful(case):
        _without_mllm(props)
    if not rules.uids_are_valid(props, []):
        props["enable_string_uid"] = True
    if not rules.has_modules(body, props, preset_counts=True) or env is not None:
        if env is not None and env.agora_pipeline:
            body["pipeline_id"] = env.agora_pipeline
        else:
            body["preset"] = env.agora_preset if env is not None and env.agora_preset else EXAMPLE_PRESET


def _start_call(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    if not isinstance(body, dict):
        return
    sip, props = body.get("sip"), body.get("properties")
    if not _positive_body(case) or not isinstance(sip, dict) or not isinstance(props, dict):
        return
    # A call goes out from an imported number with outbound calling (a precondition on the world).
    sip["from_number"] = target.credentials.agora_from_number
    if not rules.uids_are_valid(props, [sip.get("rtc_uid")]):
        props["enable_string_uid"] = True
    if not rules.has_modules(body, props, preset_counts=False) or target.env is not None:
        env = target.env
        body["pipeline_id"] = env.agora_pipeline if env is not None and env.agora_pipeline else EXAMPLE_PIPELINE


def _add_phone_number(case: schemathesis.Case, target: Target) -> None:
    if not _positive_body(case):
        return
    body: Any = case.body
    inbound = body.get("inbound_config")
    if isinstance(inbound, dict) and isinstance(inbound.get("allowed_addresses"), list):
        inbound["allowed_addresses"] = [a if rules.is_cidr(a) else "10.0.0.0/8" for a in inbound["allowed_addresses"]]


def _speak_agent(case: schemathesis.Case, target: Target) -> None:
    body: Any = case.body
    if _positive_body(case) and isinstance(body.get("text"), str):
        body["text"] = rules.fits_speak(body["text"])


_REPAIRS: dict[str, Callable[[schemathesis.Case, Target], None]] = {
    "start_agent": _start_agent,
    "start_call": _start_call,
    "add_phone_number": _add_phone_number,
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
