"""A downstream suite's first hour: nothing one test changes reaches the next, and the handle's helpers.

Nested pytest sessions (pytester), as in test_pytest_plugin.py: each writes a small test module and
runs it with the plugin.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mockserver import MockServer
from mockserver.fixtures import PACKAGED_FIXTURES, FixtureError, load_fixture_file, resolve_fixture

from .test_pytest_plugin import INI, PLUGIN

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("MOCKSERVER_URL", "MOCKSERVER_FIXTURES", "MOCKSERVER_PORT", "MOCKSERVER_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini(INI)
    return pytester


LEAKS = """
import httpx
import pytest


@pytest.fixture(params=["mockserver", "mockserver_inprocess"])
def mock(request):
    return request.getfixturevalue(request.param)


def speak(mock, agent):
    return mock.http.post(f"/v1/agent/{agent.code}/speak", headers=agent.headers, json={"message": "hi"})


def test_1_changes_everything_by_hand(mock):
    # Raw control-plane calls, as a user reading docs/control-plane.md would write them.
    mock.client.add_fault({"kind": "error", "operation": "bithuman_speak", "status": 503})
    mock.client.freeze_clock()
    mock.client.call("POST", "/_mock/clock/resume", {"speed": 10})
    mock.client.freeze_clock()
    mock.http.headers["api-secret"] = "left-behind"
    assert speak(mock, mock.bithuman.agent()).status_code == 503


def test_2_a_fresh_agent_is_not_faulted(mock):
    assert mock.client.list_faults() == []
    clock = mock.client.get_clock()
    assert (clock["frozen"], clock["speed"]) == (False, 1.0)
    assert "api-secret" not in mock.http.headers
    assert speak(mock, mock.bithuman.agent()).status_code == 200
"""


def test_faults_clock_and_the_shared_client_do_not_leak_into_the_next_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(LEAKS)
    inner.runpytest(*PLUGIN).assert_outcomes(passed=4)


def test_fault_rules_used_up_or_removed_by_a_test_come_back(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mockserver_app_options():
            return {"fixtures": []}

        @pytest.fixture(scope="session", autouse=True)
        def boot_rule(mockserver_client):
            # A rule the session starts with (as a start-up fixture's ``faults`` would add).
            rule = mockserver_client.add_fault({"kind": "error", "operation": "bithuman_add_context",
                                                "status": 500, "times": 1})
            return rule

        def test_1_uses_it_up(mockserver):
            agent = mockserver.bithuman.agent()
            r = mockserver.http.post(f"/v1/agent/{agent.code}/add-context", headers=agent.headers,
                                     json={"context": "x"})
            assert r.status_code == 500

        def test_2_it_is_back(mockserver):
            (rule,) = mockserver.faults()
            assert (rule["operation"], rule["times"], rule["fired"]) == ("bithuman_add_context", 1, 0)
            mockserver.client.clear_faults()

        def test_3_and_back_again(mockserver):
            assert len(mockserver.faults()) == 1
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=3)


def test_webhook_delivery_settings_do_not_leak_into_the_next_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_1_changes_them(mockserver):
            mockserver.client.update_webhook_settings(timeout=0.5, retry_gaps=[], duplicate=True)

        def test_2_finds_the_defaults(mockserver):
            settings = mockserver.client.get_webhooks()["settings"]
            assert settings["timeout"] == 10 and settings["retry_gaps"] and settings["duplicate"] is False
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=2)


def test_handle_helpers_fault_journal_and_http(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_fault_scoped_to_an_agent(mockserver):
            agent, other = mockserver.bithuman.agent(), mockserver.bithuman.agent()
            rule = mockserver.fault("bithuman_speak", status=503, agent=agent, times=1)
            assert (rule["kind"], rule["tenant"], rule["agent"]) == ("error", agent.account.id, agent.code)
            post = lambda a: mockserver.http.post(f"/v1/agent/{a.code}/speak", headers=a.headers,
                                                   json={"message": "hi"})
            assert post(other).status_code == 200
            assert post(agent).status_code == 503
            assert post(agent).status_code == 200
            entries = mockserver.journal(operation="bithuman_speak")
            assert [e["status"] for e in entries] == [200, 503, 200]
            assert [e["status"] for e in mockserver.journal(tenant=agent.account.id)] == [503, 200]

        def test_latency_by_default_and_bad_options(mockserver):
            import pytest
            assert mockserver.fault("bithuman_speak", latency_ms=1)["kind"] == "latency"
            with pytest.raises(TypeError, match="stauts"):
                mockserver.fault("bithuman_speak", stauts=503)

        def test_agora_helpers(mockserver):
            project = mockserver.agora.project()
            assert mockserver.agora_url == mockserver.url + "/api/conversational-ai-agent"
            r = mockserver.http.get(f"{mockserver.agora_url}/v2/projects/{project.app_id}/agents",
                                    headers=project.headers)
            assert r.status_code == 200
            assert project.dial_rules([{"number": "+15550100", "outcome": "busy"}])[0]["outcome"] == "busy"

        def test_the_session_shares_one_client(mockserver, request):
            assert mockserver.http is request.getfixturevalue("_mockserver_http").get()
        """
    )
    result = inner.runpytest(*PLUGIN)
    result.assert_outcomes(passed=4)


