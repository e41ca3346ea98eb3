"""Latency the proxy adds: the same request straight to an upstream and through ``mockserver proxy``.

What is measured: ``POST /v1/agent/A12345678/speak`` against ``bare_app.py`` (the upstream, served
by uvicorn on loopback), sent alternately straight to it and through the proxy (which forwards,
checks the exchange against the contract and journals it), each at ``--rate`` requests/s (100 by
default), one keep-alive connection each. The figure is the median of the paired differences
(proxied minus direct, request by request), with both medians and p99s beside it: noise from the
rest of the machine hits both sides of a pair alike. The order within a pair alternates, and the two
halves are shown apart too: the first request of a pair finds the client and the upstream idle
since the pause (a cold start), the second finds them warm. The requirement: under 1 ms.

Run: ``.venv/bin/python bench/bench_proxy.py [--requests 1000] [--rate 100] [--record]``.
Bounded: ``--requests`` pairs (at ``--rate`` a second, so 1,000 take 10 s) and ``--budget`` seconds.
Loopback only; both servers are subprocesses, stopped in every case.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PATH = "/v1/agent/A12345678/speak"
HEADERS = {"api-secret": "YOUR_API_SECRET", "Content-Type": "application/json"}
BODY = b'{"message": "We have a 20% discount available today.", "room_id": "customer_session_1"}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[bytes], budget: float = 30.0) -> None:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {budget} s")


def timed(conn: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    conn.request("POST", PATH, BODY, HEADERS)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"unexpected status {response.status}")
    return elapsed * 1000


def own_work_ms(count: int = 2000) -> float:
    """The proxy's own work per exchange, in process, with an upstream that costs nothing.

    Forwarding, the contract checks, the journal and the inbox, without sockets: the part of the
    added latency that the proxy's code decides, apart from the extra hop and the scheduler.
    """
    import asyncio

    sys.path.insert(0, str(REPO))
    from mockserver.bridge.proxy import Proxy
    from mockserver.bridge.upstream import Answer, UpstreamPool

    answer = b'{"agent_code":"A12345678","context_type":"speak","delivered_to_rooms":1,"rooms":["customer_session_1"]}'
    answer_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]

    class Free(UpstreamPool):
        async def send(self, origin, method, target, headers, body=b"", more=None, *, chunked=False):  # type: ignore[no-untyped-def]
            if more is not None:
                async for _ in more:
                    pass
            return Answer(200, answer_headers, answer, reason="OK")

    proxy = Proxy({"bithuman": "http://upstream.invalid"}, pool=Free())
    headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": [*headers, (b"content-length", str(len(BODY)).encode())],
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        pass

    async def run() -> float:
        for _ in range(200):
            await proxy(scope, receive, send)
            proxy.flush()
        started = time.perf_counter()
        for _ in range(count):
            await proxy(scope, receive, send)
            proxy.flush()  # the checks, which the proxy runs a moment after the answer
        return (time.perf_counter() - started) / count * 1000

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="pairs of requests (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s through the proxy (default 100)")
    parser.add_argument("--warmup", type=int, default=100, help="pairs sent first and not counted")
    parser.add_argument("--record", action="store_true", help="also record a HAR file while measuring")
    parser.add_argument("--budget", type=float, default=120.0, help="stop after this many seconds")
    args = parser.parse_args()

    upstream_port, proxy_port = free_port(), free_port()
    python = sys.executable
    upstream_cmd = [python, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH), "bare_app:create_app"]
    upstream_cmd += ["--port", str(upstream_port), "--log-level", "warning", "--no-access-log"]
    workdir = tempfile.mkdtemp(prefix="bench-proxy-")
    proxy_cmd = [python, "-m", "mockserver", "proxy", "--port", str(proxy_port)]
    proxy_cmd += ["--bithuman-upstream", f"http://127.0.0.1:{upstream_port}"]
    if args.record:
        proxy_cmd += ["--record", os.path.join(workdir, "bench.har")]
    processes = [
        subprocess.Popen(upstream_cmd, cwd=REPO, stdout=subprocess.DEVNULL),
        subprocess.Popen(proxy_cmd, cwd=REPO, stdout=subprocess.DEVNULL),
    ]
    try:
        wait_until_listening(upstream_port, processes[0])
        wait_until_listening(proxy_port, processes[1])
        direct = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
        proxied = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
        for _ in range(args.warmup):
            timed(direct), timed(proxied)
        pairs: list[tuple[float, float]] = []
        interval = 1.0 / args.rate
        started = time.monotonic()
        next_at = started
        for i in range(args.requests):
            if time.monotonic() - started > args.budget:
                print(f"budget of {args.budget} s reached after {i} pairs")
                break
            # Alternate which goes first, so neither side always finds the other's work just done.
            a, b = (timed(direct), timed(proxied)) if i % 2 else tuple(reversed((timed(proxied), timed(direct))))
            pairs.append((a, b))
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        elapsed = time.monotonic() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
    direct_ms = [a for a, _ in pairs]
    proxied_ms = [b for _, b in pairs]
    added = [b - a for a, b in pairs]

    def p99(values: list[float]) -> float:
        return sorted(values)[max(0, int(len(values) * 0.99) - 1)]

    print(
        f"pairs: {len(pairs)} in {elapsed:.1f} s ({len(pairs) / elapsed:.0f}/s through the proxy), "
        f"nproc {os.cpu_count()}"
    )
    print(f"direct   median {statistics.median(direct_ms):.3f} ms  p99 {p99(direct_ms):.3f} ms")
    print(f"proxied  median {statistics.median(proxied_ms):.3f} ms  p99 {p99(proxied_ms):.3f} ms")
    median_added = statistics.median(added)
    print(f"added    median {median_added:.3f} ms (paired)  p99 {p99(added):.3f} ms")
    # Whichever request of a pair goes first finds the client and the upstream idle since the pause
    # (a cold start: CPU wake-ups, caches); the second finds them warm. The two halves show it.
    for name, first in (("direct first ", 1), ("proxied first", 0)):
        half = [pair for i, pair in enumerate(pairs) if i % 2 == first]
        if half:
            print(
                f"  {name}  added median {statistics.median([b - a for a, b in half]):.3f} ms  "
                f"(direct {statistics.median([a for a, _ in half]):.3f}, "
                f"proxied {statistics.median([b for _, b in half]):.3f})"
            )
    print(f"own work {own_work_ms():.3f} ms per exchange (in process, upstream free, no sockets)")
    print("PASS: under 1 ms" if median_added < 1.0 else "FAIL: 1 ms or more")
    return 0 if median_added < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
