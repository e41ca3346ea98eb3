"""What a downstream suite pays per test: 300 tests that each make an agent and call the mock.

Writes two copies of a small downstream suite into a temporary folder and runs each in a fresh
pytest process with the plugin (from the package installed here), three times, best run kept:

- ``httpx.post``: each test calls ``httpx.post(mockserver.url + ...)``, a new client per call;
- ``mockserver.http``: each test calls ``mockserver.http.post(...)``, the session's one client;
- ``no mock``: the same number of empty tests, what pytest itself costs.

It prints pytest's own wall time for the tests (session start included, interpreter start-up and
collection not) and the CPU time of the whole process (user + system, the server thread's
included), each with its cost per test over the empty suite. On a shared machine the wall time
swings with the load; the CPU time much less.

Usage: .venv/bin/python bench/bench_downstream.py [N_TESTS]
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TEST = """
import httpx
import pytest


@pytest.mark.parametrize("n", range({n}))
def test_speak(mockserver, n):
    agent = mockserver.bithuman.agent(rooms=["r1"])
    {call}
    assert r.status_code == 200
    assert agent.said() == ["hi"]
"""

EMPTY = """
import pytest


@pytest.mark.parametrize("n", range({n}))
def test_nothing(n):
    pass
"""

CALLS = {
    "httpx.post": 'r = httpx.post(f"{mockserver.url}/v1/agent/{agent.code}/speak", '
    'headers={"api-secret": agent.api_secret}, json={"message": "hi"})',
    "mockserver.http": 'r = mockserver.http.post(f"/v1/agent/{agent.code}/speak", headers=agent.headers, '
    'json={"message": "hi"})',
}


def run(folder: Path) -> tuple[float, float]:
    """(pytest's wall seconds, the process's CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(folder)],
        check=True,
        capture_output=True,
        text=True,
        cwd=folder,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"passed in ([0-9.]+)s", done.stdout)
    assert found, done.stdout
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(found.group(1)), cpu


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        suites = {name: TEST.replace("{call}", call) for name, call in CALLS.items()} | {"no mock": EMPTY}
        for name, text in suites.items():
            folder = Path(tmp) / re.sub(r"\W", "_", name)
            folder.mkdir()
            (folder / "test_downstream.py").write_text(text.replace("{n}", str(n)))
            runs = [run(folder) for _ in range(3)]
            results[name] = (min(r[0] for r in runs), min(r[1] for r in runs))
        wall0, cpu0 = results["no mock"]
        for name, (wall, cpu) in results.items():
            print(
                f"{n} tests, {name:16s}: wall {wall:6.2f} s ({(wall - wall0) / n * 1000:5.1f} ms a test), "
                f"CPU {cpu:6.2f} s ({(cpu - cpu0) / n * 1000:5.1f} ms a test) (best of 3; per test: over empty tests)"
            )


if __name__ == "__main__":
    main()
