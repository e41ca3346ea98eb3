"""examples/ passes with the plugin from this tree (.ci/examples.sh does the same from the built wheel)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_pytest_plugin import PLUGIN

ROOT = Path(__file__).resolve().parents[1]


def test_examples_pass(tmp_path: Path) -> None:
    pytest.importorskip("agora_agent")
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSERVER_", "PYTEST_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *PLUGIN, "-p", "no:schemathesis", "-q"],
        cwd=tmp_path / "examples" / "promo",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout
