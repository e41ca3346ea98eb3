#!/usr/bin/env bash
# Make Debian's Chromium available for the dashboard's browser tests (tests/test_dashboard.py).
# Installs it only when it is missing, we are root and apt-get exists; never fails the build:
# without a browser (or without the playwright package) those tests skip and say why.
set -u

CHROMIUM=${MOCKSERVER_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
    echo "browser.sh: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") is installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "browser.sh: no $CHROMIUM and not root: cannot install it; the browser tests will skip"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser.sh: no $CHROMIUM and no apt-get: cannot install it; the browser tests will skip"
    exit 0
fi

echo "browser.sh: installing Debian's chromium..."
log=$(mktemp)
if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
    if [ -x "$CHROMIUM" ]; then
        echo "browser.sh: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
    else
        echo "browser.sh: chromium installed, but not at $CHROMIUM; the browser tests will skip"
    fi
else
    echo "browser.sh: installing chromium failed; the browser tests will skip. Last lines of apt-get:"
    tail -n 5 "$log" | sed 's/^/    /'
fi
rm -f "$log"
exit 0
