"""Fault injection: make the mock misbehave on purpose, by operation, tenant and agent.

A rule applies to requests that match all of its filters (``None`` matches anything). Kinds:
- ``latency``: answer normally, ``latency_ms`` (plus up to ``jitter_ms``) later;
- ``error``: answer ``status`` in the vendor's own error envelope;
- ``rate_limit``: answer 429 with ``Retry-After`` (and bitHuman's X-RateLimit-* headers);
- ``drop``: close the connection in the middle of the response.
A rule fires ``times`` times (``None``: for ever) with ``probability`` (drawn from the world's
seeded RNG, so a seeded run misbehaves the same way every time).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import DomainError, ErrorCode

__all__ = ["KINDS", "MAX_RULES", "FaultRule", "Faults"]

KINDS = ("latency", "error", "rate_limit", "drop")
MAX_RULES = 1000  # rules in force at once (our bound); 422 beyond


@dataclass(slots=True)
class FaultRule:
    id: int
    kind: str
    operation: str | None = None
    tenant: str | None = None
    agent: str | None = None
    status: int | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    retry_after: int = 1
    times: int | None = None
    probability: float = 1.0
    message: str | None = None
    fired: int = 0

    def matches(self, operation: str, tenant: str | None, agent: str | None) -> bool:
        return (
            (self.operation is None or self.operation == operation)
            and (self.tenant is None or self.tenant == tenant)
            and (self.agent is None or self.agent == agent)
            and (self.times is None or self.fired < self.times)
        )

    def describe(self) -> str:
        if self.kind == "latency":
            return f"latency {self.latency_ms:g}ms" + (f" +{self.jitter_ms:g}ms jitter" if self.jitter_ms else "")
        if self.kind == "error":
            return f"error {self.status}"
        if self.kind == "rate_limit":
            return f"rate_limit retry-after {self.retry_after}s"
        return "drop"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "operation": self.operation,
            "tenant": self.tenant,
            "agent": self.agent,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "retry_after": self.retry_after,
            "times": self.times,
            "probability": self.probability,
            "message": self.message,
            "fired": self.fired,
        }


class Faults:
    """The fault rules in force; the first matching rule that fires wins."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def set_rng(self, rng: random.Random) -> None:
        self._rng = rng

    def add(self, spec: dict[str, Any]) -> FaultRule:
        kind = spec.get("kind")
        if kind not in KINDS:
            raise DomainError(ErrorCode.INVALID, f"kind must be one of: {', '.join(KINDS)}", field="kind")
        if kind == "error" and not spec.get("status"):
            raise DomainError(ErrorCode.INVALID, "an error fault needs a status", field="status")
        probability = float(spec.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise DomainError(ErrorCode.INVALID, "probability must be between 0 and 1", field="probability")
        fields = {k: v for k, v in spec.items() if k in FaultRule.__slots__ and k not in ("id", "fired")}
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise DomainError(ErrorCode.INVALID, f"at most {MAX_RULES} fault rules are in force at once")
            rule = FaultRule(id=next(self._ids), **fields)
            self._rules.append(rule)
            return rule

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the rules (and the RNG) back as they are now."""
        with self._lock:
            rules, rng = list(self._rules), self._rng

        def restore() -> None:
            with self._lock:
                self._rules, self._rng = rules, rng

        return restore

    def list(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: int) -> None:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            if len(self._rules) == before:
                raise DomainError(ErrorCode.NOT_FOUND, f"no fault rule {rule_id}")

    def clear(self) -> int:
        with self._lock:
            dropped = len(self._rules)
            self._rules.clear()
            return dropped

    @property
    def armed(self) -> bool:
        """Whether any rule is in force (read for every request: most runs have none)."""
        return bool(self._rules)

    def pick(self, operation: str, tenant: str | None, agent: str | None) -> FaultRule | None:
        """The rule that fires for this request, if any (its count is consumed)."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(operation, tenant, agent) and (
                    rule.probability >= 1.0 or self._rng.random() < rule.probability
                ):
                    rule.fired += 1
                    return rule
        return None

    def jitter(self, rule: FaultRule) -> float:
        """Seconds to wait for a latency rule (jitter drawn from the seeded RNG)."""
        with self._lock:
            extra = self._rng.random() * rule.jitter_ms if rule.jitter_ms else 0.0
        return (rule.latency_ms + extra) / 1000.0
