"""The coverage report: what a client suite exercised, against everything it could have.

The universe is derived, never kept by hand: every operation of ``openapi.yaml`` with every status
it documents and, for an error status, every vendor error code or reason its description or
examples name (from the vendor error schemas' vocabularies); the Agora lifecycle (``TRANSITIONS``),
the speak priorities and think actions of the contract in each conversational state (``STATES``),
barge-in and interrupts; the call outcomes (``CALL_OUTCOMES``); the bitHuman delivery outcomes
(``DELIVERY_OUTCOMES``); and the chaos scenarios (``SCENARIOS``). The records come from the world
(``world/coverage.py``); ``record_request`` is the pipeline's one hook.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from .spec import Spec, load_spec
from .world.bithuman import DELIVERY_OUTCOMES
from .world.chaos import SCENARIOS
from .world.conversation import STATES, TRANSITIONS
from .world.telephony import CALL_OUTCOMES

if TYPE_CHECKING:
    from starlette.responses import Response

    from .api.base import Exchange, Family
    from .world import World
    from .world.errors import DomainError

__all__ = ["Item", "html_report", "merge", "record_request", "report", "text_report", "universe"]

_VENDOR_OF_TAG = {"bitHuman Agent Context": "bithuman"}
_DELIVERY_OPS = ("bithuman_speak", "bithuman_add_context")
_CODE = re.compile(r"`([A-Za-z_]+)`")


class Item(NamedTuple):
    """One thing a suite could exercise. Higher ``weight`` gaps are listed first."""

    key: str
    vendor: str
    area: str
    weight: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "vendor": self.vendor, "area": self.area, "weight": self.weight}


# -- the universe ------------------------------------------------------------------------------------


def _resolve(spec: Spec, node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = spec.document["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _vocabulary(spec: Spec) -> set[str]:
    """Every vendor error code or reason the error schemas name (enums, or listed in descriptions)."""
    schemas = spec.document["components"]["schemas"]
    words: set[str] = set(schemas["AgoraError"]["properties"]["reason"]["enum"])
    for text in (
        schemas["BitHumanErrorEnvelope"]["properties"]["error"]["properties"]["code"]["description"],
        schemas["BitHumanLegacyError"]["properties"]["error"]["description"],
        schemas["TelephonyError"]["properties"]["error_type"]["description"],
    ):
        words.update(_CODE.findall(text))
    return words


def _example_codes(response: dict[str, Any]) -> list[str]:
    codes = []
    for media in (response.get("content") or {}).values():
        for example in (media.get("examples") or {}).values():
            value = example.get("value")
            if isinstance(value, dict):
                error = value.get("error")
                code = (
                    value.get("reason")
                    or value.get("error_type")
                    or (error.get("code") if isinstance(error, dict) else error)
                )
                if isinstance(code, str):
                    codes.append(code)
    return codes


def _weight(status: int) -> int:
    if status < 400:
        return 5  # an operation the suite never saw succeed
    if status in (429, 500, 502, 503, 504):
        return 4  # what production does on a bad day
    return 2


def _enum(spec: Spec, schema: str, field: str) -> list[str]:
    values = spec.document["components"]["schemas"][schema]["properties"][field]["enum"]
    return [v for v in values if v is not None]


@lru_cache(maxsize=1)
def universe() -> tuple[Item, ...]:
    """Everything the contract and the world's state machines say a client could exercise."""
    spec = load_spec()
    vocabulary = _vocabulary(spec)
    items: list[Item] = []
    # Each tag's vendor is the contract's own (``x-vendor``), so a new tag lands with its vendor.
    vendor_of_tag = {t["name"]: t.get("x-vendor", "agora") for t in spec.document.get("tags", [])}
    for op in spec.operations.values():
        vendor = _VENDOR_OF_TAG.get(op.tag) or vendor_of_tag.get(op.tag, "agora")
        if op.tag in _VENDOR_OF_TAG:
            area = "operations"
        else:
            area = op.tag.removeprefix("Agora ").removeprefix("bitHuman ").lower()
        for status, response in op.responses.items():
            if not status.isdigit():
                continue
            code = int(status)
            reasons = (
                list(
                    dict.fromkeys(
                        c
                        for c in [*_CODE.findall(response.get("description", "")), *_example_codes(response)]
                        if c in vocabulary
                    )
                )
                if code >= 400
                else []
            )
            for reason in reasons or [""]:
                key = f"op {op.operation_id} {status}" + (f" {reason}" if reason else "")
                items.append(Item(key, vendor, area, _weight(code)))
    for origin, target, cause in TRANSITIONS:
        items.append(
            Item(f"lifecycle {origin} -> {target} ({cause})", "agora", "lifecycle", 3 if target == "FAILED" else 2)
        )
    actions = {state: _enum(spec, "ThinkAgentRequest", f"on_{state}_action") for state in STATES}
    for state in STATES:
        for priority in _enum(spec, "SpeakAgentRequest", "priority"):
            items.append(Item(f"conversation speak {priority} while {state}", "agora", "conversation", 1))
        for action in actions[state]:
            items.append(Item(f"conversation think {action} while {state}", "agora", "conversation", 1))
    items.append(Item("conversation barge-in", "agora", "conversation", 2))
    items.append(Item("conversation interrupt while busy", "agora", "conversation", 2))
    items.append(Item("conversation interrupt while idle", "agora", "conversation", 1))
    for outcome in CALL_OUTCOMES:
        items.append(Item(f"call {outcome}", "agora", "calls", 2))
    for outcome in DELIVERY_OUTCOMES:
        items.append(Item(f"delivery {outcome}", "bithuman", "deliveries", 3 if outcome != "one room" else 2))
    for scenario in SCENARIOS.values():
        items.append(Item(f"chaos {scenario.name}", scenario.vendor, "chaos", 3))
    return tuple(items)


