"""Throughput of the mock's bitHuman ``speak`` call, next to a bare Starlette endpoint.

What is measured: ``POST /v1/agent/A12345678/speak`` (the documented example, one room) driven
by wrk for a fixed time against two servers run under identical uvicorn settings (one process,
one worker, same event loop and HTTP parser, no access log, log level warning):

* ``mock``: ``mockserver.create_app`` with the default fixtures, i.e. the full pipeline
  (routing, authentication, spec validation, world state, inbox event, vendor envelope);
* ``bare``: ``bare_app.py``, the same JSON work (parse the body, check the header, serialise the
  same answer with orjson) and nothing else.

Why: uvicorn + Starlette set the ceiling for any app on this stack, so the mock's requests/s as a
percentage of the bare endpoint's says how much the mock itself costs per request, in a figure
that travels between machines better than raw requests/s. The mock server's RSS before and after
shows that the inbox (a ring buffer) keeps memory flat under load.

Run: ``.venv/bin/python bench/bench_speak.py [--duration 10] [--connections 32] [--threads 1]``.
Needs wrk (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "speak.lua"
PATH = "/v1/agent/A12345678/speak"
# The same request as speak.lua sends: the check before measuring must test what wrk will send.
HEADERS = {"api-secret": "YOUR_API_SECRET", "Content-Type": "application/json"}
BODY = b'{"message": "We have a 20% discount available today.", "room_id": "customer_session_1"}'
EXPECTED = {
    "agent_code": "A12345678",
    "context_type": "speak",
    "delivered_to_rooms": 1,
    "rooms": ["customer_session_1"],
    "rooms_skipped": [],
    "rooms_failed": [],
}
# Spelled out rather than left to "auto" so the output can say what ran; the choice is uvicorn's
# own "auto" choice, and it is the same for both servers, which is what makes the ratio fair.
LOOP = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
HTTP = "httptools" if importlib.util.find_spec("httptools") else "h11"
UVICORN_FLAGS = [
    "--workers", "1", "--loop", LOOP, "--http", HTTP,
    "--no-access-log", "--log-level", "warning", "--lifespan", "off",
]
TARGETS = {"mock": "bench_speak:mock_app", "bare": "bare_app:create_app"}


def mock_app() -> Any:
    """uvicorn factory for the mock: the default world, as ``mockserver serve`` loads it."""
    from mockserver import create_app
    from mockserver.cli import default_fixture

    return create_app(fixtures=[default_fixture()])


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: int
    non_2xx: int

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, output, re.MULTILINE)

    rps, p50, p99, total = (
        find(r"^Requests/sec:\s+([\d.]+)"),
        find(r"^\s+50%\s+(\S+)"),
        find(r"^\s+99%\s+(\S+)"),
        find(r"^\s+(\d+) requests in"),
    )
    if not (rps and p50 and p99 and total):
        raise SystemExit(f"could not parse wrk output:\n{output}")
    # wrk prints these two lines only when the counts are not zero.
    sock = find(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    non_2xx = find(r"Non-2xx or 3xx responses: (\d+)")
    return WrkResult(
        requests_per_s=float(rps[1]),
        p50_ms=_ms(p50[1]),
        p99_ms=_ms(p99[1]),
        requests=int(total[1]),
        socket_errors=sum(int(n) for n in sock.groups()) if sock else 0,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=BODY, headers=HEADERS, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_up(name: str, proc: subprocess.Popen[bytes], url: str, deadline_s: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} server exited with status {proc.returncode} during start-up")
        try:
            post(url, timeout=0.5)
            return
        except OSError:  # not listening yet
            time.sleep(0.1)
    raise SystemExit(f"{name} server did not answer within {deadline_s:.0f} s")


def check_answer(name: str, url: str) -> None:
    """The measured call must be the successful one: 200 and delivered to exactly one room."""
    status, raw = post(url)
    body = json.loads(raw) if raw else None
    if status != 200 or body != EXPECTED:
        raise SystemExit(f"{name}: expected 200 {EXPECTED}, got {status} {raw!r}")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run_wrk(prefix: list[str], url: str, seconds: float, args: argparse.Namespace) -> WrkResult:
    cmd = [*prefix, "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s",
           "--latency", "-s", str(LUA), url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    result = parse_wrk(done.stdout)
    # Errors would make the figures meaningless (a fast 4xx is not a speak), so refuse them.
    if result.errors:
        raise SystemExit(
            f"wrk against {url} saw {result.non_2xx} non-2xx responses and "
            f"{result.socket_errors} socket errors:\n{done.stdout}"
        )
    return result


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of measured load per server")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--port-base", type=int, default=None,
                        help="use ports N (mock) and N+1 (bare); default: two free ports")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian/Ubuntu)", file=sys.stderr)
        return 2

    cpus = sorted(os.sched_getaffinity(0))  # what `nproc` counts
    ncpu = len(cpus)
    # On 2+ cores, keep the load generator off the server's core, so that wrk's own CPU use
    # does not show up as server slowness; the server is single-threaded either way.
    pinned = shutil.which("taskset") is not None and ncpu >= 2
    server_prefix = ["taskset", "-c", str(cpus[0])] if pinned else []
    wrk_prefix = ["taskset", "-c", str(cpus[1])] if pinned else []
    if args.port_base is not None:
        ports = {"mock": args.port_base, "bare": args.port_base + 1}
    else:
        ports = {name: free_port() for name in TARGETS}

    procs: dict[str, subprocess.Popen[bytes]] = {}
    results: dict[str, WrkResult] = {}
    try:
        for name, target in TARGETS.items():
            # Both servers get the same command line but for the app: that is the fairness rule.
            procs[name] = subprocess.Popen([
                *server_prefix, sys.executable, "-m", "uvicorn", target, "--factory",
                "--app-dir", str(BENCH), "--host", "127.0.0.1", "--port", str(ports[name]), *UVICORN_FLAGS,
            ])
        urls = {name: f"http://127.0.0.1:{port}{PATH}" for name, port in ports.items()}
        for name, proc in procs.items():
            wait_until_up(name, proc, urls[name])
            check_answer(name, urls[name])
        rss_before = rss_kb(procs["mock"].pid)
        for name in TARGETS:
            if args.warmup > 0:
                run_wrk(wrk_prefix, urls[name], args.warmup, args)
            print(f"measuring {name} for {args.duration:g} s ...", file=sys.stderr)
            results[name] = run_wrk(wrk_prefix, urls[name], args.duration, args)
        rss_after = rss_kb(procs["mock"].pid)
    finally:
        for proc in procs.values():
            stop(proc)

    ratio = 100 * results["mock"].requests_per_s / results["bare"].requests_per_s
    print(f"\nPOST {PATH}, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
          f"(after {args.warmup:g} s warm-up); nproc {ncpu}; uvicorn 1 worker, loop {LOOP}, http {HTTP}; "
          + (f"server pinned to CPU {cpus[0]}, wrk to CPU {cpus[1]}" if pinned else "not pinned"))
    print(f"{'':6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'requests':>10} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:6} {r.requests_per_s:10.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} "
              f"{r.requests:10d} {r.errors:7d}")
    print(f"mock/bare requests/s: {ratio:.1f}%")
    print(f"mock RSS: {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after "
          f"({(rss_after - rss_before) / 1024:+.1f} MiB)")

    if args.json:
        args.json.write_text(json.dumps({
            "operation": f"POST {PATH}",
            "duration_s": args.duration, "warmup_s": args.warmup,
            "connections": args.connections, "wrk_threads": args.threads,
            "nproc": ncpu, "pinned": pinned, "loop": LOOP, "http": HTTP,
            **{name: {**asdict(r), "errors": r.errors} for name, r in results.items()},
            "ratio_pct": round(ratio, 1),
            "mock_rss_kb": {"before": rss_before, "after": rss_after},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
