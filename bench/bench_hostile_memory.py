"""What hostile inputs cost in memory: the cases of issue 14, in process, RSS before and after each.

Each case drives the app (``create_app`` with the default fixtures, clock frozen) through
Starlette's in-process test client, as a client would over HTTP, and prints the answers it got,
the RSS before and after, and for joins the median time per join at the start and at the end:

- alias bomb: the 496-byte "billion laughs" fixture, ``POST /_mock/fixtures`` as YAML;
- many joins: ``--joins`` joins into one Agora project with no ``concurrency_limit``;
- long APPEND queue: ``--speaks`` ``speak`` calls with ``priority: APPEND`` to one busy agent;
- rooms: ``--rooms`` rooms opened on one bitHuman agent over the control plane;
- fault rules: ``--faults`` rules added over the control plane;
- inbox: ``--events`` bitHuman speak calls, each one inbox event.

Every case stops at its count or when the whole run has used ``--budget`` seconds, whichever
comes first, so the script always ends by itself.

Run: ``.venv/bin/python bench/bench_hostile_memory.py [--joins 2000] [--speaks 500] [--budget 120]``.
"""

from __future__ import annotations

import argparse
import base64
import collections
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from starlette.testclient import TestClient  # noqa: E402

from mockserver import World, create_app  # noqa: E402

DEFAULT_FIXTURE = REPO / "fixtures" / "default.yaml"
AGORA = "/api/conversational-ai-agent/v2/projects/demo-app-id"
AUTH = {"authorization": "Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode()}
BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)


def rss_mib() -> float:
    """The resident set size of this process now (Linux ``/proc``), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def join_body(i: int) -> dict[str, Any]:
    return {
        "name": f"bench-{i}",
        "properties": {
            "channel": "bench",
            "token": "",
            "agent_rtc_uid": str(10_000 + i),
            "remote_rtc_uids": ["*"],
            "idle_timeout": 0,
            "llm": {"url": "https://llm.example/v1/chat/completions"},
            "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus"}},
        },
    }


class Run:
    def __init__(self, budget: float) -> None:
        self.deadline = time.monotonic() + budget

    def repeat(self, count: int, request: Callable[[int], Any]) -> tuple[collections.Counter[int], list[float]]:
        """Send up to ``count`` requests within the budget: statuses seen, and each one's seconds."""
        statuses: collections.Counter[int] = collections.Counter()
        times: list[float] = []
        for i in range(count):
            if time.monotonic() > self.deadline:
                break
            start = time.perf_counter()
            statuses[request(i).status_code] += 1
            times.append(time.perf_counter() - start)
        return statuses, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=2000)
    parser.add_argument("--speaks", type=int, default=500)
    parser.add_argument("--rooms", type=int, default=1500)
    parser.add_argument("--faults", type=int, default=1500)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds for the whole run")
    args = parser.parse_args()

    world = World(seed=1)
    app = create_app(world, fixtures=[DEFAULT_FIXTURE])
    world.clock.freeze(1_705_314_600.0)
    run = Run(args.budget)
    rows: list[tuple[str, str, float, float, str]] = []

    with TestClient(app) as client:

        def case(name: str, count: int, request: Callable[[int], Any], note: Callable[[list[float]], str]) -> None:
            before = rss_mib()
            statuses, times = run.repeat(count, request)
            after = rss_mib()
            answered = ", ".join(f"{n}×{s}" for s, n in sorted(statuses.items()))
            rows.append((name, answered or "(budget spent)", before, after, note(times)))

        case(
            f"alias bomb ({len(BOMB)} B)",
            1,
            lambda i: client.post("/_mock/fixtures", content=BOMB, headers={"Content-Type": "application/yaml"}),
            lambda t: f"{t[0] * 1000:.1f} ms" if t else "",
        )

        world.agora.update_project("demo-app-id", {"concurrency_limit": None})

        def per_join(t: list[float]) -> str:
            if len(t) < 200:
                return ""
            # Medians: on a shared machine a mean measures the neighbours and the garbage collector.
            first, last = statistics.median(t[:100]), statistics.median(t[-100:])
            return f"median of first 100: {first * 1000:.2f} ms/join, of last 100: {last * 1000:.2f} ms/join"

        case(
            "joins, no limit set",
            args.joins,
            lambda i: client.post(f"{AGORA}/join", json=join_body(i), headers=AUTH),
            per_join,
        )

        # One agent, busy with a long speech, receives APPEND after APPEND.
        world.agora.update_project("demo-app-id", {"concurrency_limit": None})
        world.reset()
        world.clock.freeze(1_705_314_600.0)
        agent_id = client.post(f"{AGORA}/join", json=join_body(0), headers=AUTH).json()["agent_id"]
        speak = f"{AGORA}/agents/{agent_id}/speak"
        client.post(speak, json={"text": "a long sentence " * 20, "priority": "INTERRUPT"}, headers=AUTH)
        case(
            "speak APPEND, one agent",
            args.speaks,
            lambda i: client.post(speak, json={"text": f"then {i}", "priority": "APPEND"}, headers=AUTH),
            lambda t: f"queue: {len(world.agora.agent('demo-app-id', agent_id).conversation.queue)}",
        )
        case(
            "rooms, one bitHuman agent",
            args.rooms,
            lambda i: client.post("/_mock/bithuman/accounts/demo/agents/A12345678/rooms", json={}),
            lambda t: f"rooms: {len(world.bithuman.get_agent('demo', 'A12345678').rooms)}",
        )
        case(
            "fault rules",
            args.faults,
            lambda i: client.post("/_mock/faults", json={"kind": "latency", "latency_ms": 0, "tenant": "nobody"}),
            lambda t: f"rules: {len(world.faults.list())}",
        )
        world.faults.clear()
        world.bithuman.get_agent("demo", "A12345678").rooms.clear()
        world.bithuman.open_room("demo", "A12345678", "r1")
        case(
            "bitHuman speak (inbox)",
            args.events,
            lambda i: client.post(
                "/v1/agent/A12345678/speak", json={"message": f"m{i}"}, headers={"api-secret": "your_secret"}
            ),
            lambda t: f"inbox: {len(world.inbox)} events",
        )

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'answers':<22}  {'RSS before':>10}  {'RSS after':>10}  notes")
    for name, answered, before, after, note in rows:
        print(f"{name:<{width}}  {answered:<22}  {before:>7.1f} MiB  {after:>7.1f} MiB  {note}")


if __name__ == "__main__":
    main()
