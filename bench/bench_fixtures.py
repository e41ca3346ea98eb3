"""What the pytest plugin costs: session start, a fresh tenant per test, in-process requests.

Each figure is the best of ``--rounds`` runs (the median beside it): on a small shared machine the
other runs measure the neighbours. A "fresh process" figure is taken in a new interpreter, cold.

- import: ``import mockserver.pytest_plugin`` (what every pytest run pays once the package is installed);
- session start: what the ``mockserver_server`` + ``mockserver_client`` fixtures do: build the app,
  bind, start uvicorn in a thread, first control-plane request answered; and ``mockserver_app``
  (in process: build the app);
- per test: a ``Mockserver`` handle, one fresh tenant (bitHuman account + agent with two rooms, or
  Agora customer + project) and its reset at teardown: over HTTP and in process; then the same
  through pytest itself (median time of a test using ``mockserver`` and making an agent, minus that
  of an empty test, the two kinds alternating in one session);
- 1,000 requests: ``POST /v1/agent/{code}/speak`` through the in-process transport (httpx and the
  control client), against the same through the in-thread server over HTTP.

Run: ``.venv/bin/python bench/bench_fixtures.py [--rounds 5] [--tenants 1000] [--tests 500] [--requests 1000]``.
Targets (issue 6): session start < 300 ms; per-test cost < 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = {
    # pytest is imported first: a pytest run has it already; the rest is what the plugin adds.
    "import": "import time, pytest; t = time.perf_counter(); import mockserver.pytest_plugin; "
    "print((time.perf_counter() - t) * 1000)",
    "server": "import time; from mockserver.client import ControlClient; from mockserver.server import MockServer; "
    "from mockserver.pytest_plugin import _no_delay; t = time.perf_counter(); s = MockServer(); _no_delay(s); "
    "s.start(); c = ControlClient(s.url); c.get_health(); print((time.perf_counter() - t) * 1000); "
    "c.close(); s.stop()",
    "app": "import time; from mockserver.app import create_app; t = time.perf_counter(); create_app(); "
    "print((time.perf_counter() - t) * 1000)",
}


def best(runs: list[float]) -> tuple[float, float]:
    return min(runs), statistics.median(runs)


def fresh_process(what: str, rounds: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [
        float(subprocess.run([sys.executable, "-c", CHILD[what]], env=env, capture_output=True, text=True, check=True)
              .stdout.strip().splitlines()[-1])
        for _ in range(rounds)
    ]  # fmt: skip
    return best(runs)


def per_call_ms(fn: Callable[[], Any], n: int, rounds: int) -> tuple[float, float]:
    fn()  # warm up
    runs = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) * 1000 / n)
    return best(runs)


def tenant_costs(client: Any, n: int, rounds: int) -> tuple[tuple[float, float], tuple[float, float]]:
    from mockserver.pytest_plugin import Mockserver

    def bithuman() -> None:
        ms = Mockserver(client)
        ms.bithuman.agent(rooms=["r1", "r2"])
        ms.close()

    def agora() -> None:
        ms = Mockserver(client)
        ms.agora.project()
        ms.close()

    return per_call_ms(bithuman, n, rounds), per_call_ms(agora, n, rounds)


PER_TEST_CONFTEST = """
import json, statistics, time
import pytest

durations = {"with": [], "without": []}

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        kind = item.name.rpartition("_")[0][5:]
        if kind in durations:
            durations[kind].append(time.perf_counter() - start)

def pytest_sessionfinish(session):
    with open("durations.json", "w") as out:
        json.dump({k: statistics.median(v) for k, v in durations.items() if v}, out)
