"""The pytest plugin, seen from a downstream suite: inner pytest sessions run with pytester.

Each test writes a small test module, runs it in a nested session with the plugin (through its
``pytest11`` entry point when the package is installed, with ``-p`` otherwise) and checks the
outcome: the issue's examples, the marker, errors in the server, ``--mockserver-url``, xdist, and
that a session leaves no thread or port behind.
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import threading
from pathlib import Path

import pytest

from mockserver import MockServer

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = any(
    ep.name == "mockserver" and ep.value == "mockserver.pytest_plugin"
    for ep in importlib.metadata.entry_points(group="pytest11")
)
# Loading the plugin twice (entry point and -p) is an error, so -p only when it is not installed.
PLUGIN = [] if INSTALLED else ["-p", "mockserver.pytest_plugin"]
INI = """
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings =
    error
    ignore:Valid config keys have changed in V2:UserWarning
    ignore::pydantic.warnings.PydanticDeprecatedSince20
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("MOCKSERVER_URL", "MOCKSERVER_FIXTURES", "MOCKSERVER_PORT", "MOCKSERVER_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini(INI)
    return pytester


def test_the_issue_examples_pass(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import httpx

        PROPERTIES = {
            "channel": "support", "token": "t", "agent_rtc_uid": "1001", "remote_rtc_uids": ["1002"],
            "llm": {"url": "https://llm.example/v1", "api_key": "k", "greeting_message": "Hi!"},
            "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-A"}},
        }

        def announce(base_url, secret, agent_code, text):
            r = httpx.post(f"{base_url}/v1/agent/{agent_code}/speak", json={"message": text},
                           headers={"api-secret": secret})
            r.raise_for_status()

        def start_support_agent(project):
            return project.sdk().agents.start(project.app_id, name="support", properties=PROPERTIES).agent_id

        def test_announce(mockserver):
            agent = mockserver.bithuman.agent(rooms=["r1", "r2"])
            announce(base_url=mockserver.url, secret=agent.api_secret, agent_code=agent.code, text="20% off")
            assert agent.said(room="r1") == ["20% off"]
            assert agent.context() == []

        def test_support_agent(mockserver):
            project = mockserver.agora.project(responder={"order": "Your order has shipped."})
            agent = project.agent(start_support_agent(project))
            assert agent.status == "RUNNING"
            agent.user_says("Where is my order?")
            assert "Your order has shipped." in agent.said()
            agent.user_leaves()
            mockserver.clock.advance(seconds=130)
            assert agent.status == "STOPPED"
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=2)


