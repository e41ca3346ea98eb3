"""Time from process launch to the first 200: ``mockserver serve`` next to a bare uvicorn app.

What is measured: the wall time from starting the process to the first successful
``POST /v1/agent/A12345678/speak`` (the documented example), polled every few milliseconds, for

* ``mock``: ``python -m mockserver serve`` with its defaults (the default fixtures, the access
  log, the connection limits): what a developer runs;
* ``bare``: ``python -m uvicorn bare_app:create_app`` (``bare_app.py``: Starlette and orjson and
  nothing else), under the same loop and HTTP parser.

The difference is what the mock itself costs at start-up (imports, the contract, validators,
fixtures) beyond the interpreter, uvicorn and Starlette. Each server is launched ``--rounds`` times,
alternating, and the table reports the median: on a small shared machine one launch can be off by
a good part of a second.

On Linux the table also shows the CPU time the server process used up to that first 200 (all its
threads, from ``/proc/<pid>/task/*/schedstat``). Other work on the machine delays a launch (the
wall time) far more than it changes the work the launch does (the CPU time), so on a busy machine
the CPU columns compare two servers more steadily.

``--callgrind`` counts instead of timing: each server runs once under valgrind's callgrind, and the
figure is the instructions it has executed when its first 200 arrives (``callgrind_control
--dump``). Slow (a launch takes seconds), but the count is the same on a busy machine as on an
idle one.

Run: ``.venv/bin/python bench/bench_startup.py [--rounds 5] [--baseline-tree DIR] [--callgrind] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench_speak import BODY, HEADERS, HTTP, LOOP, PATH, add_baseline_option, free_port, stop

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
POLL_S = 0.005


def commands(port: int) -> dict[str, list[str]]:
    mock = [sys.executable, "-m", "mockserver", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return {
        "mock": mock,
        "base": mock,
        "bare": [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:create_app",
            "--factory",
            "--app-dir",
            str(BENCH),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            LOOP,
            "--http",
            HTTP,
            "--log-level",
            "warning",
        ],
    }


def cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by every thread of process ``pid`` (None where ``/proc`` has no schedstat)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return sum(int(Path(f"/proc/{pid}/task/{t}/schedstat").read_text().split()[0]) for t in tasks) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def first_200(
    name: str,
    command: list[str],
    port: int,
    cwd: Path = REPO,
    deadline_s: float = 30.0,
    at_200: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> tuple[float, float | None]:
    """Seconds from launch to the first 200 and the CPU seconds the server used until then (the
    process is stopped afterwards, once ``at_200`` has seen it)."""
    url = f"http://127.0.0.1:{port}{PATH}"
    started = time.perf_counter()
    # ``python -m`` imports from its working directory first: the tree it runs in is the one measured.
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < deadline_s:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with status {proc.returncode} during start-up")
            request = urllib.request.Request(url, data=BODY, headers=HEADERS, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=1) as response:
                    if response.status == 200:
                        wall, used = time.perf_counter() - started, cpu_seconds(proc.pid)
                        if at_200 is not None:
                            at_200(proc)
                        return wall, used
            except urllib.error.HTTPError as exc:
                raise SystemExit(f"{name} answered {exc.code}: {exc.read()!r}") from None
            except OSError:  # not listening yet
                pass
            time.sleep(POLL_S)
        raise SystemExit(f"{name} gave no 200 within {deadline_s:.0f} s")
    finally:
        stop(proc)


def instructions(name: str, command: list[str], port: int, cwd: Path) -> int:
    """Instructions the server has executed (every thread, user space) when its first 200 arrives,
    as valgrind's callgrind counts them."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        counted = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]

        def dump(proc: subprocess.Popen[bytes]) -> None:
            subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True, capture_output=True)

        first_200(name, counted, port, cwd, deadline_s=600, at_200=dump)  # seconds per launch under valgrind
        found = re.search(r"^totals: (\d+)", Path(f"{out}.1").read_text(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"{name}: callgrind's dump has no totals")
    return int(found.group(1))


def count_instructions(names: list[str], cwd: dict[str, Path], json_path: Path | None) -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("--callgrind needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for name in names:
        port = free_port()
        first_200(name, commands(port)[name], port, cwd.get(name, REPO))  # warm caches, unmeasured
        counts[name] = instructions(name, commands(port)[name], port, cwd.get(name, REPO))
        print(f"{name}: {counts[name] / 1e6:.0f} M instructions", file=sys.stderr)
    print(f"\ninstructions executed by the first 200 of POST {PATH} (callgrind); loop {LOOP}, http {HTTP}")
    for name, count in counts.items():
        extra = f"  ({name} - bare: {(count - counts['bare']) / 1e6:+.0f} M)" if name != "bare" else ""
        print(f"{name:6} {count / 1e6:8.0f} M{extra}")
    if json_path:
        json_path.write_text(json.dumps({"loop": LOOP, "http": HTTP, "instructions": counts}, indent=2) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="launches per server, alternating servers")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions under valgrind instead (one launch each)"
    )
    add_baseline_option(parser)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("need --rounds >= 1")
    times: dict[str, list[float]] = {"mock": [], "bare": []}
    if args.baseline_tree is not None:
        times["base"] = []
    cpu: dict[str, list[float | None]] = {name: [] for name in times}
    cwd = {"base": args.baseline_tree or REPO}
    if args.callgrind:
        return count_instructions(list(times), cwd, args.json)
    # One unmeasured launch each: the first one pays for cold file caches (and the contract's
    # parse cache, which a developer's second start finds warm).
    for name in times:
        port = free_port()
        first_200(name, commands(port)[name], port, cwd.get(name, REPO))
    for i in range(args.rounds):
        for name in list(times)[:: 1 if i % 2 == 0 else -1]:
            port = free_port()
            wall, used = first_200(name, commands(port)[name], port, cwd.get(name, REPO))
            times[name].append(wall)
            cpu[name].append(used)
            print(f"round {i + 1}/{args.rounds}: {name} {wall * 1000:.0f} ms", file=sys.stderr)
    medians = {name: statistics.median(t) for name, t in times.items()}
    # CPU figures only when every launch has one (Linux).
    cpu_ms = {name: [c * 1000 for c in v if c is not None] for name, v in cpu.items()}
    cpu_medians = {name: statistics.median(v) for name, v in cpu_ms.items() if len(v) == args.rounds}
    gap_ms = (medians["mock"] - medians["bare"]) * 1000
    per_round = [(m - b) * 1000 for m, b in zip(times["mock"], times["bare"], strict=True)]
    print(f"\nlaunch -> first 200 of POST {PATH}, {args.rounds} launches each, alternating; loop {LOOP}, http {HTTP}")
    print(f"{'':6} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'CPU median ms':>14}")
    for name, t in times.items():
        used = f"{cpu_medians[name]:14.0f}" if name in cpu_medians else f"{'-':>14}"
        print(f"{name:6} {medians[name] * 1000:10.0f} {min(t) * 1000:8.0f} {max(t) * 1000:8.0f} {used}")
    print(f"mock - bare: {gap_ms:+.0f} ms  (per round: {', '.join(f'{g:+.0f}' for g in per_round)})")
    if "base" in medians:
        print(f"base - bare: {(medians['base'] - medians['bare']) * 1000:+.0f} ms")
    for name in ("mock", "base"):
        if name in cpu_medians and "bare" in cpu_medians:
            print(f"{name} - bare, CPU time: {cpu_medians[name] - cpu_medians['bare']:+.0f} ms")
    if args.json:
        figures = {
            "rounds": args.rounds,
            "loop": LOOP,
            "http": HTTP,
            "ms": {name: [round(x * 1000, 1) for x in t] for name, t in times.items()},
            "median_ms": {name: round(m * 1000, 1) for name, m in medians.items()},
            "gap_ms": round(gap_ms, 1),
            "cpu_ms": {name: [round(x, 1) for x in v] for name, v in cpu_ms.items()},
            "cpu_median_ms": {name: round(m, 1) for name, m in cpu_medians.items()},
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
