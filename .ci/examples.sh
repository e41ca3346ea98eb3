#!/usr/bin/env bash
# Prove the pytest plugin works for a downstream project, outside the source tree:
#   1. build the wheel from this tree;
#   2. create a fresh virtual environment in a temporary directory;
#   3. install the wheel, pytest and the example's own dependencies into it (nothing else);
#   4. copy examples/ to the temporary directory and run its tests there.
# The examples have no conftest.py and never import the plugin: their fixtures and marker come
# from the wheel's pytest11 entry point, or not at all. Exits non-zero on any failure; cleans up.
#
# Usage: .ci/examples.sh            (PYTHON=... picks the interpreter that builds; default .venv's)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mockserver-examples.XXXXXX")"
trap 'echo "==> removing $WORK"; rm -rf "$WORK"' EXIT

step() { printf '\n==> %s\n' "$*"; }

step "building the wheel from $ROOT"
"$PYTHON" -m build --wheel --no-isolation --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; exit 1; }
WHEEL="$(ls "$WORK"/dist/agent_mockserver-*.whl)"
echo "built $(basename "$WHEEL")"

step "creating a fresh virtual environment in $WORK/venv"
# The base interpreter, not the project's venv, so nothing of the source tree's environment leaks in.
BASE_PYTHON="$("$PYTHON" -c 'import sys; print(sys._base_executable)')"
"$BASE_PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"

step "installing the wheel, pytest and the example's dependencies"
"$VPY" -m pip install --disable-pip-version-check "$WHEEL" "pytest>=8.3" "requests>=2.32" "httpx>=0.28" \
    "agora-agents>=2.12" >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; exit 1; }
"$VPY" -m pip list --disable-pip-version-check --format=freeze | grep -iE '^(agent-mockserver|pytest|requests|httpx|agora-agents)=='

step "copying examples/ to $WORK/examples"
cp -R "$ROOT/examples" "$WORK/examples"
find "$WORK/examples" -name __pycache__ -prune -exec rm -rf {} +

cd "$WORK/examples/promo"
step "checking that mockserver comes from the fresh environment and the plugin from its entry point"
"$VPY" - <<'EOF'
import importlib.metadata as md
import mockserver

where = mockserver.__file__
assert "/venv/" in where and "site-packages" in where, f"mockserver imported from {where}, not the fresh venv"
plugins = {ep.name: ep.value for ep in md.entry_points(group="pytest11")}
assert plugins.get("mockserver") == "mockserver.pytest_plugin", plugins
print(f"mockserver {mockserver.__version__} from {where}; pytest11 entry point: mockserver = {plugins['mockserver']}")
EOF

step "running the examples' tests in $PWD"
PYTHONDONTWRITEBYTECODE=1 "$VPY" -m pytest -v
echo
echo "examples passed against the installed wheel"
