"""Per-request cost of the mock's ``speak`` in process, without sockets: the mock against the bare
Starlette endpoint of ``bare_app.py``, each driven through raw ASGI calls on one event loop.

This isolates what the mock adds (routing, authentication, validation, state, inbox, envelope)
from the HTTP server and the network, so it is far less noisy than a load test. Run it with
``python bench/bench_inprocess.py [--requests 20000]``; it prints microseconds per request for
each app and the ratio of their throughputs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bare_app import create_app as create_bare_app  # noqa: E402

from mockserver import World, create_app  # noqa: E402

BODY = b'{"message": "We have a 20% discount available today.", "room_id": "customer_session_1"}'
HEADERS = [
    (b"host", b"127.0.0.1"),
    (b"content-type", b"application/json"),
    (b"api-secret", b"YOUR_API_SECRET"),
    (b"content-length", str(len(BODY)).encode()),
]


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/agent/A12345678/speak",
        "raw_path": b"/v1/agent/A12345678/speak",
        "query_string": b"",
        "root_path": "",
        "headers": HEADERS,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }


async def drive(app: Any, n: int) -> tuple[float, int]:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    for _ in range(500):  # warm-up
        await app(scope(), receive, send)
    start = time.perf_counter()
    for _ in range(n):
        await app(scope(), receive, send)
    return (time.perf_counter() - start) / n * 1e6, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    mock = create_app(World(seed=1), fixtures=[ROOT / "fixtures" / "default.yaml"])
    mock_us, mock_status = asyncio.run(drive(mock, args.requests))
    bare_us, bare_status = asyncio.run(drive(create_bare_app(), args.requests))
    assert mock_status == 200 and bare_status == 200, (mock_status, bare_status)
    print(f"requests per app: {args.requests}")
    print(f"mock  speak: {mock_us:7.1f} us/request  ({1e6 / mock_us:8.0f} req/s on one core, no network)")
    print(f"bare  speak: {bare_us:7.1f} us/request  ({1e6 / bare_us:8.0f} req/s on one core, no network)")
    print(f"mock adds  : {mock_us - bare_us:7.1f} us/request; throughput ratio mock/bare = {bare_us / mock_us:.0%}")


if __name__ == "__main__":
    main()
