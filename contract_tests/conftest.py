"""The contract suite's command line, safety rules and report.

Options (docs/contract-tests.md):

- ``--target mock`` (default): an in-process mock; ``--target url --base-url URL``: a mock served
  elsewhere, arranged only through its HTTP control plane; ``--target real``: the vendors' APIs,
  with credentials from the environment (``real_env.ENVIRONMENT``).
- ``--allow-costly`` / ``--allow-destructive``: against the real APIs, also run what starts billed
  agents or places calls / what changes the account's phone numbers. Every test is marked
  ``safe``, ``costly`` or ``destructive``; without the flag the others are skipped, saying why.
- ``--thorough``: many more generated examples and state-machine steps.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from . import report, session
from .conformance import safety
from .resources import NumberSnapshot
from .target import Target

HERE = Path(__file__).resolve().parent
MARKS = ("safe", "costly", "destructive")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract", "agent-mockserver contract suite (contract_tests/)")
    group.addoption(
        "--target",
        choices=("mock", "url", "real"),
        default=os.environ.get("CONTRACT_TARGET", "mock"),
        help="what the contract suite checks: an in-process mock (default), a mock at --base-url, or the real APIs",
    )
    with contextlib.suppress(ValueError):  # pytest-base-url may define it already, with the same meaning
        group.addoption("--base-url", default=os.environ.get("CONTRACT_BASE_URL"), help="--target url: the mock's URL")
    group.addoption(
        "--allow-costly",
        action="store_true",
        help="--target real: also start billed agents and place phone calls (to AGORA_TO_NUMBER only)",
    )
    group.addoption(
        "--allow-destructive",
        action="store_true",
        help="--target real: also import, change and delete phone numbers (restored afterwards)",
    )
    group.addoption("--thorough", action="store_true", help="many more generated examples and state-machine steps")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "safe: reads, or acts only on what the test itself created; runs anywhere")
    config.addinivalue_line(
        "markers", "costly: starts billed agents or places phone calls; needs --allow-costly against the real APIs"
    )
    config.addinivalue_line(
        "markers", "destructive: changes the account's phone numbers; needs --allow-destructive against the real APIs"
    )
    target = config.getoption("target")
    base_url = config.getoption("base_url", default=None)
    if target == "url" and not base_url:
        raise pytest.UsageError("--target url needs --base-url URL (e.g. http://127.0.0.1:8080)")
    if target == "real" and config.getoption("numprocesses", default=None):
        # One account, one rate limit, one snapshot of its phone numbers: workers would share all three.
        raise pytest.UsageError("--target real runs in one process: drop -n (xdist)")
    session.configure(
        session.Options(
            target=target,
            base_url=base_url,
            allow_costly=config.getoption("allow_costly"),
            allow_destructive=config.getoption("allow_destructive"),
            thorough=config.getoption("thorough"),
        )
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    session.close()


def _in_suite(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not _in_suite(item):
            continue
        label = getattr(item, "operation_label", None)
        if label is not None:  # a schemathesis item: one operation
            method, _, path = label.partition(" ")
            op = report.operation_of(method, path)  # a template matches itself
            item.add_marker(getattr(pytest.mark, safety(op.operation_id if op is not None else "")))
        marks = [m.name for m in item.iter_markers() if m.name in MARKS]
        assert marks, f"{item.nodeid}: every contract test is marked safe, costly or destructive"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _in_suite(item):
        return
    report.forget_recent()
    opts = session.options()
    if opts.target != "real":
        return
    marks = {m.name for m in item.iter_markers() if m.name in MARKS}
    if "costly" in marks and not opts.allow_costly:
        pytest.skip("costly against the real API (starts billed agents or places calls): pass --allow-costly")
    if "destructive" in marks and not opts.allow_destructive:
        pytest.skip("changes the account's phone numbers: pass --allow-destructive (numbers are restored afterwards)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    test_report: pytest.TestReport = yield
    if _in_suite(item) and test_report.failed and call.when == "call":
        recent = report.recent_curls()
        longrepr = test_report.longrepr
        if recent and hasattr(longrepr, "addsection"):
            # Part of the failure itself, so the terminal and JUnit XML both carry it.
            longrepr.addsection("replay: the test's last requests (secrets masked)", recent)
    return test_report


@pytest.fixture(scope="session")
def target() -> Target:
    """The run's target (``--target``)."""
    return session.target()


@pytest.fixture(scope="session", autouse=True)
def _phone_numbers_put_back() -> Iterator[None]:
    """--target real --allow-destructive: the account's numbers as they were, whatever the run did."""
    opts = session.options()
    if opts.target != "real" or not opts.allow_destructive:
        yield
        return
    target = session.target()
    if not (target.credentials.agora_authorization and target.credentials.agora_appid):
        yield
        return
    snapshot = NumberSnapshot(target)
    snapshot.take(target.cleanup_http())
    yield
    problems = snapshot.restore(target.cleanup_http())
    assert not problems, f"could not put the account's phone numbers back: {problems}"


# -- the report ---------------------------------------------------------------------------------

_MERGED = report.Stats()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["contract_stats"] = report.STATS.to_json()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    output = getattr(node, "workeroutput", {})
    if "contract_stats" in output:
        _MERGED.merge_json(output["contract_stats"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    stats = report.Stats()
    stats.merge_json(_MERGED.to_json())
    stats.merge_json(report.STATS.to_json())
    if not (stats.conformance or stats.model):
        return
    opts = session.options()
    where = opts.target + (f" {opts.base_url}" if opts.target == "url" else "")
    terminalreporter.section("contract suite: coverage")
    for line in report.summary_lines(stats, where):
        terminalreporter.write_line(line)
