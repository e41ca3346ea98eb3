"""The coverage report in pytest (``--mockserver-coverage``; see docs/coverage.md).

Registered by ``pytest_plugin`` only when one of the coverage options is given. At the end of each
test, before its tenants are reset, it reads what that test's tenants exercised from the mock
(``GET /_mock/coverage?tenant=``), so counts are exact whichever server the test used: the
session's own, a shared one (``--mockserver-url``) or the in-process app. Requests that no tenant
authenticated (a wrong credential) are read from the session's own servers only, since on a shared
server they may be anybody's. Under pytest-xdist each worker sends its counts to the controller
(``workeroutput``), which merges them, prints the table and applies ``--mockserver-coverage-fail-under``.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .client import ControlError
from .coverage import Item, html_report, merge, report, text_report, universe

__all__ = ["CoveragePlugin", "parse_reports"]

_OUTPUT = "mockserver_coverage"
_HANDLES = ("mockserver", "mockserver_inprocess")


def parse_reports(values: list[str]) -> list[tuple[str, Path]]:
    """``json:PATH`` / ``html:PATH`` options as (format, path)."""
    reports = []
    for value in values:
        kind, sep, path = value.partition(":")
        if not sep or kind not in ("json", "html") or not path:
            raise pytest.UsageError(f"--mockserver-coverage-report takes json:PATH or html:PATH, not {value!r}")
        reports.append((kind, Path(path)))
    return reports


class CoveragePlugin:
    """Collects the records of each test's tenants; reports them at the end of the session."""

    def __init__(self, config: pytest.Config, *, shared: bool) -> None:
        self.config = config
        self.shared = shared
        self.reports = parse_reports(config.getoption("mockserver_coverage_report") or [])
        self.fail_under: float | None = config.getoption("mockserver_coverage_fail_under")
        self.counts: dict[str, int] = {}
        self.anonymous: dict[str, dict[str, int]] = {}  # client URL -> its latest (cumulative) counts
        self.items: list[dict[str, Any]] | None = None
        self.result: dict[str, Any] | None = None

    # -- collecting (each worker, or the only process) ------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        # Before the fixtures' finalizers: the handle still knows its tenants, not yet reset.
        funcargs = getattr(item, "funcargs", {})
        for name in _HANDLES:
            handle = funcargs.get(name)
            if handle is not None:
                self._collect(handle)
        yield

    def _collect(self, handle: Any) -> None:
        try:
            for tenant in dict.fromkeys(handle.tenants):
                self._add(handle.client.get_coverage(tenant))
            if not self.shared or handle.in_process:
                self.anonymous[handle.url] = handle.client.get_coverage(anonymous=True)["counts"]
        except (ControlError, OSError):
            # A test that deleted its own tenant, a mock without the report, or one that is gone
            # (the test reports that itself): nothing to add.
            pass

    def _add(self, found: dict[str, Any]) -> None:
        self.counts = merge(self.counts, found["counts"])
        if self.items is None:
            self.items = [{k: v for k, v in i.items() if k != "count"} for i in found["items"]]

    def _total(self) -> dict[str, int]:
        return merge(self.counts, *self.anonymous.values())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        # pytest-xdist, on the controller: merge a worker's records.
        sent = getattr(node, "workeroutput", {}).get(_OUTPUT)
        if sent:
            self.counts = merge(self.counts, sent["counts"])
            if self.items is None and sent["items"]:
                self.items = sent["items"]

    # -- reporting (the controller, or the only process) ----------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_OUTPUT] = {"counts": self._total(), "items": self.items}
            return
        items = tuple(Item(**i) for i in self.items) if self.items else universe()
        self.result = report(self._total(), items)
        for kind, path in self.reports:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(self.result, indent=2) if kind == "json" else html_report(self.result)
            path.write_text(text, encoding="utf-8")
        if self.fail_under is not None and self.result["percent"] < self.fail_under:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.result is None:
            return
        terminalreporter.write_sep("-", "agent-mockserver coverage")
        terminalreporter.write_line(text_report(self.result))
        for kind, path in self.reports:
            terminalreporter.write_line(f"coverage {kind} report written to {path}")
        if self.fail_under is not None:
            percent = self.result["percent"]
            if percent < self.fail_under:
                limit = f"--mockserver-coverage-fail-under={self.fail_under:g}"
                terminalreporter.write_line(f"FAIL: mockserver coverage {percent:.2f} % is below {limit}", red=True)
            else:
                terminalreporter.write_line(f"mockserver coverage {percent:.2f} % reached {self.fail_under:g} %")
