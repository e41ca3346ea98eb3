"""The contract's rules across fields, which its JSON Schemas do not state: the one place the suite says them.

Each is cited from ``openapi.yaml`` (and api-facts §2.5.6 for ``join``); ``repairs.py`` keeps
generated cases within them. The mock enforces the same rules in its world, independently: this
module is the suite's reading of the contract, not the mock's code.

- ``has_modules``: ``join`` needs ``llm`` (with ``url``) and ``tts`` unless ``pipeline_id``, ``preset``
  (``join`` only: a call has no preset), ``mllm.enable`` or ``advanced_features.enable_mllm``
  replaces them (StartAgentProperties).
- ``uids_are_valid``: uids (``agent_rtc_uid``, ``remote_rtc_uids``, a call's ``sip.rtc_uid``) are
  integer strings or ``*`` unless ``enable_string_uid`` is true (StartAgentProperties.enable_string_uid).
- ``uses_mllm``: an agent with an MLLM refuses ``speak`` (400).
- ``is_cidr``: ``allowed_addresses`` are CIDR blocks (PhoneNumberInboundConfig).
- ``fits_speak``: ``speak`` text is at most ``SPEAK_MAX_BYTES`` bytes of UTF-8 (``x-max-utf8-bytes``),
  a limit in bytes that ``maxLength`` cannot state.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

__all__ = ["SPEAK_MAX_BYTES", "fits_speak", "has_modules", "is_cidr", "uids_are_valid", "uses_mllm"]

SPEAK_MAX_BYTES = 512
_DIGITS = re.compile(r"^[0-9]+$")


def uids_are_valid(props: dict[str, Any], extra: list[Any]) -> bool:
    """The uids of ``props`` (and ``extra`` ones) as ``enable_string_uid`` allows them."""
    # StartAgentProperties.enable_string_uid: "false (default): uids must be integer strings".
    if props.get("enable_string_uid"):
        return True
    remote = props.get("remote_rtc_uids")
    uids = [props.get("agent_rtc_uid"), *(remote if isinstance(remote, list) else []), *extra]
    return all(isinstance(u, str) and (u == "*" or _DIGITS.match(u)) for u in uids)


def uses_mllm(props: dict[str, Any]) -> bool:
    mllm, features = props.get("mllm"), props.get("advanced_features")
    return (isinstance(mllm, dict) and bool(mllm.get("enable"))) or (
        isinstance(features, dict) and bool(features.get("enable_mllm"))
    )


def has_modules(body: dict[str, Any], props: dict[str, Any], *, preset_counts: bool) -> bool:
    """Whether the request names its LLM and TTS, or something that replaces them."""
    # StartAgentProperties: llm (with url) and tts are required unless pipeline_id, preset,
    # mllm.enable or advanced_features.enable_mllm replace them.
    if body.get("pipeline_id") or (preset_counts and body.get("preset")):
        return True
    if uses_mllm(props):
        return True
    llm = props.get("llm")
    return isinstance(llm, dict) and bool(llm.get("url")) and bool(props.get("tts"))


def is_cidr(value: Any) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return True


def fits_speak(text: str) -> str:
    """``text`` cut to ``SPEAK_MAX_BYTES`` bytes of UTF-8 (whole characters), never empty."""
    while len(text.encode("utf-8")) > SPEAK_MAX_BYTES:
        text = text[:-1]
    return text or "x"
