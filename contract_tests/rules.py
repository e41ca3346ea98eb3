"""The contract's rules that its JSON Schemas cannot state: the one place the suite says them.

``openapi.yaml`` states every rule across fields that JSON Schema 2020-12 can express (``join``
and ``call`` need ``llm`` and ``tts`` unless a pipeline, preset or MLLM replaces them; uids are
integer strings unless ``enable_string_uid``; ``allowed_addresses`` are CIDR blocks), so generated
cases keep those by construction. What is left depends on bytes or on the world, and ``repairs.py``
keeps positive cases within it:

- ``fits_speak``: ``speak`` text is at most ``SPEAK_MAX_BYTES`` bytes of UTF-8 (``x-max-utf8-bytes``),
  a limit in bytes that ``maxLength`` cannot state.
- ``uses_mllm``: an agent with an MLLM refuses ``speak`` (400), a rule of the agent that was
  started, not of the ``speak`` request.

The mock enforces the same rules in its world, independently: this module is the suite's reading
of the contract, not the mock's code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SPEAK_MAX_BYTES", "fits_speak", "uses_mllm"]

SPEAK_MAX_BYTES = 512


def uses_mllm(props: dict[str, Any]) -> bool:
    mllm, features = props.get("mllm"), props.get("advanced_features")
    return (isinstance(mllm, dict) and bool(mllm.get("enable"))) or (
        isinstance(features, dict) and bool(features.get("enable_mllm"))
    )


def fits_speak(text: str) -> str:
    """``text`` cut to ``SPEAK_MAX_BYTES`` bytes of UTF-8 (whole characters), never empty."""
    while len(text.encode("utf-8")) > SPEAK_MAX_BYTES:
        text = text[:-1]
    return text or "x"
