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

Each server gets ``--rounds`` measured runs, the servers alternating, and the table reports the
median round: on a small shared machine one run can be off by a third either way.

Run: ``.venv/bin/python bench/bench_speak.py [--duration 10] [--rounds 3] [--connections 32]
[--threads 1] [--json PATH]``. Needs wrk (``apt-get install wrk``); exits 2 without it.
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
REPO = BENCH.parent
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
UVICORN_FLAGS = f"--workers 1 --loop {LOOP} --http {HTTP} --no-access-log --log-level warning --lifespan off".split()
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
    cmd = [
        *prefix,
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(LUA),
        url,
    ]
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


def median_run(runs: list[WrkResult]) -> WrkResult:
    """The run with the median requests/s (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r.requests_per_s)[(len(runs) - 1) // 2]


def add_baseline_option(parser: argparse.ArgumentParser) -> None:
    """``--baseline-tree DIR``: also run the mock from another source tree, as ``base``, in the same rounds."""
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        metavar="DIR",
        help="also run the mock from another source tree (e.g. an export of main), as 'base', in the same rounds",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of measured load per server and round")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per server, alternating servers")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load per server first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--port-base", type=int, default=None, help="use ports N (mock) and N+1 (bare); default: two free ports"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    add_baseline_option(parser)
    args = parser.parse_args()
    if args.rounds < 1 or args.duration <= 0 or args.connections < args.threads or args.threads < 1:
        parser.error("need --rounds >= 1, --duration > 0 and --connections >= --threads >= 1")

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
    targets = dict(TARGETS)
    if args.baseline_tree is not None:
        targets["base"] = TARGETS["mock"]
    if args.port_base is not None:
        ports = {name: args.port_base + i for i, name in enumerate(targets)}
    else:
        ports = {name: free_port() for name in targets}
    urls = {name: f"http://127.0.0.1:{port}{PATH}" for name, port in ports.items()}

    procs: dict[str, subprocess.Popen[bytes]] = {}
    runs: dict[str, list[WrkResult]] = {name: [] for name in targets}
    try:
        for name, target in targets.items():
            # Both servers get the same command line but for the app: that is the fairness rule.
            command = [sys.executable, "-m", "uvicorn", target, "--factory", "--app-dir", str(BENCH)]
            command += ["--host", "127.0.0.1", "--port", str(ports[name]), *UVICORN_FLAGS]
            # From the repository root, so that `mockserver` imports from this source tree (from the
            # baseline tree for "base": `python -m` imports from its working directory first).
            cwd = args.baseline_tree if name == "base" else REPO
            procs[name] = subprocess.Popen([*server_prefix, *command], cwd=cwd)
        for name, proc in procs.items():
            wait_until_up(name, proc, urls[name])
            check_answer(name, urls[name])
        rss_before = rss_kb(procs["mock"].pid)
        if args.warmup > 0:
            for name in targets:
                run_wrk(wrk_prefix, urls[name], args.warmup, args)
        # Alternate the servers, and their order, round by round: on a shared machine the
        # background load drifts, and this spreads the drift over both instead of one.
        for i in range(args.rounds):
            for name in list(targets)[:: 1 if i % 2 == 0 else -1]:
                print(f"round {i + 1}/{args.rounds}: {name} for {args.duration:g} s", file=sys.stderr)
                runs[name].append(run_wrk(wrk_prefix, urls[name], args.duration, args))
        rss_after = rss_kb(procs["mock"].pid)
    finally:
        for proc in procs.values():
            stop(proc)

    medians = {name: median_run(r) for name, r in runs.items()}
    ratio = 100 * medians["mock"].requests_per_s / medians["bare"].requests_per_s
    per_round = [100 * m.requests_per_s / b.requests_per_s for m, b in zip(runs["mock"], runs["bare"], strict=True)]
    print(
        f"\nPOST {PATH}, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency, "
        f"{args.rounds} round(s) per server after {args.warmup:g} s warm-up; nproc {ncpu}; "
        f"uvicorn 1 worker, loop {LOOP}, http {HTTP}; "
        + (f"server pinned to CPU {cpus[0]}, wrk to CPU {cpus[1]}" if pinned else "not pinned")
    )
    # req/s and latencies come from the median round; requests and errors are summed over all rounds.
    print(f"{'':6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'requests':>10} {'errors':>7}")
    for name, m in medians.items():
        total = sum(r.requests for r in runs[name])
        errors = sum(r.errors for r in runs[name])
        print(f"{name:6} {m.requests_per_s:10.0f} {m.p50_ms:8.2f} {m.p99_ms:8.2f} {total:10d} {errors:7d}")
    print("(req/s, p50, p99: the median round; requests, errors: all rounds)")
    print(f"mock/bare requests/s: {ratio:.1f}%  (per round: {', '.join(f'{r:.0f}%' for r in per_round)})")
    if "base" in medians:
        base_ratio = 100 * medians["base"].requests_per_s / medians["bare"].requests_per_s
        base_rounds = [
            100 * m.requests_per_s / b.requests_per_s for m, b in zip(runs["base"], runs["bare"], strict=True)
        ]
        print(f"base/bare requests/s: {base_ratio:.1f}%  (per round: {', '.join(f'{r:.0f}%' for r in base_rounds)})")
    print(
        f"mock RSS: {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after "
        f"({(rss_after - rss_before) / 1024:+.1f} MiB)"
    )

    if args.json:
        figures = {
            "operation": f"POST {PATH}",
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "nproc": ncpu,
            "pinned": pinned,
            "loop": LOOP,
            "http": HTTP,
            **{name: {"median": asdict(medians[name]), "runs": [asdict(r) for r in runs[name]]} for name in runs},
            "ratio_pct": round(ratio, 1),
            "ratio_pct_per_round": [round(r, 1) for r in per_round],
            "mock_rss_kb": {"before": rss_before, "after": rss_after},
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
