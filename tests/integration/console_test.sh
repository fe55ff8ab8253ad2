#!/usr/bin/env bash
# The web console in Debian's headless Chromium (tests/console/console_e2e.mjs): idvd with the
# console on, a simulator, seeded traffic, an auditor, an administrator and another tenant's
# auditor; screenshots are kept in BUILD_DIR/Testing/console-screenshots.
# Usage: console_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
export IDV_EXTRA_CONFIG='audit { checkpoint_interval { seconds: 1 } }'
source "$(dirname "$0")/with_load_processes.sh" 2000
chromium=$(command -v chromium || true)
[ -n "$chromium" ] || fail "Debian's chromium is not installed (scripts/setup.sh installs it)"
ctl() { "$build/cli/idvctl" --server "$idvd" --token_file "$work/data/admin.key" "$@"; }
grep -q "console on http://$metrics/console/" "$work/idvd.log" || fail "idvd serves no console"

# A second simulator with the same synthetic people, for the backend the administrator adds.
"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population 2000 \
  > "$work/sim2.log" 2>&1 &
pids+=($!)
sim2=$(await_listening "$work/sim2.log" "${pids[-1]}")

# Traffic: a mixed load, and an account of the test's own with a few records.
"$build/load-tests/idv-load" --target "$idvd" --token_file "$work/data/admin.key" \
  --identities "$work/pop.csv" --working_set 50 --progress=false --json --scenario mixed \
  --concurrency 4 --duration 1 --warmup 0 > "$work/load.json"
IFS=, read -r _ number name _ < <(sed -n 3p "$work/pop.csv")
ctl verify --account console-seed --number "$number" --name "$name" --bind > /dev/null
ctl verify --account console-seed --number "$number" --name "不对" > /dev/null || true
ctl verify --account console-seed --number "$number" --name "$name" > /dev/null

# Clients: an auditor; another tenant with an auditor of its own.
auditor=$(ctl -o json clients create console-auditor --roles audit |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
ctl tenants create other > /dev/null
other=$(ctl -o json clients create other-auditor --tenant other --roles audit |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

# What the dashboard must show: the audit counts by outcome.
expected=$(ctl -o json audit stats | /usr/bin/python3 -c '
import json, sys
totals = {}
for b in json.load(sys.stdin).get("buckets", []):
    for o, n in b.get("by_outcome", {}).items():
        totals[o] = totals.get(o, 0) + int(n)
print(json.dumps(totals))')
seed_index=$(ctl -o json audit list --account console-seed |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["records"][0]["index"])')

modules=$build/tests/console
source "$root/scripts/npm_ci.sh"
npm_ci_into "$root/tests/console" "$modules"
shots=$build/Testing/console-screenshots
rm -rf "$shots" && mkdir -p "$shots"
# The test's script imports playwright-core from the build directory's node_modules.
cp "$root/tests/console/console_e2e.mjs" "$modules/"
CONSOLE="http://$metrics" AUDITOR_KEY=$auditor ADMIN_KEY=$(cat "$work/data/admin.key") \
  OTHER_KEY=$other SEED_ACCOUNT=console-seed SEED_INDEX=$seed_index EXPECTED=$expected \
  SIM2=$sim2 SHOTS=$shots CHROMIUM=$chromium IDVCTL=$build/cli/idvctl GRPC=$idvd \
  ADMIN_KEY_FILE=$work/data/admin.key NUMBER=$number NAME=$name \
  node "$modules/console_e2e.mjs"
