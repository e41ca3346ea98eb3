"""What a session webhook costs the API: ``speak`` in process with no webhook, with a receiver that
answers at once, and with one that never answers (the queue fills, then notifications are dropped).

Each ``speak`` to one room queues one ``chat.push``; delivery runs in the sender's own thread, so
the request path only pays for building the notification. Run it with
``python bench/bench_webhooks.py [--requests 5000]``; it prints microseconds per request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_inprocess import drive  # noqa: E402

from mockserver import World, create_app  # noqa: E402
from mockserver.receiver import WebhookReceiver  # noqa: E402


def measure(requests: int, receiver: WebhookReceiver | None) -> tuple[float, dict[str, int]]:
    world = World(seed=1)
    app = create_app(world, fixtures=[ROOT / "fixtures" / "default.yaml"])
    if receiver is not None:
        account = next(
            a for a in world.bithuman.accounts.values() if "A12345678" in a.agents and "YOUR_API_SECRET" in a.secrets
        )
        world.webhooks.set_bithuman(account.id, receiver.url, events=["chat.push"])
    us, status = asyncio.run(drive(app, requests))
    assert status == 200, status
    return us, world.webhooks.stats()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    print(f"requests per case: {args.requests}")
    us, _ = measure(args.requests, None)
    print(f"no webhook          : {us:7.1f} us/request")
    with WebhookReceiver() as fast:
        us, stats = measure(args.requests, fast)
    print(f"receiver answers 200: {us:7.1f} us/request  {stats}")
    with WebhookReceiver() as stuck:
        stuck.hang()
        us, stats = measure(args.requests, stuck)
        stuck.release()
    print(f"receiver hangs      : {us:7.1f} us/request  {stats}")


if __name__ == "__main__":
    main()
