"""The pure side of webhooks: what falls due, in which order, and the retry schedule (no HTTP)."""

from __future__ import annotations

from mockserver.world import World
from mockserver.world.webhooks import Attempt

T0 = 1_700_000_000.0


def world_with_call() -> tuple[World, str]:
    """A project with a webhook (no sender: nothing is sent) and an outbound call just dialled."""
    world = World(seed=1)
    world.clock.freeze(T0)
    customer = world.agora.create_customer("c", "s", [{"appid": "app"}])
    world.telephony.add_phone_number(customer, {"provider": "byo", "phone_number": "+15550100001", "label": "x"})
    world.webhooks.set_agora("app", "http://127.0.0.1:9/ncs", "secret", [202])
    from mockserver.world.agora import Principal

    body = {
        "name": "caller",
        "sip": {"to_number": "+15550123456", "from_number": "+15550100001", "rtc_uid": "100", "rtc_token": "t"},
        "properties": {
            "channel": "call",
            "token": "t",
            "agent_rtc_uid": "101",
            "llm": {"url": "https://l/v1"},
            "tts": {"vendor": "microsoft", "params": {}},
        },
    }
    call = world.telephony.start_call(Principal(customer), world.agora.projects["app"], body)
    return world, call.agent.agent_id


def states(notifications: list) -> list[str]:  # type: ignore[type-arg]
    return [n.payload["state"] for n in notifications]


def test_one_session_sends_one_at_a_time_in_order() -> None:
    world, _ = world_with_call()
    hooks = world.webhooks
    first = hooks.due(T0)
    assert states(first) == ["START"]  # CALLING and RINGING wait for it
    assert hooks.due(T0) == []
    hooks.finish(first[0], Attempt(1, T0, 200, None, 1.0))
    second = hooks.due(T0)
    assert states(second) == ["CALLING"]


def test_out_of_order_chaos_sends_everything_due_newest_first() -> None:
    world, _ = world_with_call()
    world.webhooks.update_settings({"out_of_order": True})
    assert states(world.webhooks.due(T0)) == ["RINGING", "CALLING", "START"]


def test_retry_schedule_follows_the_gaps_on_the_mock_clock() -> None:
    world, _ = world_with_call()
    hooks = world.webhooks
    hooks.update_settings({"retry_gaps": [0, 5]})
    [n] = hooks.due(T0)
    hooks.finish(n, Attempt(1, T0, 500, None, 1.0))
    assert hooks.due(T0) == [n]  # the first retry is immediate
    hooks.finish(n, Attempt(2, T0, None, "refused", 1.0))
    # While it waits, the session's next notification may go (a retry comes after later ones).
    [calling] = hooks.due(T0 + 4.9)
    assert calling is not n and calling.payload["state"] == "CALLING"
    hooks.finish(calling, Attempt(1, T0 + 4.9, 200, None, 1.0))
    assert hooks.due(T0 + 5)[0] is n
    hooks.finish(n, Attempt(3, T0 + 5, 503, None, 1.0))
    assert n.state == "failed" and hooks.stats()["failed"] == 1
    outcomes = [(e.data["event"], e.data["attempt"], e.outcome) for e in world.inbox.query(kind="webhook")]
    assert [o for o in outcomes if o[2] != "delivered"] == [
        (202, 1, "retrying"),
        (202, 2, "retrying"),
        (202, 3, "failed"),
    ]


def test_a_full_reset_forgets_subscriptions_and_deliveries() -> None:
    world, _ = world_with_call()
    assert world.webhooks.stats()["queued"] == 3
    world.reset()
    assert not world.webhooks.active and world.webhooks.stats() == {
        "queued": 0,
        "delivered": 0,
        "failed": 0,
        "dropped": 0,
    }
