"""Client-side rate limits for the real APIs: one token bucket per vendor, shared by every request."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from . import report

__all__ = ["Throttle", "ThrottledSession"]


class Throttle:
    """A token bucket shared by every request to one vendor: at most ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.updated = self.burst, time.monotonic()
        self.lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                pause = (1 - self.tokens) / self.rate
                self.waited += pause
                time.sleep(pause)


class ThrottledSession(requests.Session):
    """A requests session that waits for the vendor's throttle before each request."""

    def __init__(self, throttles: dict[str, Throttle]) -> None:
        super().__init__()
        self.throttles = throttles

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        vendor = report.vendor_of(urlsplit(request.url or "").path)
        throttle = self.throttles.get(vendor) if vendor else None
        if throttle is not None:
            throttle.acquire()
        return super().send(request, **kwargs)
