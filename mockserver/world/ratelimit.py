"""Token buckets on the mock clock, as bitHuman meters its write endpoints.

bitHuman (docs "Rate limits"): per account, the per-minute number is also the burst size; the
``speak`` and ``add-context`` calls are in the *write* tier.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["DEFAULT_TIER", "WRITE_TIER_PER_MINUTE", "Admission", "TokenBucket"]

# bitHuman's write-tier limits per plan (requests per minute; also the burst).
WRITE_TIER_PER_MINUTE = {"free": 30, "creator": 60, "pro": 180, "business": 360, "enterprise": 720}
# The plan whose limit an injected 429 reports for a caller that has no bucket of its own.
DEFAULT_TIER = "enterprise"


class Admission(NamedTuple):
    """The outcome of one ``take``: whether it passed, and the values of the X-RateLimit headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # unix seconds when the bucket will be full again
    retry_after: int  # seconds until one token is back (0 when allowed)


class TokenBucket:
    """A bucket of ``per_minute`` tokens that refills continuously."""

    def __init__(self, per_minute: int, now: float) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._tokens = float(per_minute)
        self._updated = now

    def _refill(self, now: float) -> None:
        rate = self.per_minute / 60.0
        if now > self._updated:
            self._tokens = min(float(self.per_minute), self._tokens + (now - self._updated) * rate)
        self._updated = max(self._updated, now)

    def take(self, now: float) -> Admission:
        self._refill(now)
        rate = self.per_minute / 60.0
        allowed = self._tokens >= 1.0
        if allowed:
            self._tokens -= 1.0
        missing = self.per_minute - self._tokens
        reset_at = math.ceil(now + missing / rate)
        retry_after = 0 if allowed else max(1, math.ceil((1.0 - self._tokens) / rate))
        return Admission(allowed, self.per_minute, int(self._tokens), reset_at, retry_after)
