"""pytest plugin (entry point ``mockserver``): one mock per session, fresh tenants per test.

After ``pip install agent-mockserver`` a test asks for ``mockserver`` and arranges what it needs::

    def test_announce(mockserver):
        agent = mockserver.bithuman.agent(rooms=["r1"])
        announce(mockserver.url, agent.api_secret, agent.code, "20% off")
        agent.assert_said("20% off", room="r1")

Tests never share state because each one works in tenants of its own (unique ids), not because
the world is reset: so a session needs one server, tests stay independent, and several pytest-xdist
workers (or sessions) can share one server given with ``--mockserver-url``. Everything the handle
does goes through the control plane (``mockserver.client``), whether the server is the in-thread
one, one started elsewhere, or the app called in process (``mockserver_inprocess``).
See docs/pytest-plugin.md.

This module holds the options, hooks, marker and fixtures; the handles live in
``mockserver.handles`` (re-exported here). Every pytest run in an environment with the package
installed imports this module, so it imports only pytest and the standard library: the client, the
handles, the app and the server are imported when a fixture first needs them.

PYTEST_DONT_REWRITE: a nested session (pytester) loading it with ``-p`` would warn that the module
was imported already; and there is nothing to rewrite (the handles raise their own AssertionErrors).
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .client import ControlClient
    from .handles import Account, Agent, Agora, AgoraAgent, BitHuman, Clock, MockHandle, Project
    from .server import MockServer

__all__ = ["Account", "Agent", "Agora", "AgoraAgent", "BitHuman", "Clock", "MockHandle", "Project"]

_ERRORS = pytest.StashKey["_ServerErrors"]()
_HANDLES = frozenset([*__all__, "Expected", "Mockserver"])


def __getattr__(name: str) -> Any:
    # The handles are re-exported lazily: importing them (and mockserver.client, asyncio under it)
    # is left to the first test that uses the mock, or to whoever imports them from here.
    if name in _HANDLES:
        from . import handles

        value = getattr(handles, name)
        if name != "Mockserver":  # the deprecated name warns on every use
            globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- errors in the server ---------------------------------------------------------------------------


class _ServerErrors(logging.Handler):
    """Collects errors the mock logs while serving (a handler that raised, uvicorn failing)."""

    LOGGERS = ("mockserver", "uvicorn.error")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: collections.deque[logging.LogRecord] = collections.deque(maxlen=50)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.count += 1

    def since(self, mark: int) -> list[logging.LogRecord]:
        return list(self.records)[-(self.count - mark) :] if self.count > mark else []


# -- hooks ----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockserver", "agent-mockserver")
    group.addoption(
        "--mockserver-coverage",
        action="store_true",
        help="report what the suite exercised of both vendor APIs and the simulated world (docs/coverage.md)",
    )
    group.addoption(
        "--mockserver-coverage-report",
        action="append",
        metavar="json:PATH|html:PATH",
        help="also write the coverage report to PATH (may be repeated; implies --mockserver-coverage)",
    )
    group.addoption(
        "--mockserver-coverage-fail-under",
        type=float,
        metavar="N",
        help="fail the run if the mockserver coverage is below N percent (implies --mockserver-coverage)",
    )
    group.addoption(
        "--mockserver-url",
        default=None,
        help="use the mock server at this URL instead of starting one per session (env: MOCKSERVER_URL)",
    )
    group.addoption(
        "--mockserver-token",
        default=None,
        help="the mock's control token: sent on every control-plane request, and required by the session's "
        "own mock (env: MOCKSERVER_CONTROL_TOKEN)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockserver_fixture(*paths): load these fixture files (relative to the test file) into the mock for the test",
    )
    config.addinivalue_line(
        "markers",
        "mockserver_chaos(scenario, **options): put a chaos scenario in force for every tenant of the test",
    )
    errors = config.stash[_ERRORS] = _ServerErrors()
    if (
        config.getoption("mockserver_coverage", default=False)
        or config.getoption("mockserver_coverage_report", default=None)
        or config.getoption("mockserver_coverage_fail_under", default=None) is not None
    ):
        from .coverage_plugin import CoveragePlugin  # only then: the report needs the spec and the world

        shared = _external_url(config) is not None
        config.pluginmanager.register(CoveragePlugin(config, shared=shared), "mockserver-coverage")
    for name in _ServerErrors.LOGGERS:
        logging.getLogger(name).addHandler(errors)


def pytest_unconfigure(config: pytest.Config) -> None:
    errors = config.stash.get(_ERRORS, None)
    if errors is not None:
        for name in _ServerErrors.LOGGERS:
            logging.getLogger(name).removeHandler(errors)


def pytest_report_header(config: pytest.Config) -> str | None:
    url = _external_url(config)
    return f"mockserver: using {url}" if url else None


def _external_url(config: pytest.Config) -> str | None:
    return config.getoption("mockserver_url", default=None) or os.environ.get("MOCKSERVER_URL") or None


def _token(config: pytest.Config) -> str | None:
    return config.getoption("mockserver_token", default=None) or os.environ.get("MOCKSERVER_CONTROL_TOKEN") or None


# -- configuration fixtures (override them in a conftest.py) --------------------------------------


@pytest.fixture(scope="session")
def mockserver_listen_address() -> tuple[str, int]:
    """Where the session's server listens: ``MOCKSERVER_HOST`` / ``MOCKSERVER_PORT``, else 127.0.0.1:0."""
    return os.environ.get("MOCKSERVER_HOST", "127.0.0.1"), int(os.environ.get("MOCKSERVER_PORT", "0"))