"""


def pytest_per_test(n: int, rounds: int) -> tuple[float, float]:
    """Median pytest time of a test using ``mockserver`` and a fresh agent, minus an empty test's, in ms.

    The two kinds alternate in one session, so a busy neighbour slows both alike.
    """
    plugin = ["-p", "mockserver.pytest_plugin"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "conftest.py").write_text(PER_TEST_CONFTEST)
        # Plain functions, alternating (test_with_0, test_without_0, ...): what a suite declares.
        pairs = "".join(
            f"def test_with_{i}(mockserver):\n    mockserver.bithuman.agent(rooms=['r1'])\n\n"
            f"def test_without_{i}():\n    pass\n\n"
            for i in range(n)
        )
        warm = "def test_warm(mockserver):\n    pass\n\n"  # the session server starts here, outside the figures
        (Path(tmp) / "test_per_test.py").write_text(warm + pairs)
        deltas = []
        for _ in range(rounds):
            args = [sys.executable, "-m", "pytest", *plugin, "-q", "-p", "no:cacheprovider", "-p", "no:schemathesis"]
            subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True, check=True)
            medians = json.loads((Path(tmp) / "durations.json").read_text())
            deltas.append((medians["with"] - medians["without"]) * 1000)
    return best(deltas)


def speak_ms(client: Any, label: str, n: int, rounds: int) -> dict[str, tuple[float, float]]:
    """``n`` speak requests through httpx and through the ControlClient, on ``client``'s transport."""
    import httpx

    from mockserver.client import ASGITransport, httpx_transport
    from mockserver.pytest_plugin import Mockserver

    def timed(send: Callable[[], Any]) -> tuple[float, float]:
        runs = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(n):
                send()
            runs.append((time.perf_counter() - start) * 1000)
        return best(runs)

    ms = Mockserver(client)
    agent = ms.bithuman.agent(rooms=["r1"])
    body, headers, path = {"message": "20% off"}, {"api-secret": agent.api_secret}, f"/v1/agent/{agent.code}/speak"
    in_process = isinstance(client.transport, ASGITransport)
    with httpx.Client(base_url=client.url, transport=httpx_transport(client.transport) if in_process else None) as http:
        figures = {
            f"{n:,} speak requests, httpx, {label}": timed(
                lambda: http.post(path, json=body, headers=headers).raise_for_status()
            ),
            f"{n:,} speak requests, ControlClient, {label}": timed(
                lambda: client.call("POST", path, body, headers=headers)
            ),
        }
    ms.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs per figure (the best is reported)")
    parser.add_argument("--tenants", type=int, default=1000, help="fresh tenants per per-test run")
    parser.add_argument("--tests", type=int, default=500, help="tests of each kind per pytest run (through pytest)")
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()

    from mockserver.app import create_app
    from mockserver.client import ASGITransport, ControlClient
    from mockserver.pytest_plugin import _no_delay
    from mockserver.server import MockServer

    rows: list[tuple[str, tuple[float, float], str]] = [
        ("import mockserver.pytest_plugin (fresh process, pytest loaded)", fresh_process("import", args.rounds), "ms"),
        ("session start: in-thread server up, first request answered", fresh_process("server", args.rounds), "ms"),
        ("session start: in-process app built (mockserver_app)", fresh_process("app", args.rounds), "ms"),
    ]
    server = MockServer()
    _no_delay(server)
    server.start()
    with ControlClient(server.url) as http, ControlClient(ASGITransport(create_app())) as local:
        for label, client in (("over HTTP", http), ("in process", local)):
            bh, ag = tenant_costs(client, args.tenants, args.rounds)
            rows += [(f"per test: fresh bitHuman agent + reset, {label}", bh, "ms"),
                     (f"per test: fresh Agora project + reset, {label}", ag, "ms")]  # fmt: skip
        speak = {**speak_ms(local, "in process", args.requests, args.rounds),
                 **speak_ms(http, "over HTTP (in-thread server)", args.requests, args.rounds)}  # fmt: skip
    server.stop()
    through_pytest = pytest_per_test(args.tests, args.rounds)
    rows.append(("per test through pytest: mockserver + agent, minus an empty test", through_pytest, "ms"))
    rows += [(label, value, "ms total") for label, value in speak.items()]

    width = max(len(label) for label, _, _ in rows)
    python = sys.version.split()[0]
    print(f"agent-mockserver pytest plugin: Python {python}, {os.cpu_count()} CPUs, {args.rounds} rounds per figure")
    print(f"  {'':<{width}}  {'best':>9}    {'median':>9}")
    for label, (low, middle), unit in rows:
        print(f"  {label:<{width}}  {low:9.3f}    {middle:9.3f} {unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
