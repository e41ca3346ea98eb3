"""The command line: serve (banner, one line per request, clean Ctrl-C) and validate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from mockserver import World
from mockserver.cli import banner, main
from mockserver.fixtures import load_fixture_file

from .conftest import DEFAULT_FIXTURE


def test_validate_ok_and_failing(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", str(DEFAULT_FIXTURE)])
    assert ok.exit_code == 0 and "ok (2 bitHuman accounts, 1 Agora customer)" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("bithuman:\n  accounts:\n    - id: a\n")
    failed = runner.invoke(main, ["validate", str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}:3: bithuman.accounts[0]" in failed.output


def test_serve_refuses_a_bad_fixture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nope: 1\n")
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--fixtures", str(bad)])
    assert result.exit_code == 1 and "nope" in result.output


def test_serve_prints_credentials_logs_requests_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Try:"):
                break
        text = "".join(banner)
        url = text.split("serving on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert "your_secret" in text and "A12345678" in text
        r = httpx.post(
            f"{url}/v1/agent/A12345678/speak",
            json={"message": "hi", "room_id": "room_1"},
            headers={"api-secret": "your_secret"},
        )
        assert r.status_code == 200
        # Read until the access-log line of that request shows up.
        for line in proc.stdout:
            banner.append(line)
            if "POST /v1/agent/A12345678/speak 200" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    output = "".join(banner[-1:]) + rest
    assert "your_secret" not in output  # the request line holds no secret
    assert "Traceback" not in rest


def test_python_dash_m_help() -> None:
    out = subprocess.run([sys.executable, "-m", "mockserver", "--help"], capture_output=True, text=True, check=True)
    assert "serve" in out.stdout and "validate" in out.stdout


def test_every_serve_option_reads_the_environment_and_says_so() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    options = [line.split()[0].rstrip(",") for line in result.output.splitlines() if line.startswith("  -")]
    assert "--port" in options and "--fixtures" in options
    for name in ("HOST", "PORT", "FIXTURES", "SEED", "EMPTY", "LOG_LEVEL", "CONTROL_TOKEN", "ALLOW_HOSTS"):
        assert f"MOCKSERVER_{name}" in result.output
    assert len(re.findall(r"env\s+var:\s+MOCKSERVER_", result.output)) == len(options) - 1  # all but --help


def test_serve_binds_the_port_of_the_environment() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MOCKSERVER_PORT": "0", "MOCKSERVER_HOST": "127.0.0.1"}
    # The port comes from MOCKSERVER_PORT: with "0" a free one is picked instead of 8080.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--empty"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "serving on http://127.0.0.1:" in first and ":8080" not in first


def test_empty_with_fixtures_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the options were refused: nothing is served")

    monkeypatch.setattr("mockserver.cli.serving", never)
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--empty", "--fixtures", "default"])
    assert result.exit_code == 2 and "--empty" in result.output and "--fixtures" in result.output
    monkeypatch.setenv("MOCKSERVER_SEED", "not-a-number")
    bad = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert bad.exit_code == 2 and "--seed" in bad.output  # read from the environment, checked as the option


def test_version_flag() -> None:
    for flag in ("-V", "--version"):
        result = CliRunner().invoke(main, [flag])
        assert result.exit_code == 0 and result.output.startswith("agent-mockserver, version ")


def test_banner_counts_rooms_in_english() -> None:
    world = World(seed=1)
    world.load(load_fixture_file(DEFAULT_FIXTURE), boot=True)
    text = banner(world, "http://127.0.0.1:8080")
    assert "1 active rooms" not in text and "(1 active room)" in text


def test_the_bridge_commands_load_when_asked_for_and_keep_their_names() -> None:
    # The group lists the bridge's commands without importing them; each name must still be the
    # name the command itself has (a rename in bridge/commands.py would otherwise go unseen).
    from click import Context

    from mockserver.cli import main

    ctx = Context(main)
    bridge = {"proxy", "fixture-from", "drift"}
    assert bridge <= set(main.list_commands(ctx))
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name, name
    result = CliRunner().invoke(main, ["drift", "--help"])
    assert result.exit_code == 0 and "HAR" in result.output
