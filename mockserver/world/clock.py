"""The mock clock: real time by default, frozen, advanced or sped up on demand.

Everything time-based in the world (rate-limit refills, timestamps, later speech and lifecycle
transitions) reads ``Clock.now()``, so tests move time forward instead of sleeping.

The mock time stays between ``MIN_TIME`` (the epoch) and ``MAX_TIME`` (the last second of year
9999): every timestamp the mock renders (ISO-8601 in the inbox, the clock, legacy bitHuman bodies)
is then representable, so no clock input can make a later request fail.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import DomainError, ErrorCode

__all__ = ["MAX_ADVANCE", "MAX_SPEED", "MAX_TIME", "MIN_TIME", "Clock", "ClockInputError", "parse_instant"]

MIN_TIME = 0.0  # 1970-01-01T00:00:00Z
MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z
MAX_ADVANCE = 365 * 24 * 3600.0  # one step of advance: a year
MAX_SPEED = 10000.0


class ClockInputError(DomainError, ValueError):
    """A clock input out of range: a domain error (``invalid_field``) that is also a ValueError."""


def _invalid(field: str, message: str) -> ClockInputError:
    return ClockInputError(ErrorCode.INVALID_FIELD, f"{field}: {message}", field=field)


def parse_instant(value: Any, field: str = "at") -> float:
    """Unix seconds from a number or an ISO-8601 date-time, within ``MIN_TIME``..``MAX_TIME``.

    Raises:
        ClockInputError: ``invalid_field`` when it is neither, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(field, "expected unix seconds or an ISO-8601 date-time")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            seconds = parsed.timestamp()
        except (ValueError, OverflowError, OSError):
            shown = value if len(value) <= 40 else value[:39] + "…"
            raise _invalid(field, f"{shown!r} is not an ISO-8601 date-time") from None
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or not MIN_TIME <= seconds <= MAX_TIME:
        raise _invalid(field, "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
    return seconds


class Clock:
    """A thread-safe clock in unix seconds.

    Args:
        source: the real time source (``time.time`` unless a test injects another).
    """

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._base_real = source()
        self._base_mock = self._base_real
        self._speed = 1.0
        self._frozen = False
        self._listeners: tuple[Callable[[], None], ...] = ()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (which must not block) after every freeze, advance, resume and reset.

        The webhook sender uses it to replay what fell due at once, instead of at its next tick.
        """
        self._listeners = (*self._listeners, listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def now(self) -> float:
        """Return the current mock time in unix seconds."""
        if self._frozen:
            return self._base_mock
        # A sped-up clock running for long enough could pass MAX_TIME: time stops there.
        now = self._base_mock + (self._source() - self._base_real) * self._speed
        return now if now < MAX_TIME else MAX_TIME

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def speed(self) -> float:
        return self._speed

    def _rebase(self) -> None:
        # Pin the current mock time so a change of speed or freezing never jumps time.
        now_real = self._source()
        if not self._frozen:
            self._base_mock += (now_real - self._base_real) * self._speed
        self._base_real = now_real

    def freeze(self, at: float | str | None = None) -> float:
        """Stop time, at ``at`` if given (unix seconds or ISO-8601), else where it is now.

        Returns the frozen time. Raises ``ClockInputError`` for an instant out of range.
        """
        instant = parse_instant(at) if at is not None else None
        with self._lock:
            self._rebase()
            if instant is not None:
                self._base_mock = instant
            self._frozen = True
            frozen = self._base_mock
        self._changed()
        return frozen

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (frozen or running). Returns the new time.

        Raises ``ClockInputError`` beyond ``MAX_ADVANCE`` or past ``MAX_TIME``.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_ADVANCE:
            raise _invalid("seconds", f"must be between 0 and {MAX_ADVANCE:.0f} (the clock only moves forward)")
        with self._lock:
            self._rebase()
            if self._base_mock + seconds > MAX_TIME:
                raise _invalid("seconds", "would move the clock past 9999-12-31T23:59:59Z")
            self._base_mock += seconds
            now = self.now()
        self._changed()
        return now

    def resume(self, speed: float = 1.0) -> float:
        """Let time run again from where it stands, ``speed`` times real time."""
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed <= MAX_SPEED:
            raise _invalid("speed", f"must be more than 0 and at most {MAX_SPEED:.0f}")
        with self._lock:
            self._rebase()
            self._frozen = False
            self._speed = float(speed)
            now = self.now()
        self._changed()
        return now

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the clock back as it is now (frozen or running, speed)."""
        with self._lock:
            state = (self._base_real, self._base_mock, self._speed, self._frozen)

        def restore() -> None:
            with self._lock:
                self._base_real, self._base_mock, self._speed, self._frozen = state

        return restore

    def reset(self) -> None:
        """Back to real time, running at speed 1."""
        with self._lock:
            self._base_real = self._source()
            self._base_mock = self._base_real
            self._speed = 1.0
            self._frozen = False
        self._changed()