def test_marker_loads_fixtures_for_one_test_and_clock_is_restored(inner: pytest.Pytester) -> None:
    for name, secret in (("base", "s1"), ("override", "s2")):
        shop = f"bithuman: {{accounts: [{{id: shop, secrets: [{secret}], agents: [{{code: A1, rooms: [r1]}}]}}]}}"
        inner.makefile(".yaml", **{name: f"clock: {{freeze_at: 1700000000}}\n{shop}\n"})
    inner.makepyfile(
        """
        import httpx, pytest
        from mockserver.client import ControlError

        pytestmark = pytest.mark.mockserver_fixture("base.yaml")

        @pytest.mark.mockserver_fixture("override.yaml")
        def test_loaded(mockserver):
            assert mockserver.tenants == ["shop", "shop"] and mockserver.clock.now() == 1700000000
            r = httpx.post(f"{mockserver.url}/v1/agent/A1/speak", json={"message": "hi"}, headers={"api-secret": "s2"})
            assert r.status_code == 200, r.text  # the test's own mark is applied last
            mockserver.bithuman.get_account("shop").get_agent("A1").assert_said("hi", room="r1")

        def test_module_mark_only(mockserver):
            assert mockserver.bithuman.get_account("shop").api_secret == "s1"

        def test_gone_afterwards(mockserver_client):
            with pytest.raises(ControlError):
                mockserver_client.call("GET", "/_mock/bithuman/accounts/shop")
            assert mockserver_client.get_clock()["frozen"] is False
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=3)


def test_errors_in_the_server_fail_the_test(inner: pytest.Pytester) -> None:
    inner.makeconftest(
        """
        import pytest
        from mockserver.app import default_handlers

        def get_version(call):
            raise ZeroDivisionError("the mock has a bug")

        @pytest.fixture(scope="session")
        def mockserver_app_options():
            return {"handlers": {**default_handlers(), "get_version": get_version}}
        """
    )
    inner.makepyfile(
        """
        def test_hits_the_bug(mockserver):
            assert mockserver.client.request("GET", "/_mock/version").status == 500

        def test_hits_it_in_process(mockserver_inprocess):
            assert mockserver_inprocess.client.request("GET", "/_mock/version").status == 500

        def test_thread_died(monkeypatch, mockserver_server, mockserver):
            monkeypatch.setattr(mockserver_server, "_error", OSError("uvicorn died"))

        def test_clean(mockserver):
            assert mockserver.client.get_health()["status"] == "ok"
        """
    )
    result = inner.runpytest(*PLUGIN)
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(["*the mock server failed while serving this test:*", "ZeroDivisionError: *bug"])
    result.stdout.fnmatch_lines(["*RuntimeError: the mock server thread failed*"])


def test_a_session_leaves_no_thread_or_port(inner: pytest.Pytester) -> None:
    before = set(threading.enumerate())
    inner.makepyfile(
        """
        import asyncio, pathlib

        def test_live(mockserver, mockserver_server):
            pathlib.Path("port").write_text(str(mockserver_server.port))
            mockserver.bithuman.agent()

        def test_in_process_from_async_code(mockserver_inprocess):
            async def arrange():  # a running loop: the in-process transport uses its helper thread
                return mockserver_inprocess.bithuman.agent()
            assert asyncio.run(arrange()).rooms == ["room-1"]
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=2)
    port = int((inner.path / "port").read_text())
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


@pytest.mark.parametrize("how", ["option", "env"])
def test_mockserver_url_uses_a_server_started_elsewhere(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    inner.makepyfile(
        """
        import os

        def test_remote(mockserver):
            assert mockserver.url == os.environ["EXPECTED_URL"]
            mockserver.bithuman.agent()
            mockserver.agora.project()

        def test_needs_the_thread(mockserver_server):
            pass
        """
    )
    with MockServer(empty=True) as server:
        monkeypatch.setenv("EXPECTED_URL", server.url)
        args = ["--mockserver-url", server.url + "/"] if how == "option" else []
        if how == "env":
            monkeypatch.setenv("MOCKSERVER_URL", server.url)
        result = inner.runpytest(*PLUGIN, *args, "-rs")
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines([f"mockserver: using {server.url}*", "*needs the in-thread mock server*"])
        assert server.world.tenants() == {}  # the test's tenants were reset


def test_boot_fixtures_from_the_environment(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOCKSERVER_FIXTURES", str(ROOT / "fixtures" / "legacy.yaml"))
    inner.makepyfile(
        """
        def test_boot_world(mockserver, mockserver_inprocess):
            for ms in (mockserver, mockserver_inprocess):
                assert ms.bithuman.get_account("demo").agents[0].code == "A12345678"
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=1)


def test_xdist_workers_get_their_own_tenants(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import os, httpx, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_speak(mockserver, n):
            agent = mockserver.bithuman.agent(rooms=["r1"])
            assert f"-{os.environ['PYTEST_XDIST_WORKER']}-" in agent.account.id
            httpx.post(f"{mockserver.url}/v1/agent/{agent.code}/speak", json={"message": str(n)},
                       headers={"api-secret": agent.api_secret}).raise_for_status()
            assert agent.said() == [str(n)]
        """
    )
    # schemathesis (installed here, unused there) would double the start-up of each worker.
    inner.runpytest_subprocess(*PLUGIN, "-p", "no:schemathesis", "-n", "2").assert_outcomes(passed=6)
