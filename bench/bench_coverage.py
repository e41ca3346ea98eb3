"""What the coverage recorder costs per request: ``record_request`` timed on its own.

The in-process benchmark (``bench_inprocess.py``) is too noisy on a shared machine to show a cost of
a few microseconds, so this times the hook directly: a delivered bitHuman ``speak`` (operation key
and delivery key), an Agora 404 (the error body is parsed for its reason) and a control-plane
request (not counted). Run ``python bench/bench_coverage.py [--calls 200000]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from starlette.responses import Response  # noqa: E402

from mockserver.coverage import record_request  # noqa: E402
from mockserver.world import World  # noqa: E402
from mockserver.world.errors import DomainError  # noqa: E402


def _time(action: Callable[[], None], calls: int, rounds: int = 5) -> float:
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    world = World(seed=1)
    vendor, control = SimpleNamespace(vendor=True), SimpleNamespace(vendor=False)
    speak = SimpleNamespace(operation=SimpleNamespace(operation_id="bithuman_speak"), body={"message": "x"})
    delivered = Response(b'{"success":true}', 200)
    agora = SimpleNamespace(operation=SimpleNamespace(operation_id="speak_agent"), body={"text": "x"})
    missing = Response(b'{"detail":"task not found","reason":"TaskNotFound"}', 404)
    failure = DomainError("not_found", "task not found")
    cases = {
        "bitHuman speak 200": lambda: record_request(world, vendor, speak, delivered, None, "demo"),  # type: ignore[arg-type]
        "Agora speak 404": lambda: record_request(world, vendor, agora, missing, failure, "acme"),  # type: ignore[arg-type]
        "control plane": lambda: record_request(world, control, speak, delivered, None, None),  # type: ignore[arg-type]
    }
    for name, action in cases.items():
        print(f"{name:<20} {_time(action, calls):6.2f} us/request (median of 5 x {calls})")


if __name__ == "__main__":
    main()