# -- recording (the request pipeline's hook) -------------------------------------------------------


def _reason(body: bytes) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(parsed, dict):
        return ""
    error = parsed.get("error")
    code = parsed.get("reason") or parsed.get("error_type") or (error.get("code") if isinstance(error, dict) else error)
    return code if isinstance(code, str) else ""


def record_request(
    world: World, family: Family, ex: Exchange, response: Response, failure: DomainError | None, tenant: str | None
) -> None:
    """Count one answered vendor request (control-plane requests do not count)."""
    if not family.vendor:
        return
    op, status = ex.operation.operation_id, response.status_code
    if failure is None and status < 400:
        # The usual answer: its keys depend on the operation, the status and the rooms asked for.
        one_room = op in _DELIVERY_OPS and isinstance(ex.body, dict) and bool(ex.body.get("room_id"))
        keys = _SUCCESS_KEYS.get((op, status, one_room))
        if keys is None:
            keys = _success_keys(op, status, one_room)
        world.coverage.record(tenant, keys)
        return
    key = f"op {op} {status}"
    if status >= 400:
        reason = _reason(bytes(response.body))
        key = f"{key} {reason}" if reason else key
    if op not in _DELIVERY_OPS:
        world.coverage.record(tenant, (key,))
        return
    if failure is None:
        where = "one room" if isinstance(ex.body, dict) and ex.body.get("room_id") else "all rooms"
        world.coverage.record(tenant, (key, f"delivery {where}"))
        return
    outcome = next((name for name, code in DELIVERY_OUTCOMES.items() if code and code == failure.code), None)
    world.coverage.record(tenant, (key, f"delivery {outcome}") if outcome else (key,))


# The keys of a success, by (operation, status, one room): built once, then one dict read (the same
# tuple each time, which Coverage counts as one key). The contract bounds the set; so does the size.
_SUCCESS_KEYS: dict[tuple[str, int, bool], tuple[str, ...]] = {}


