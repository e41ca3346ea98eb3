"""What the vendor handles share: the tenants of a test, the mock clock, readable assertion failures."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from secrets import token_hex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client import ControlClient

__all__ = ["Clock", "Expected", "Tenants", "expect"]

_SESSION_TAG = token_hex(3)  # two sessions sharing one server never pick the same tenant ids
_serial = itertools.count(1)

Expected = str | re.Pattern[str]


class Tenants:
    """The tenants one test made or loaded: fresh ids, and the list to reset when it ends."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        # Called with each tenant adopted: the test's chaos scenarios follow its new tenants this way.
        self.listeners: list[Callable[[str], None]] = []

    def new_id(self) -> str:
        """A tenant id no other test, worker or session uses."""
        return f"ms-{_SESSION_TAG}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{next(_serial)}"

    def adopt(self, *tenants: str) -> None:
        """Reset these when the test ends."""
        self.ids.extend(tenants)
        for tenant in tenants:
            for listener in self.listeners:
                listener(tenant)

    def take(self) -> list[str]:
        """The tenants to reset, each once, in order; the list starts empty again."""
        ids, self.ids = list(dict.fromkeys(self.ids)), []
        return ids


class Clock:
    """The mock clock. It is shared by every tenant of the server (see docs: xdist).

    A test that freezes or resumes it gets it back as it found it (running, at the same speed)
    when it ends; time that was advanced stays advanced, because the clock only moves forward.
    """

    def __init__(self, client: ControlClient) -> None:
        self._client = client
        self._saved: dict[str, Any] | None = None

    def now(self) -> float:
        """Mock time, in unix seconds."""
        return float(self._client.get_clock()["now"])

    @property
    def frozen(self) -> bool:
        return bool(self._client.get_clock()["frozen"])

    def freeze(self, at: float | str | None = None) -> float:
        """Stop time, now or at ``at`` (unix seconds or ISO-8601). Returns the frozen time."""
        self.snapshot()
        return float(self._client.freeze_clock(at)["now"])

    def advance(self, seconds: float) -> float:
        """Move time forward (frozen or running); scheduled agent events fall due. Returns the new time."""
        return float(self._client.advance_clock(seconds)["now"])

    def resume(self, speed: float = 1.0) -> float:
        """Let time run again, ``speed`` times real time."""
        self.snapshot()
        return float(self._client.resume_clock(speed)["now"])

    def snapshot(self) -> None:
        """Remember how the clock runs now, to put it back so after the test (first call wins)."""
        if self._saved is None:
            self._saved = self._client.get_clock()

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is not None and saved["frozen"]:
            self._client.freeze_clock()
        elif saved is not None:
            self._client.resume_clock(saved["speed"])


def _matches(expected: Expected, text: str) -> bool:
    return expected == text if isinstance(expected, str) else expected.search(text) is not None


def _in_order(expected: tuple[Expected, ...], actual: list[str]) -> bool:
    rest = iter(actual)
    return all(any(_matches(e, text) for text in rest) for e in expected)  # a subsequence, in order


def _lines(items: Any) -> str:
    shown = [repr(i) if isinstance(i, str) else f"/{i.pattern}/ (a pattern)" for i in items]
    return "\n".join(f"    {s}" for s in shown) or "    (nothing)"


def expect(who: str, verb: tuple[str, str], expected: tuple[Expected, ...], actual: list[str], events: Any) -> None:
    """Fail unless ``actual`` holds ``expected`` in order (nothing, if empty), telling all of ``events``."""
    __tracebackhide__ = True
    if (_in_order(expected, actual) and expected) or (not expected and not actual):
        return
    wanted = (
        f"expected to {verb[0]}, in this order:\n{_lines(expected)}" if expected else f"expected to {verb[0]} nothing"
    )
    story = "\n".join(f"    {e.describe()}" for e in events) or "    (nothing)"
    raise AssertionError(
        f"{who} was {wanted}\nwhat it {verb[1]}:\n{_lines(actual)}\nall its events, oldest first:\n{story}"
    )
