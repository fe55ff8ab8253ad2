#!/usr/bin/env bash
# idvd's logs as JSON lines (logging.format JSON) with every Verify in the access log: after a
# mixed load run, a configuration change and a shutdown, every line of idvd's output is a JSON
# object, there is one access line per Verify the load tool made, the change and the shutdown are
# logged, the breaker opening when the authority dies is logged, and no line holds an ID number, name or phone number of the population.
# Usage: logs_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
export IDV_EXTRA_CONFIG='logging { format: JSON access_log_sample: 1 }'
source "$(dirname "$0")/with_load_processes.sh" 5000
j=$("$build/load-tests/idv-load" --target "$idvd" --token_file "$work/data/admin.key" \
  --identities "$work/pop.csv" --working_set 50 --progress=false --json --scenario mixed \
  --concurrency 8 --duration 2 --warmup 0)
"$build/cli/idvctl" --server "$idvd" --token_file "$work/data/admin.key" keys rotate > /dev/null
# The authority goes away: its backend's breaker opens, and that is logged.
kill -KILL "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
j2=$("$build/load-tests/idv-load" --target "$idvd" --token_file "$work/data/admin.key" \
  --identities "$work/pop.csv" --working_set 50 --first_identity 3000 --progress=false --json \
  --scenario cold --concurrency 4 --duration 1 --warmup 0) || true
kill -TERM "${pids[1]}"
wait "${pids[1]}" || true
python3 - "$j" "$work/idvd.log" "$work/pop.csv" "$j2" <<'PY'
import json, sys
load = json.loads(sys.argv[1])
cold = json.loads(sys.argv[4])
text = open(sys.argv[2], encoding="utf-8").read()
lines = [json.loads(l) for l in text.splitlines() if l.strip()]  # fails on a non-JSON line
access = [l for l in lines if l.get("log") == "access"]
calls = sum(v for r in (load, cold) for k, v in r["counts_all"].items() if k != "cached")
if len(access) != calls:
    sys.exit(f"{len(access)} access lines for {calls} Verify calls")
if sum(1 for l in access if l.get("outcome") == "VERIFIED") != load["counts_all"].get("outcome:VERIFIED", 0):
    sys.exit("access lines disagree with the load tool on VERIFIED")
msgs = [l.get("msg", "") for l in lines if l.get("log") == "idvd"]
if not any("configuration version" in m and "key version 2 made current" in m for m in msgs):
    sys.exit("the key rotation is not logged as a configuration change")
if not any(m.startswith("backend registry-sim: circuit breaker closed -> open (") for m in msgs):
    sys.exit("the breaker opening is not logged")
if not any(m == "stopped" for m in msgs):
    sys.exit("the shutdown is not logged")
people = [l.split(",") for l in open(sys.argv[3], encoding="utf-8").read().splitlines()[1:]]
for p in people:
    for value in (p[1], p[2], p[3]):
        if value and value in text:
            sys.exit("a plaintext number, name or phone number is in the log")
print(f"{len(lines)} JSON lines, {len(access)} access lines, no plaintext")
PY
echo "PASS"