def _success_keys(op: str, status: int, one_room: bool) -> tuple[str, ...]:
    if op not in _DELIVERY_OPS:
        keys: tuple[str, ...] = (f"op {op} {status}",)
    else:
        keys = (f"op {op} {status}", "delivery one room" if one_room else "delivery all rooms")
    if len(_SUCCESS_KEYS) < 1024:
        _SUCCESS_KEYS[(op, status, one_room)] = keys
    return keys


# -- reports ---------------------------------------------------------------------------------------


def merge(*counts: dict[str, int]) -> dict[str, int]:
    """Sum the counts of several tenants, tests or workers."""
    total: dict[str, int] = {}
    for part in counts:
        for key, n in part.items():
            total[key] = total.get(key, 0) + n
    return total


def report(counts: dict[str, int], items: tuple[Item, ...] | None = None) -> dict[str, Any]:
    """Covered / total per vendor and area, every item with its count, the gaps by weight."""
    items = universe() if items is None else items
    areas: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        area = areas.setdefault(
            (item.vendor, item.area), {"vendor": item.vendor, "area": item.area, "covered": 0, "total": 0}
        )
        area["total"] += 1
        area["covered"] += 1 if counts.get(item.key) else 0
    covered = sum(a["covered"] for a in areas.values())
    known = {item.key for item in items}
    gaps = sorted((i for i in items if not counts.get(i.key)), key=lambda i: (-i.weight, i.vendor, i.area, i.key))
    return {
        "covered": covered,
        "total": len(items),
        "percent": round(100.0 * covered / len(items), 2) if items else 100.0,
        "areas": list(areas.values()),
        "items": [{**i.to_dict(), "count": counts.get(i.key, 0)} for i in items],
        "gaps": [i.key for i in gaps],
        "outside": {k: n for k, n in sorted(counts.items()) if k not in known},
    }


def text_report(data: dict[str, Any], gaps: int = 20) -> str:
    """The terminal table: covered / total per vendor and area, then the most important gaps."""
    lines = [f"{'vendor':<10} {'area':<14} {'covered':>8} {'total':>6} {'%':>7}"]
    for area in data["areas"]:
        share = 100.0 * area["covered"] / area["total"] if area["total"] else 100.0
        lines.append(f"{area['vendor']:<10} {area['area']:<14} {area['covered']:>8} {area['total']:>6} {share:>6.1f}%")
    lines.append(f"{'TOTAL':<25} {data['covered']:>8} {data['total']:>6} {data['percent']:>6.1f}%")
    if data["gaps"]:
        lines.append(f"most important gaps ({min(gaps, len(data['gaps']))} of {len(data['gaps'])}):")
        lines.extend(f"  {key}" for key in data["gaps"][:gaps])
    return "\n".join(lines)


def html_report(data: dict[str, Any]) -> str:
    """A single self-contained page (no scripts, no external files)."""
    esc = html.escape
    areas = "".join(
        f"<tr><td>{esc(a['vendor'])}</td><td>{esc(a['area'])}</td><td>{a['covered']}</td><td>{a['total']}</td></tr>"
        for a in data["areas"]
    )
    rows = "".join(
        f"<tr class={'hit' if i['count'] else 'gap'}><td>{esc(i['vendor'])}</td><td>{esc(i['area'])}</td>"
        f"<td><code>{esc(i['key'])}</code></td><td>{i['count']}</td></tr>"
        for i in sorted(data["items"], key=lambda i: (i["count"] > 0, -i["weight"], i["key"]))
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>agent-mockserver coverage</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}tr.gap{background:#fde8e8}"
        "tr.hit{background:#e8f6e8}</style></head><body>"
        f"<h1>Coverage: {data['covered']} / {data['total']} ({data['percent']:.1f} %)</h1>"
        f"<table><tr><th>vendor</th><th>area</th><th>covered</th><th>total</th></tr>{areas}</table>"
        f"<table><tr><th>vendor</th><th>area</th><th>item</th><th>count</th></tr>{rows}</table>"
        "</body></html>"
    )
