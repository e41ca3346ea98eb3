"""A client of the mock's control plane (``/_mock/``), over HTTP or in process.

The pytest plugin and its handles are built on it, the contract suite arranges its mocks with it, and
scripts can use it to arrange and inspect a mock running elsewhere. It needs only the standard
library (and orjson, which the package already requires):

- ``ControlClient`` (``control.py``): one method per operation of the control plane, named after its
  operationId;
- ``HTTPTransport`` / ``ASGITransport`` (``transport.py``): HTTP/1.1 to a URL, or the ASGI app called
  in this process. Either carries any request, so the same client also reaches the vendor APIs;
  ``httpx_transport`` and ``requests_adapter`` put one under httpx or requests.
"""

from __future__ import annotations

from .control import ControlClient, ControlError, Event, quote
from .transport import (
    IN_PROCESS_URL,
    ASGITransport,
    HTTPTransport,
    Response,
    Transport,
    httpx_transport,
    requests_adapter,
)

__all__ = [
    "IN_PROCESS_URL",
    "ASGITransport",
    "ControlClient",
    "ControlError",
    "Event",
    "HTTPTransport",
    "Response",
    "Transport",
    "httpx_transport",
    "quote",
    "requests_adapter",
]
