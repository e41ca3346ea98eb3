"""Rules the contract states in prose, which its JSON Schemas cannot say, applied to generated cases.

schemathesis' ``positive_data_acceptance`` expects every schema-valid request to be accepted. A
few operations have documented rules across fields (``join`` needs ``llm`` and ``tts`` unless a
preset, pipeline or MLLM replaces them; uids are integer strings unless ``enable_string_uid``) or
preconditions on the world (a call goes out from an imported number). A positive case that breaks
one of them is not a valid request, so it is repaired here to the nearest one that keeps the rule,
citing the contract; negative cases are left alone. Against the real APIs some fields are forced on
every case, negative or not, so that no generated request reaches someone else (a broadcast to every
live room, a call to a random number) or uses what the environment did not provide.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from schemathesis.core.parameters import ParameterLocation

if TYPE_CHECKING:
    import schemathesis

    from .target import Target

__all__ = ["before_send", "repair"]

_unique = itertools.count(1)
_DIGITS = re.compile(r"^[0-9]+$")
EXAMPLE_PRESET = "deepgram_nova_3,openai_gpt_4o_mini,minimax_speech_2_6_turbo"  # the contract's own example
EXAMPLE_PIPELINE = "28"


def _positive_body(case: schemathesis.Case) -> bool:
    meta = case.meta
    return isinstance(case.body, dict) and (meta is None or not meta.is_negative_at(ParameterLocation.BODY))


def _stateful(case: schemathesis.Case) -> bool:
    return case.meta is not None and case.meta.phase.name.value == "stateful"


def _uids_are_valid(props: dict[str, Any], extra: list[Any]) -> bool:
    # StartAgentProperties.enable_string_uid: "false (default): uids must be integer strings".
    if props.get("enable_string_uid"):
        return True
    remote = props.get("remote_rtc_uids")
    uids = [props.get("agent_rtc_uid"), *(remote if isinstance(remote, list) else []), *extra]
    return all(isinstance(u, str) and (u == "*" or _DIGITS.match(u)) for u in uids)


def _has_modules(body: dict[str, Any], props: dict[str, Any], *, preset_counts: bool) -> bool:
    # StartAgentProperties: llm (with url) and tts are required unless pipeline_id, preset,
    # mllm.enable or advanced_features.enable_mllm replace them.
    if body.get("pipeline_id") or (preset_counts and body.get("preset")):
        return True
    mllm, features = props.get("mllm"), props.get("advanced_features")
    if (isinstance(mllm, dict) and mllm.get("enable")) or (isinstance(features, dict) and features.get("enable_mllm")):
        return True
    llm = props.get("llm")
    return isinstance(llm, dict) and bool(llm.get("url")) and bool(props.get("tts"))


def _without_mllm(props: dict[str, Any]) -> None:
    # In the stateful phase agents are followed by `speak`, which the contract refuses (400) on an
    # agent that uses an MLLM: start them without one.
    if isinstance(props.get("mllm"), dict):
        props["mllm"] = {**props["mllm"], "enable": False}
    if isinstance(props.get("advanced_features"), dict):
        props["advanced_features"] = {**props["advanced_features"], "enable_mllm": False}


def _start_agent(case: schemathesis.Case, target: Target) -> None:
    body = case.body
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        return
    env = target.env
    if env is not None:  # every case: join only the channel, with the token, the environment gives
        props["channel"] = env.agora_channel or f"ct-channel-{next(_unique)}"
        props["token"] = env.agora_token
    if not _positive_body(case):
        return
    if _stateful(case):
        _without_mllm(props)
    if not _uids_are_valid(props, []):
        props["enable_string_uid"] = True
    if not _has_modules(body, props, preset_counts=True) or env is not None:
        if env is not None and env.agora_pipeline:
            body["pipeline_id"] = env.agora_pipeline
        else:
            body["preset"] = env.agora_preset if env is not None and env.agora_preset else EXAMPLE_PRESET


def _start_call(case: schemathesis.Case, target: Target) -> None:
    body = case.body
    if not isinstance(body, dict):
        return
    sip, props = body.get("sip"), body.get("properties")
    creds = target.credentials
    if target.env is not None and isinstance(sip, dict):
        # Every case, negative or not: a call the API accepts by mistake must still ring only the
        # environment's own callee, from its own number.
        sip["to_number"] = creds.agora_to_number
        sip["from_number"] = creds.agora_from_number
    if not _positive_body(case) or not isinstance(sip, dict) or not isinstance(props, dict):
        return
    # A call goes out from an imported number with outbound calling (a precondition on the world).
    sip["from_number"] = creds.agora_from_number
    if not _uids_are_valid(props, [sip.get("rtc_uid")]):
        props["enable_string_uid"] = True
    if not _has_modules(body, props, preset_counts=False) or target.env is not None:
        env = target.env
        body["pipeline_id"] = env.agora_pipeline if env is not None and env.agora_pipeline else EXAMPLE_PIPELINE


def _add_phone_number(case: schemathesis.Case, target: Target) -> None:
    # PhoneNumberInboundConfig.allowed_addresses: "CIDR blocks allowed to send SIP traffic".
    if not _positive_body(case):
        return
    inbound = case.body.get("inbound_config")
    if isinstance(inbound, dict) and isinstance(inbound.get("allowed_addresses"), list):
        inbound["allowed_addresses"] = [a if _is_cidr(a) else "10.0.0.0/8" for a in inbound["allowed_addresses"]]


def _is_cidr(value: Any) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return True


def _speak_agent(case: schemathesis.Case, target: Target) -> None:
    # SpeakAgentRequest.text: `x-max-utf8-bytes: 512`, a limit in bytes that maxLength cannot state.
    if not _positive_body(case) or not isinstance(case.body.get("text"), str):
        return
    text: str = case.body["text"]
    while len(text.encode("utf-8")) > 512:
        text = text[:-1]
    case.body["text"] = text or "x"


def _bithuman(case: schemathesis.Case, target: Target) -> None:
    # Against the real API a delivery goes to the environment's room only, never to every live room.
    env = target.env
    if env is not None and isinstance(case.body, dict):
        case.body["room_id"] = env.bithuman_room


_RULES: dict[str, Callable[[schemathesis.Case, Target], None]] = {
    "start_agent": _start_agent,
    "start_call": _start_call,
    "add_phone_number": _add_phone_number,
    "speak_agent": _speak_agent,
    "bithuman_speak": _bithuman,
    "bithuman_add_context": _bithuman,
}


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
    props = case.body.get("properties")
    n = next(_unique)
    if isinstance(case.body.get("name"), str):
        case.body["name"] = f"{_SUFFIX.sub('', case.body['name'])}~{n}"
    if isinstance(props, dict) and isinstance(props.get("channel"), str):
        props["channel"] = f"{_SUFFIX.sub('', props['channel'])}~{n}"


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


def repair(case: schemathesis.Case, target: Target) -> schemathesis.Case:
    """Apply the documented rules of the case's operation (see the module docstring)."""
    # Copies first: a generated value may be the schema's own example object, shared with later draws.
    if isinstance(case.path_parameters, dict):
        case.path_parameters = dict(case.path_parameters)
    _own_resources(case, target)
    rule = _RULES.get(case.operation.definition.raw.get("operationId", ""))
    if rule is not None:
        if isinstance(case.body, dict):
            case.body = copy.deepcopy(case.body)
        rule(case, target)
    return case
