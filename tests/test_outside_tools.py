"""Outside tools over the contract: schemathesis' own command line against a served mock.

Users run ``st run openapi.yaml --url <mock> --checks all`` with their credentials in ``-H``; it
must end with no failure for either vendor. That holds only if the contract states every rule the
servers enforce that JSON Schema can express, and ``schemathesis.toml`` names, per operation, the
statuses of a valid request refused by the world's state. The runs are bounded (five examples per
operation; for Agora, whose ``join`` alone has thousands of boundary cases, valid requests only):
the commands in docs/contract-tests.md, without the bounds, are what a user runs in full.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver import MockServer

from .conftest import DEFAULT_FIXTURE, ROOT

ST = Path(sys.executable).with_name("st")
BITHUMAN = ["-H", "api-secret: YOUR_API_SECRET", "--include-tag", "bitHuman Agent Context"]
AGORA = [
    "-H",
    "Authorization: Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode(),
    "--exclude-tag",
    "bitHuman Agent Context",
]


@pytest.fixture(scope="module")
def served() -> Iterator[MockServer]:
    with MockServer(fixtures=[DEFAULT_FIXTURE], seed=11) as server:
        yield server


def st_run(server: MockServer, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(ST),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        server.url,
        "--checks",
        "all",
        "--seed",
        "1",
        "--max-examples",
        "5",
        "--no-color",
        *args,
    ]
    # cwd: schemathesis keeps its cache of crashes in the working directory.
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def passed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0 and "failure" not in result.stdout.split("SUMMARY")[-1].lower()


def test_schemathesis_over_bithuman(served: MockServer, tmp_path: Path) -> None:
    # No stateful phase: the two operations link to nothing.
    result = st_run(served, tmp_path, *BITHUMAN, "--phases", "examples,coverage,fuzzing")
    assert passed(result), result.stdout[-6000:] + result.stderr[-2000:]


def test_schemathesis_over_agora(served: MockServer, tmp_path: Path) -> None:
    # Valid requests only: what this run guards is that the contract refuses nothing the servers
    # accept and the reverse (negative cases are the contract suite's, and the unbounded run's).
    result = st_run(served, tmp_path, *AGORA, "--mode", "positive")
    assert passed(result), result.stdout[-6000:] + result.stderr[-2000:]
