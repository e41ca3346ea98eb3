"""The suite bites: against deliberately broken variants of the mock, its checks fail, and say why.

Each variant is the in-process mock with one thing wrong, made by wrapping a handler of
``create_app(handlers=...)`` (or, for authentication, which no handler does, by a middleware that
lets every request through with the right secret). The suite's own checks run against it: the
schemathesis conformance check of one operation, or one of the model state machines. Each must
fail, with a message that names what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from schemathesis import GenerationMode
from starlette.responses import Response

from mockserver import World, create_app
from mockserver.app import default_handlers
from mockserver.world.inbox import Event

from .conformance import ConformanceSchema
from .session import in_process_target
from .target import DEFAULT_FIXTURE, Target
from .test_agora_model import AgoraAgents
from .test_bithuman_model import BitHumanDeliveries

Handler = Callable[[Any], Response]

pytestmark = pytest.mark.safe  # in process only, whatever --target says


# -- ways to break the mock -----------------------------------------------------------------------


def renamed(handler: Handler, old: str, new: str) -> Handler:
    """The answer's field ``old`` (at the top level or in ``data``) is called ``new``."""

    def broken(call: Any) -> Response:
        response = handler(call)
        body = orjson.loads(response.body)
        for holder in (body, body.get("data") if isinstance(body, dict) else None):
            if isinstance(holder, dict) and old in holder:
                holder[new] = holder.pop(old)
        return Response(orjson.dumps(body), status_code=response.status_code, media_type="application/json")

    return broken


def with_status(handler: Handler, status: int) -> Handler:
    """The answer comes with another status."""

    def broken(call: Any) -> Response:
        response = handler(call)
        return Response(response.body, status_code=status, media_type=response.media_type)

    return broken


def losing_an_event(handler: Handler) -> Handler:
    """The first inbox event of each request is never recorded."""

    def broken(call: Any) -> Response:
        inbox = call.world.inbox
        record, lost = inbox.record, []

        def drop_first(**fields: Any) -> Event:
            if not lost:
                lost.append(fields)
                return Event(id=0, **fields)
            return record(**fields)

        inbox.record = drop_first
        try:
            return handler(call)
        finally:
            del inbox.record

    return broken


def appending_as_interrupting(handler: Handler) -> Handler:
    """``speak`` with priority APPEND cuts the current speech, as INTERRUPT does."""

    def broken(call: Any) -> Response:
        if isinstance(call.body, dict) and call.body.get("priority") == "APPEND":
            call.body = {**call.body, "priority": "INTERRUPT"}
        return handler(call)

    return broken


class SkipsAuthentication:
    """ASGI middleware: every bitHuman request gets the valid secret, whatever it carried."""

    def __init__(self, app: Any) -> None:
        self.app, self.secret = app, b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/") and self.secret:
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"api-secret"]
            scope = {**scope, "headers": [*headers, (b"api-secret", self.secret)]}
        await self.app(scope, receive, send)


_BUILT: list[Target] = []


@pytest.fixture(autouse=True)
def _close_targets() -> Iterator[None]:
    """Close the targets a test built: each holds an in-process client with an event loop of its own."""
    yield
    while _BUILT:
        _BUILT.pop().close()


def self_test_target(app: Any) -> Target:
    """An in-process target on ``app``, kept out of the run's summary and closed after the test."""
    target = in_process_target(app, counted=False)
    _BUILT.append(target)
    return target


def broken_target(**replace: Callable[[Handler], Handler]) -> Target:
    handlers = default_handlers()
    for operation_id, breaker in replace.items():
        handlers[operation_id] = breaker(handlers[operation_id])
    return self_test_target(create_app(World(seed=5), fixtures=[DEFAULT_FIXTURE], handlers=handlers))


# -- running the suite's checks against one ---------------------------------------------------------


def _messages(error: BaseException) -> str:
    """Every message of a failure, including those grouped inside it."""
    parts = [str(error)]
    for inner in getattr(error, "exceptions", ()):
        parts.append(_messages(inner))
    return "\n".join(parts)


def conformance_failure(target: Target, operation_id: str, examples: int = 60) -> str:
    """Run the conformance check of one operation; return the failure's message."""
    conformance = ConformanceSchema(target)
    operation = conformance.schema.find_operation_by_id(operation_id)
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=examples,
        phases=[Phase.generate],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Any) -> None:
        conformance.check(case)

    # schemathesis groups its failures in a BaseExceptionGroup (FailureGroup).
    with pytest.raises(BaseException) as caught:
        run()
    return _messages(caught.value)


def model_failure(machine: type[RuleBasedStateMachine], target: Target, examples: int = 40) -> str:
    """Run one of the model state machines; return the failure's message."""
    bound = type(f"Broken{machine.__name__}", (machine,), {"TARGET": target})
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(
            bound,
            settings=settings(
                max_examples=examples,
                stateful_step_count=20,
                derandomize=True,
                database=None,
                phases=[Phase.generate],
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    return _messages(caught.value)


# -- the variants ---------------------------------------------------------------------------------


def test_a_renamed_required_field_fails_conformance() -> None:
    target = broken_target(list_agents=lambda h: renamed(h, "data", "items"))
    message = conformance_failure(target, "list_agents")
    assert "Response violates schema" in message and '"data" is a required property' in message, message


def test_a_renamed_field_fails_the_delivery_model() -> None:
    target = broken_target(bithuman_speak=lambda h: renamed(h, "delivered_to_rooms", "delivered"))
    message = model_failure(BitHumanDeliveries, target)
    assert "delivered_to_rooms should be" in message and "'delivered':" in message, message


def test_a_wrong_status_fails_conformance() -> None:
    target = broken_target(add_phone_number=lambda h: with_status(h, 200))
    message = conformance_failure(target, "add_phone_number")
    assert "Undocumented status code" in message and "Received: 200" in message, message


def test_a_missing_auth_check_fails_conformance() -> None:
    app = SkipsAuthentication(create_app(World(seed=5), fixtures=[DEFAULT_FIXTURE]))
    target = self_test_target(app)
    assert target.credentials.bithuman_secret is not None
    app.secret = target.credentials.bithuman_secret.encode()
    message = conformance_failure(target, "bithuman_speak")
    assert "API accepts" in message and "authentication" in message, message


def test_a_lost_inbox_event_fails_the_delivery_model() -> None:
    target = broken_target(bithuman_speak=losing_an_event, bithuman_add_context=losing_an_event)
    message = model_failure(BitHumanDeliveries, target)
    assert "the inbox should hold one event per room reached" in message, message


def test_append_handled_as_interrupt_fails_the_agent_model() -> None:
    target = broken_target(speak_agent=appending_as_interrupting)
    assert target.control is not None
    target.control.freeze_clock()
    message = model_failure(AgoraAgents, target, examples=60)
    assert "speak APPEND while speaking: the inbox says spoken, the model queued" in message, message
