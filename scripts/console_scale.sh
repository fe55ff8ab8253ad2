#!/usr/bin/env bash
# The console's dashboard on a large store: fills a LevelDB store with RECORDS synthetic
# verifications decided in the last 23 hours (idv-audit-fill), starts idvd on it with the console, signs in an
# auditor in Debian's headless Chromium and times, five times each, a fresh load of the dashboard
# (navigation until the counts are shown) and a switch to its 30-day window. Checks the dashboard's
# total equals RECORDS and prints the median and the slowest; fails when a median is 2 s or more.
# Usage: scripts/console_scale.sh [RECORDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
records=${1:-1000000}
"$root/scripts/build.sh" idvd idvctl idv-audit-fill > /dev/null
work=$(mktemp -d /tmp/idv-console-scale-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
source "$root/scripts/await_listening.sh"
source "$root/scripts/npm_ci.sh"
chromium=$(command -v chromium) || fail "Debian's chromium is not installed (scripts/setup.sh installs it)"

sed "s|\"./data|\"$work/data|g; s|127.0.0.1:9464|127.0.0.1:0|" "$root/config/demo.textproto" > "$work/idvd.textproto"
echo "filling: $records records"
"$build/load-tests/idv-audit-fill" --config "$work/idvd.textproto" --records "$records" \
  --last_hours 23
"$build/services/idvd" --config "$work/idvd.textproto" --listen 127.0.0.1:0 > "$work/idvd.log" 2>&1 &
pids+=($!)
idvd=$(await_listening "$work/idvd.log" "${pids[-1]}")
console=$(grep -o 'console on http://[0-9.:]*' "$work/idvd.log" | head -1 | sed 's/console on //')
[ -n "$console" ] || fail "idvd serves no console: $(tail -3 "$work/idvd.log")"
auditor=$("$build/cli/idvctl" --server "$idvd" --token_file "$work/data/admin.key" -o json \
  clients create scale-auditor --roles audit |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

modules=$build/tests/console
npm_ci_into "$root/tests/console" "$modules"
cp "$root/tests/console/dashboard_load.mjs" "$modules/"
CONSOLE=$console AUDITOR_KEY=$auditor RECORDS=$records CHROMIUM=$chromium \
  node "$modules/dashboard_load.mjs"
