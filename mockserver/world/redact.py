"""Redaction by rule: the one place that decides what of a request may be shown.

Everything that shows request data (the request journal, the access log) goes through here. Two
kinds of rule, applied everywhere:

- **by name**: a header, a JSON key or a ``name=value`` / ``"name": value`` pair in raw text whose
  name looks like a credential (secret, token, key, password, authorization, credential,
  signature, cookie, ...) has its value replaced; so does every value of a ``headers`` object
  (custom LLM headers carry credentials under any name);
- **by shape**: wherever it appears, a value that looks like a credential is replaced: ``Bearer …``,
  ``Basic …``, ``agora token=…``, ``sk-…``-style API keys, AccessToken2 (``007…``), JWTs, and the
  user-info of a URL (``https://user:pass@host``).

Raw text (a body that did not parse, a query string, a header value) gets both rules as a regex
pass, so a malformed body hides its secrets as well as a parsed one. Pure Python.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "CREDENTIAL_HEADERS",
    "REDACTED",
    "is_secret_name",
    "redact_header",
    "redact_text",
    "redact_value",
]

REDACTED = "[redacted]"


class _Lazy:
    """A pattern compiled when first used: most runs redact nothing before their first request,
    and compiling these at import was a few milliseconds of every start-up."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source, self.flags = source, flags
        self._compiled: re.Pattern[str] | None = None

    def __call__(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:  # two threads may both compile it the first time: the same pattern
            compiled = self._compiled = re.compile(self.source, self.flags)
        return compiled


# Names (of headers, JSON keys, query parameters) whose values are credentials. Matching is by
# substring, so ``x-api-secret``, ``x-auth-token``, ``apiKey`` and ``llm_api_key`` all count.
_NAME = r"secret|token|key|passw(?:or)?d|pwd|authori[sz]ation|auth|credential|signature|cookie|session[-_]?id"
_SECRET_NAME = _Lazy(_NAME, re.IGNORECASE)
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "api-secret"})
_HEADER_MAPS = frozenset({"headers", "http_headers", "extra_headers"})

