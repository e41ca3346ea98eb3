"""What a test may change besides its tenants, and how it is put back when the test ends.

Tenants are isolated by their ids (``Tenants``); some state is the server's, shared by every tenant:
the fault rules and the clock. ``Baseline`` remembers each piece of shared state as the session
found it and puts it back after every test, however the test changed it (the handle, the
``ControlClient`` or a raw ``POST /_mock/faults``), so a fault added by one test never answers the
next one. It is used only when the session owns its server (in a thread or in process): a server
shared with other sessions or workers (``--mockserver-url``) gets back only what the test's own
handle did (see ``MockHandle.close``).

Shared state added later (webhook subscriptions, chaos scenarios, ...) joins by appending a
``SharedState`` to ``SHARED_STATE``: every session's ``Baseline`` then captures and restores it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..client import ControlClient

__all__ = ["SHARED_STATE", "Baseline", "ClockState", "FaultRules", "SharedState", "WebhookSettings", "rule_input"]


class SharedState(Protocol):
    """One piece of the server's shared state: read it, and put it back as it was."""

    name: str

    def capture(self, client: ControlClient) -> Any:
        """The state now (compared and restored later)."""

    def restore(self, client: ControlClient, saved: Any) -> Any:
        """Make the server's state ``saved`` again; returns what to compare with next time."""


_RULE_INPUT = (
    "kind",
    "operation",
    "tenant",
    "agent",
    "status",
    "latency_ms",
    "jitter_ms",
    "retry_after",
    "times",
    "probability",
    "message",
)


def rule_input(rule: dict[str, Any]) -> dict[str, Any]:
    """The ``add_fault`` body that recreates ``rule`` (a rule as ``list_faults`` returns it)."""
    return {k: rule[k] for k in _RULE_INPUT if rule.get(k) is not None}


class FaultRules:
    """The fault rules in force: rules a test added are removed, rules it used up or removed come back."""

    name = "faults"

    def capture(self, client: ControlClient) -> list[dict[str, Any]]:
        return client.list_faults()

    def restore(self, client: ControlClient, saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = {rule["id"]: rule for rule in client.list_faults()}
        kept = {rule["id"]: rule for rule in saved}
        if now == kept:
            return saved
        for rule_id, rule in now.items():
            # A rule that fired a limited number of times during the test is recreated with what it
            # had left, since the API cannot set a rule's count back.
            if rule_id not in kept or (rule["fired"] != kept[rule_id]["fired"] and rule.get("times") is not None):
                client.delete_fault(rule_id)
        for rule_id, rule in kept.items():
            current = now.get(rule_id)
            if current is None or (current["fired"] != rule["fired"] and rule.get("times") is not None):
                body = rule_input(rule)
                if rule.get("times") is not None:
                    body["times"] = max(1, rule["times"] - rule["fired"])
                client.add_fault(body)
        return client.list_faults()


class ClockState:
    """Whether the clock is frozen, and its speed (time that moved on stays moved: it only goes forward)."""

    name = "clock"

    def capture(self, client: ControlClient) -> dict[str, Any]:
        clock = client.get_clock()
        return {"frozen": clock["frozen"], "speed": clock["speed"]}

    def restore(self, client: ControlClient, saved: dict[str, Any]) -> dict[str, Any]:
        if self.capture(client) != saved:
            if saved["frozen"]:
                client.freeze_clock()
            else:
                client.resume_clock(saved["speed"])
        return saved


class WebhookSettings:
    """How webhooks are delivered (retries, timeout, queue, chaos options): server-wide, so put back."""

    name = "webhook settings"

    def capture(self, client: ControlClient) -> dict[str, Any]:
        return dict(client.get_webhooks()["settings"])

    def restore(self, client: ControlClient, saved: dict[str, Any]) -> dict[str, Any]:
        if self.capture(client) != saved:
            client.update_webhook_settings(**saved)
        return saved


SHARED_STATE: list[SharedState] = [FaultRules(), ClockState(), WebhookSettings()]


class Baseline:
    """The shared state of one server as the session found it; ``restore()`` after each test."""

    def __init__(self, client: ControlClient, states: list[SharedState] | None = None) -> None:
        self.client = client
        self.states = list(SHARED_STATE if states is None else states)
        self.saved = {state.name: state.capture(client) for state in self.states}

    def restore(self) -> None:
        for state in self.states:
            self.saved[state.name] = state.restore(self.client, self.saved[state.name])