def test_a_changed_fixture_project_is_reset_after_the_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_1_changes_the_demo_project(mockserver):
            mockserver.agora.get_project("demo-app-id").respond("hello", "changed")

        def test_2_it_is_as_the_fixture_says(mockserver):
            rules = mockserver.client.get_agora_project("demo-app-id")["responder"]
            assert {"match": "hello", "reply": "changed"} not in rules
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=2)


# -- one vocabulary of fixtures, one default world --------------------------------------------------


def _tenants(server: MockServer) -> set[str]:
    return set(server.world.tenants())


def test_mockserver_starts_with_the_default_world_like_serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # a downstream project: no fixtures/ folder here
    with MockServer() as server:
        assert {"demo", "demo-legacy", "demo-customer-id"} <= _tenants(server)
    with MockServer(fixtures=["default"]) as named, MockServer(fixtures=["legacy"]) as legacy:
        assert _tenants(named) == {"demo", "demo-legacy", "demo-customer-id"}
        assert _tenants(legacy) and _tenants(legacy) != _tenants(named)
    with MockServer(empty=True) as empty, MockServer(fixtures=[]) as none:
        assert _tenants(empty) == _tenants(none) == set()


def test_empty_and_fixtures_together_are_an_error() -> None:
    with pytest.raises(ValueError, match="empty=True"):
        MockServer(empty=True, fixtures=["legacy"])


@pytest.mark.parametrize("name", PACKAGED_FIXTURES)
def test_every_packaged_name_resolves_to_a_valid_fixture(name: str) -> None:
    assert resolve_fixture(name).is_file()
    assert load_fixture_file(name)["version"] == 1


def test_a_missing_fixture_file_names_the_packaged_ones(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="a packaged fixture: default, legacy"):
        load_fixture_file(tmp_path / "fixtures" / "default.yaml")


def test_the_cli_takes_the_same_names(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mockserver.cli import main

    result = CliRunner().invoke(main, ["validate", "no-active-rooms", "rate-limited"])
    assert result.exit_code == 0, result.output


def test_the_plugin_starts_with_the_default_world_too(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_demo_world(mockserver, mockserver_inprocess):
            for mock in (mockserver, mockserver_inprocess):
                assert {t["id"] for t in mock.client.list_tenants()} >= {"demo", "demo-customer-id"}
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=1)


def test_a_changed_fixture_account_is_reset_after_the_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_1_changes_the_demo_account(mockserver):
            account = mockserver.bithuman.get_account("demo")
            account.update(dialect="legacy")
            account.get_agent("A12345678").close_room("customer_session_1")

        def test_2_it_is_as_the_fixture_says(mockserver):
            account = mockserver.client.get_bithuman_account("demo")
            assert account.get("dialect") != "legacy"
            agent = mockserver.bithuman.get_account("demo").get_agent("A12345678")
            assert "customer_session_1" in agent.rooms
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=2)
