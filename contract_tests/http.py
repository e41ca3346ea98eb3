"""How the suite sends requests: ``Http`` for the vendor APIs, ``Recorded`` under the control plane's client.

Both record what they send for the run's report and a failure's replay (as curl, secrets masked);
``Http`` also waits for the vendor's throttle (real targets) and checks each vendor answer against
the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2 as httpx

from mockserver.client import Response, Transport

from . import report, responses
from .throttle import Throttle

__all__ = ["Http", "Recorded"]


class Http:
    """One vendor-or-control-plane HTTP client: throttled, recorded for the report, replayable as curl.

    Args:
        client: an httpx2 client (``TestClient`` for the in-process mock).
        throttles: vendor -> throttle (real targets only).
    """

    def __init__(
        self, client: httpx.Client, throttles: dict[str, Throttle] | None = None, *, record: bool = True
    ) -> None:
        self.client = client
        self.throttles = throttles or {}
        self.record = record

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        vendor = report.vendor_of(httpx.URL(url).path if "://" in url else url)
        throttle = self.throttles.get(vendor) if vendor else None
        if throttle is not None:
            throttle.acquire()
        response = self.client.request(method, url, **kwargs)
        if self.record:
            report.record_http(response)
            if vendor in ("bithuman", "agora"):
                responses.check(
                    method,
                    response.request.url.path,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.content,
                )
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.client.close()


class Recorded:
    """A ``mockserver.client`` transport that keeps each exchange for a failure's replay.

    What a test arranged through the control plane is part of how a failure came about, so it shows
    in the replay beside the vendor requests.

    Args:
        transport: the transport underneath (HTTP to a served mock, or the in-process app).
        record: ``False`` sends without recording (the suite's self-tests).
    """

    def __init__(self, transport: Transport, *, record: bool = True) -> None:
        self.transport, self.record = transport, record
        self.url = transport.url

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        answer = self.transport.request(method, target, body, headers)
        if self.record:
            sent = httpx.Request(method, self.url + target, headers=dict(headers or {}), content=body or b"")
            report.record_http(httpx.Response(answer.status, content=answer.content, request=sent))
        return answer

    def close(self) -> None:
        self.transport.close()
