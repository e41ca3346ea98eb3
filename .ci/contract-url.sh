#!/usr/bin/env bash
# The contract suite against a served mock: `mockserver serve --port 0` on a free port, then
# `pytest contract_tests --target url`, then the server is stopped. Everything the suite arranges
# goes through the HTTP control plane, so a pass here proves it needs no in-process hook.
#
# Usage: .ci/contract-url.sh [pytest options...]     e.g. --junitxml=contract-url.xml
# PYTHON picks the interpreter (default: .venv's). Exit status: pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"

# The server's stdout is a pipe we read: its first line says where it listens.
coproc SERVER { PYTHONUNBUFFERED=1 exec "$PYTHON" -m mockserver serve --port 0 --log-level warning 2>&1; }
server_pid=$SERVER_PID
stop() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}
trap stop EXIT

# Bash closes coproc descriptors in subshells; a copy stays open for the drain below.
exec {out}<&"${SERVER[0]}"
url=""
if IFS= read -r -t 60 line <&"$out"; then
    url="$(sed -n 's/.*serving on \(http[^ ]*\).*/\1/p' <<<"$line")"
fi
if [ -z "$url" ]; then
    echo "mockserver did not start: ${line:-no output}" >&2
    exit 1
fi
# Keep draining its output (one line per request at most) so it never blocks on a full pipe.
cat <&"$out" >/dev/null &
echo "==> contract suite against $url"

# One server and one clock for both workers: only test_agora_model moves the clock, and every other
# test tolerates it standing still (see docs/contract-tests.md).
status=0
"$PYTHON" -m pytest contract_tests --target url --base-url "$url" -p no:cacheprovider -n 2 "$@" || status=$?
exit "$status"
