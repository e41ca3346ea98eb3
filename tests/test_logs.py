"""The request log of ``serve``: vendor traffic by default, control plane and bodies at debug,
secrets masked, one format for every line, colours only on a terminal."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mockserver import World, create_app
from mockserver.accesslog import LogFormatter, configure_logging, use_colour

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

SPEAK = "/v1/agent/{code}/speak"


@pytest.fixture
def logged() -> Iterator[TestClient]:
    with TestClient(create_app(World(seed=1), fixtures=[DEFAULT_FIXTURE], access_log=True)) as c:
        yield c


def _traffic(c: TestClient) -> None:
    for _ in range(5):  # what an open dashboard does between two vendor calls
        c.get("/_mock/inbox")
        c.get("/_mock/journal")
    c.post(SPEAK.format(code="A12345678"), json={"message": "hi"}, headers={"api-secret": DOCS_SECRET})
    c.post(SPEAK.format(code="A00000000"), json={"message": "hi"}, headers={"api-secret": DOCS_SECRET})


def test_info_shows_vendor_calls_only_with_operation_tenant_and_error(
    logged: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver.access")
    _traffic(logged)
    lines = [r.getMessage() for r in caplog.records if r.name == "mockserver.access"]
    assert len(lines) == 2, lines  # the dashboard's polling is not in it
    ok, missing = lines
    assert ok.startswith("POST /v1/agent/A12345678/speak 200 bithuman_speak tenant=")
    assert "error=" not in ok and ok.endswith("ms")
    assert missing.startswith("POST /v1/agent/A00000000/speak 404 bithuman_speak tenant=")
    assert "error=agent_not_found" in missing


def test_debug_adds_the_control_plane_and_masked_bodies(logged: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mockserver.access")
    _traffic(logged)
    logged.post("/_mock/journal/search-that-does-not-exist", json={"api_key": "sk-live-0123456789abcdefghij", "q": "x"})
    logged.post(
        SPEAK.format(code="A12345678"),
        json={"message": "my password=hunter2hunter2", "room_id": "customer_session_1"},
        headers={"api-secret": DOCS_SECRET},
    )
    text = caplog.text
    assert "GET /_mock/inbox 200" in text and "GET /_mock/journal 200" in text
    assert "request body" in text and "response body" in text
    assert '"delivered_to_rooms":1' in text  # the vendor's answer, shown
    assert "sk-live-0123456789abcdefghij" not in text and "hunter2hunter2" not in text
    assert DOCS_SECRET not in text
    assert "[redacted]" in text


def test_one_format_for_every_line_and_colours_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    record = logging.LogRecord("mockserver.access", logging.INFO, __file__, 1, "GET /x 404 op 1.0ms", None, None)
    record.status = 404
    plain = LogFormatter().format(record)
    assert plain[:12].count(":") == 2 and plain[8] == "." and plain.endswith(" GET /x 404 op 1.0ms")
    assert "\x1b[" not in plain
    assert "\x1b[33m404\x1b[0m" in LogFormatter(colour=True).format(record)
    warning = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "Invalid HTTP request", None, None)
    assert LogFormatter().format(warning).endswith(" WARNING Invalid HTTP request")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(Tty()) and not use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Tty())


def test_uvicorn_lines_go_through_the_same_handler() -> None:
    stream = io.StringIO()
    uvicorn_error = logging.getLogger("uvicorn.error")
    touched = [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(lg, lg.handlers[:], lg.propagate, lg.level) for lg in touched]
    uvicorn_error.addHandler(logging.StreamHandler(io.StringIO()))  # as uvicorn's Config does
    uvicorn_error.propagate = False
    try:
        configure_logging(logging.INFO, stream)
        uvicorn_error.info("Started server process")
        logging.getLogger("mockserver.access").info("GET /x 200 op 1.0ms")
        access_lines_on = logging.getLogger("uvicorn.access").hasHandlers()
    finally:
        for lg, handlers, propagate, level in saved:
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert not access_lines_on  # uvicorn prints its own access lines when this logger has a handler
    assert len(lines) == 2
    assert lines[0].endswith(" Started server process") and lines[1].endswith(" GET /x 200 op 1.0ms")
    assert lines[0][8] == "." and lines[1][8] == "."
