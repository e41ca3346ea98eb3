"""The mock clock: real time by default, frozen, advanced or sped up on demand.

Everything time-based in the world (rate-limit refills, timestamps, later speech and lifecycle
transitions) reads ``Clock.now()``, so tests move time forward instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Clock"]


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
        return self._base_mock + (self._source() - self._base_real) * self._speed

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

    def freeze(self, at: float | None = None) -> float:
        """Stop time, at ``at`` if given, else where it is now. Returns the frozen time."""
        with self._lock:
            self._rebase()
            if at is not None:
                self._base_mock = float(at)
            self._frozen = True
            frozen = self._base_mock
        self._changed()
        return frozen

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (frozen or running). Returns the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._rebase()
            self._base_mock += seconds
            now = self.now()
        self._changed()
        return now

    def resume(self, speed: float = 1.0) -> float:
        """Let time run again from where it stands, ``speed`` times real time."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        with self._lock:
            self._rebase()
            self._frozen = False
            self._speed = float(speed)
            now = self.now()
        self._changed()
        return now

    def reset(self) -> None:
        """Back to real time, running at speed 1."""
        with self._lock:
            self._base_real = self._source()
            self._base_mock = self._base_real
            self._speed = 1.0
            self._frozen = False
        self._changed()
