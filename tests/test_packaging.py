"""The wheel carries the contract and the data files, and the package reads them from inside it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [
    "mockserver/openapi.yaml",
    "mockserver/admin/openapi.yaml",
    "mockserver/fixture.schema.json",
    "mockserver/default.yaml",
    "mockserver/worlds/default.yaml",
    "mockserver/worlds/legacy.yaml",
    "mockserver/worlds/no-active-rooms.yaml",
    "mockserver/worlds/rate-limited.yaml",
    "mockserver/worlds/transitional.yaml",
    "mockserver/py.typed",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("agent_mockserver-*.whl")
    return built


def test_wheel_ships_the_contract_and_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in SHIPPED:
            assert name in names, name
        # The files are real copies, not the repository's symlinks.
        assert z.read("mockserver/openapi.yaml") == (ROOT / "openapi.yaml").read_bytes()
        assert z.read("mockserver/default.yaml") == (ROOT / "fixtures" / "default.yaml").read_bytes()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "mockserver = mockserver.cli:main" in z.read(entry_points).decode()


def test_package_reads_the_contract_from_inside_the_wheel(wheel: Path) -> None:
    # Import the package from the wheel itself (zipimport): importlib.resources must still find
    # openapi.yaml, the control-plane spec and the default fixture.
    code = (
        "import mockserver, mockserver.spec as s, mockserver.cli as c;"
        f"assert mockserver.__file__.startswith({str(wheel)!r}), mockserver.__file__;"
        "print(len(s.load_spec().operations), len(s.load_spec('admin/openapi.yaml').operations) > 0,"
        " c.default_fixture().name)"
    )
    env = {**os.environ, "PYTHONPATH": str(wheel)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=wheel.parent, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["27", "True", "default.yaml"]