# Shapes of credentials, found anywhere in text. Each keeps a short prefix (the scheme) so the
# reader still sees what kind of credential was sent. The text is attacker-controlled: every
# pattern starts only where a token starts (a look-behind, not ``\b``, where the token's own
# characters include non-word ones), so a pass stays linear on any input. Each comes with the
# lower-case substrings one of which any match contains: a substring test (fast, in C) decides
# whether the pattern runs at all.
_SHAPES: list[tuple[_Lazy, str, tuple[str, ...]]] = [
    # ``Authorization`` schemes, also inside other text: "Bearer sk-...", "Basic dXNlcjpwYXNz",
    # "agora token=007..." (the words that follow "Basic" in the vendors' own messages are kept).
    (
        _Lazy(
            r"\b(Bearer\s+|Basic\s+(?!(?:auth|authentication|credentials)\b)|agora\s+token=)"
            r"(?!\[redacted\])[^\s\"',;&}\]]+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
        ("bearer", "basic", "token="),
    ),
    # URL user-info: scheme://user:password@host.
    (_Lazy(r"(://)[^/\s@\"']+@"), r"\1" + REDACTED + "@", ("://",)),
    # API keys with a vendor prefix: sk-..., sk_live_..., pk-..., rk_..., xoxb-...
    (
        _Lazy(r"(?<![\w\-])(?:sk|pk|rk|ak|xox[abpr])[-_][A-Za-z0-9_\-]{6,}"),
        REDACTED,
        ("sk-", "sk_", "pk-", "pk_", "rk-", "rk_", "ak-", "ak_", "xox"),
    ),
    # JSON Web Tokens.
    (_Lazy(r"(?<![\w\-.])eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"), REDACTED, ("eyj",)),
    # AccessToken2 (Agora): "007" and base64.
    (_Lazy(r"(?<![A-Za-z0-9+/])007[A-Za-z0-9+/]{16,}={0,2}"), REDACTED, ("007",)),
]
# A pair is redacted only when its name holds one of these (the substrings of ``_NAME``).
_NAME_WORDS = ("secret", "token", "key", "passw", "pwd", "auth", "credential", "signature", "cookie", "session")
# Any trigger at all: most header values and strings hold none, and one search says so.
_ANY_TRIGGER = _Lazy("|".join(re.escape(t) for t in {*_NAME_WORDS, *(t for *_, ts in _SHAPES for t in ts)}))


def _pairs(separators: str) -> _Lazy:
    # ``name: value``, ``"name": "value"``, ``name=value``; ``_pair`` decides by the name. The name
    # is a whole token taken possessively (no backtracking into it), so the pass is linear. A
    # quoted value may be cut short by truncation: the closing quote is optional, so a secret cut
    # at the end of a clipped body is still hidden.
    return _Lazy(
        r"""(?P<name>(?<![\w.\-])["']?(?P<word>[\w.\-]++)["']?\s*[""" + separators + r"""]\s*)"""
        r"""(?P<value>"(?:[^"\\]|\\.)*+"?|'[^']*+'?|(?:(?:Bearer|Basic)\s+)?(?:\[redacted\]|[^\s,&;}\]"']++))""",
        re.IGNORECASE,
    )


# Raw text (malformed JSON, YAML, query strings, form bodies, header values) takes both
# separators; a string inside parsed JSON takes ``=`` only (a URL's ``?api_key=...``), since
# ``token: ...`` there is prose ("Invalid token: it has expired").
_PAIR_RAW = _pairs(":=")
_PAIR_IN_STRING = _pairs("=")


def is_secret_name(name: str) -> bool:
    """Whether a header, key or parameter of this name carries a credential."""
    return name.lower() in CREDENTIAL_HEADERS or _SECRET_NAME().search(name) is not None


def _pair(match: re.Match[str]) -> str:
    value = match.group("value")
    if _SECRET_NAME().search(match.group("word")) is None:
        # Not a credential's name: look inside the value ("note": "see token=abc"). A quoted value
        # holds no quote of its kind, so this goes one level deep at most.
        return match.group("name") + match.re.sub(_pair, value) if value[:1] in ("'", '"') else match.group(0)
    if value.strip("'\"") == REDACTED:
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return match.group("name") + quote + REDACTED + quote


def redact_text(text: str, *, raw: bool = True) -> str:
    """Text with credentials hidden, by name (``key=value`` pairs) and by shape.

    Args:
        text: the text.
        raw: the text is unparsed (a body, a query string): ``name: value`` pairs count too.
    """
    lowered = text.lower()
    if _ANY_TRIGGER().search(lowered) is None:
        return text
    for pattern, replacement, triggers in _SHAPES:
        if any(t in lowered for t in triggers):
            text = pattern().sub(replacement, text)
    if not any(word in lowered for word in _NAME_WORDS):
        return text
    return (_PAIR_RAW if raw else _PAIR_IN_STRING)().sub(_pair, text)


def redact_header(name: str, value: str) -> str:
    """A header value as it may be shown."""
    return REDACTED if is_secret_name(name) else redact_text(value)


def redact_value(value: Any, *, _in_headers: bool = False) -> Any:
    """A copy of a parsed JSON value with credentials hidden, by key name and by shape.

    Only strings and containers under a secret-looking key are replaced: a number under
    ``max_tokens`` is not a credential. The caller bounds the depth (recursion here follows it).
    """
    if isinstance(value, dict):
        shown: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if (_in_headers or is_secret_name(name)) and isinstance(item, str | list | dict):
                shown[name] = REDACTED
            else:
                shown[name] = redact_value(item, _in_headers=name.lower() in _HEADER_MAPS)
        return shown
    if isinstance(value, list):
        return [redact_value(item, _in_headers=_in_headers) for item in value]
    if isinstance(value, str):
        return REDACTED if _in_headers else redact_text(value, raw=False)
    return value