@pytest.fixture(scope="session")
def mockserver_app_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """``create_app`` options of the session's mock (in-thread and in-process).

    Defaults from the environment: ``MOCKSERVER_FIXTURES`` (the start-up world: packaged fixture
    names or paths, joined with ``os.pathsep``; unset: ``default``, the world ``mockserver serve``
    starts with; empty: no tenants), ``MOCKSERVER_SEED``, ``MOCKSERVER_BITHUMAN_DIALECT``, and the
    control token (``--mockserver-token`` / ``MOCKSERVER_CONTROL_TOKEN``).
    """
    options: dict[str, Any] = {}
    if _token(pytestconfig):
        options["control_token"] = _token(pytestconfig)
    named = os.environ.get("MOCKSERVER_FIXTURES")
    options["fixtures"] = ["default"] if named is None else [p for p in named.split(os.pathsep) if p]
    if os.environ.get("MOCKSERVER_SEED"):
        options["seed"] = int(os.environ["MOCKSERVER_SEED"])
    if os.environ.get("MOCKSERVER_BITHUMAN_DIALECT"):
        options["bithuman_dialect"] = os.environ["MOCKSERVER_BITHUMAN_DIALECT"]
    return options


# -- the server, the client, the handles -----------------------------------------------------------


@pytest.fixture(scope="session")
def mockserver_server(
    pytestconfig: pytest.Config, mockserver_listen_address: tuple[str, int], mockserver_app_options: dict[str, Any]
) -> Iterator[MockServer]:
    """The session's ``MockServer``: uvicorn in a thread (skips the test under ``--mockserver-url``)."""
    if _external_url(pytestconfig):
        pytest.skip("needs the in-thread mock server, but --mockserver-url / MOCKSERVER_URL names another one")
    from .server import MockServer

    host, port = mockserver_listen_address
    server = MockServer(host=host, port=port, **mockserver_app_options)
    _no_delay(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _no_delay(server: MockServer) -> None:
    # MockServer binds a socket whose proto is 0, so asyncio never sets TCP_NODELAY on accepted
    # connections and each small response waits ~40 ms for a delayed ACK. Accepted sockets inherit
    # the option from the listening one on Linux and macOS. Harmless once server.py sets it itself.
    sock = getattr(server, "_sock", None)
    if sock is not None:
        import socket

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@pytest.fixture(scope="session")
def mockserver_url(request: pytest.FixtureRequest) -> str:
    """The base URL: ``--mockserver-url`` / ``MOCKSERVER_URL``, else the session's in-thread server."""
    url = _external_url(request.config)
    return url.rstrip("/") if url else str(request.getfixturevalue("mockserver_server").url)


@pytest.fixture(scope="session")
def mockserver_client(pytestconfig: pytest.Config, mockserver_url: str) -> Iterator[ControlClient]:
    """A ``ControlClient`` of the session's mock (HTTP), with the control token if one is given."""
    from .client import ControlClient

    with ControlClient(mockserver_url, token=_token(pytestconfig)) as client:
        yield client


@pytest.fixture
def mockserver(request: pytest.FixtureRequest, mockserver_client: ControlClient) -> Iterator[MockHandle]:
    """A handle on the session's mock for one test: fresh tenants, reset when the test ends."""
    server = None if _external_url(request.config) else request.getfixturevalue("mockserver_server")
    baseline = None if server is None else request.getfixturevalue("_mockserver_baseline")
    http = request.getfixturevalue("_mockserver_http")
    yield from _handle(request, mockserver_client, server, baseline, http)


@pytest.fixture(scope="session")
def mockserver_app(mockserver_app_options: dict[str, Any]) -> Any:
    """The session's in-process app (``create_app``): its own world, no socket, no thread."""
    from .app import create_app

    return create_app(**mockserver_app_options)


@pytest.fixture(scope="session")
def mockserver_inprocess_client(pytestconfig: pytest.Config, mockserver_app: Any) -> Iterator[ControlClient]:
    """A ``ControlClient`` that calls ``mockserver_app`` directly."""
    from .client import ASGITransport, ControlClient

    with ControlClient(ASGITransport(mockserver_app), token=_token(pytestconfig)) as client:
        yield client


@pytest.fixture
def mockserver_inprocess(
    request: pytest.FixtureRequest, mockserver_inprocess_client: ControlClient
) -> Iterator[MockHandle]:
    """Like ``mockserver``, in process: reach it with ``.http``, ``.httpx_client()``, ``.requests_session()``
    or ``project.sdk()`` (its ``url`` is an ``.invalid`` one that no socket answers)."""
    baseline = request.getfixturevalue("_mockserver_inprocess_baseline")
    http = request.getfixturevalue("_mockserver_inprocess_http")
    yield from _handle(request, mockserver_inprocess_client, None, baseline, http)


@pytest.fixture
def mockserver_webhook_receiver() -> Iterator[Any]:
    """An HTTP endpoint on 127.0.0.1 that records the webhooks it gets and checks their signatures
    (``mockserver.receiver.WebhookReceiver``; wire a project with ``.subscribe_agora``). See docs/webhooks.md."""
    from .receiver import WebhookReceiver

    with WebhookReceiver(agora_secret="mockserver-ncs-secret") as receiver:
        yield receiver


# What a test changes of the server's shared state (fault rules, the clock, and what joins
# ``handles.scope.SHARED_STATE``) is put back after it, from the state the session found; the
# session's ``http`` client is made once. Private: the handle is the way to them.


@pytest.fixture(scope="session")
def _mockserver_baseline(mockserver_client: ControlClient) -> Any:
    from .handles.scope import Baseline

    return Baseline(mockserver_client)


@pytest.fixture(scope="session")
def _mockserver_inprocess_baseline(mockserver_inprocess_client: ControlClient) -> Any:
    from .handles.scope import Baseline

    return Baseline(mockserver_inprocess_client)


@pytest.fixture(scope="session")
def _mockserver_http(mockserver_client: ControlClient) -> Iterator[Any]:
    from .handles.handle import SessionHTTP

    http = SessionHTTP(mockserver_client)
    yield http
    http.close()


@pytest.fixture(scope="session")
def _mockserver_inprocess_http(mockserver_inprocess_client: ControlClient) -> Iterator[Any]:
    from .handles.handle import SessionHTTP

    http = SessionHTTP(mockserver_inprocess_client)
    yield http
    http.close()


def _handle(
    request: pytest.FixtureRequest,
    client: ControlClient,
    server: MockServer | None,
    baseline: Any = None,
    http: Any = None,
) -> Iterator[MockHandle]:
    from .handles import MockHandle

    errors: _ServerErrors = request.config.stash[_ERRORS]
    seen = errors.count  # only what goes wrong from now on is this test's

    def check() -> None:
        __tracebackhide__ = True
        if server is not None:
            server.raise_if_failed()
        failures = errors.since(seen)
        if failures:
            text = "\n".join(logging.Formatter().format(r) for r in failures)
            pytest.fail(f"the mock server failed while serving this test:\n{text}", pytrace=False)

    check()
    handle = MockHandle(client, base_dir=request.path.parent, check=check, baseline=baseline, http=http)
    try:
        # The closest mark comes first; load module and class marks before the test's own.
        for mark in reversed(list(request.node.iter_markers("mockserver_fixture"))):
            for path in mark.args:
                handle.load_fixture(path)
        for mark in reversed(list(request.node.iter_markers("mockserver_chaos"))):
            handle.chaos(*mark.args, **mark.kwargs)
        yield handle
    finally:
        try:
            handle.close()
        finally:
            check()
