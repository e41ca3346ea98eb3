"""CPU instructions per served ``speak`` request: the mock next to a bare Starlette endpoint.

What is measured: the same request as ``bench_speak.py`` (``POST /v1/agent/A12345678/speak``,
the documented example), served by the same command line (uvicorn, one worker, the same loop and
HTTP parser), but with the server run under ``valgrind --tool=callgrind``, which counts the
instructions the server process executes. Each server is launched twice, once for ``--small``
requests and once for ``--large`` requests over one keep-alive connection; the difference of the
two totals divided by the difference of the counts is the cost of one request, start-up, imports
and the first requests' lazy work cancelled out.

Why: on a small shared machine a load test's requests/s move by a third from one run to the next
(see bench/README.md); an instruction count does not move with the load of the machine, so a
change's effect shows even while other work runs. It leaves out what only time shows (cache
misses, system calls' own cost, waiting), so it complements ``bench_speak.py``, it does not replace
it: the ratio of instructions is an upper bound of the ratio of requests/s a quiet machine shows.

Run: ``.venv/bin/python bench/bench_instructions.py [--small 300] [--large 1300]
[--baseline-tree DIR]``. Needs valgrind (``apt-get install valgrind``); exits 2 without it. Each
server takes about half a minute per launch under valgrind; the launches run two at a time.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_speak import (
    BENCH,
    BODY,
    HEADERS,
    HTTP,
    LOOP,
    PATH,
    REPO,
    TARGETS,
    UVICORN_FLAGS,
    add_baseline_option,
    free_port,
    stop,
    wait_until_up,
)

_TOTAL = re.compile(r"refs:\s+([\d,]+)")


def instructions(name: str, target: str, cwd: Path, requests: int) -> int:
    """Instructions the server executed from launch to exit, having answered ``requests`` (+1) requests."""
    port = free_port()
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m", "uvicorn"]
    command += [target, "--factory", "--app-dir", str(BENCH), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*command, *UVICORN_FLAGS], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # One answered request (the readiness check) in every launch: it cancels out.
        wait_until_up(name, proc, f"http://127.0.0.1:{port}{PATH}", deadline_s=300)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(requests):
            connection.request("POST", PATH, BODY, HEADERS)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{name}: HTTP {response.status} under valgrind")
        connection.close()
        proc.send_signal(signal.SIGINT)  # a clean exit: callgrind prints its totals
        _, err = proc.communicate(timeout=300)
    finally:
        stop(proc)
    found = _TOTAL.search(err.decode(errors="replace"))
    if found is None:
        raise SystemExit(f"{name}: no instruction total from callgrind")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=300, help="requests in the first launch of each server")
    parser.add_argument("--large", type=int, default=1300, help="requests in the second launch of each server")
    add_baseline_option(parser)
    args = parser.parse_args()
    if not 0 <= args.small < args.large:
        parser.error("need 0 <= --small < --large")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind (Debian/Ubuntu)", file=sys.stderr)
        return 2
    targets = {name: (target, REPO) for name, target in TARGETS.items()}
    if args.baseline_tree is not None:
        # From the baseline tree's root, as bench_speak.py does: `python -m` imports from there first.
        targets["base"] = (TARGETS["mock"], args.baseline_tree.resolve())
    if not sys.dont_write_bytecode:
        # Otherwise the first launch from a tree writes its .pyc files and the second does not:
        # their difference would leave out the compilation (once a figure below bare's, so seen).
        for _, cwd in targets.values():
            subprocess.run([sys.executable, "-m", "compileall", "-q", "mockserver", str(BENCH)], cwd=cwd, check=False)
    jobs = [(name, target, cwd, n) for name, (target, cwd) in targets.items() for n in (args.small, args.large)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = list(pool.map(lambda job: instructions(*job), jobs))
    per_request = {
        name: (totals[2 * i + 1] - totals[2 * i]) / (args.large - args.small) for i, name in enumerate(targets)
    }
    print(
        f"\nPOST {PATH}, instructions per request in the server process (callgrind), "
        f"{args.large} - {args.small} requests on one keep-alive connection; uvicorn 1 worker, loop {LOOP}, http {HTTP}"
    )
    for name, count in per_request.items():
        print(f"{name:6} {count:12,.0f}")
    for name in per_request:
        if name != "bare":
            print(f"bare/{name} instructions: {per_request['bare'] / per_request[name]:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
