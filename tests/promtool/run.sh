#!/usr/bin/env bash
# promtool check rules + promtool test rules for roles/monitoring/files/rules (run by `make test` via the lead's
# wiring, or directly). promtool comes from PATH, else from Debian's `prometheus` package unpacked (not installed:
# no service is started) under ${LLMFLEET_CACHE:-/var/cache/llmfleet}/tools/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${LLMFLEET_CACHE:-/var/cache/llmfleet}"
PROMTOOL="${PROMTOOL:-$(command -v promtool || true)}"
if [ -z "$PROMTOOL" ]; then
  tools="$CACHE/tools/prometheus-deb"
  if [ ! -x "$tools/usr/bin/promtool" ]; then
    mkdir -p "$tools"
    (cd "$tools" && apt-get download prometheus >/dev/null 2>&1 && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb) || {
      echo "promtool not found: install Debian's prometheus package (or set PROMTOOL=/path/to/promtool)" >&2; exit 2; }
  fi
  PROMTOOL="$tools/usr/bin/promtool"
fi
"$PROMTOOL" --version 2>&1 | head -1
cd "$ROOT"
"$PROMTOOL" check rules roles/monitoring/files/rules/*.yml
cd tests/promtool
"$PROMTOOL" test rules ./*_test.yml
