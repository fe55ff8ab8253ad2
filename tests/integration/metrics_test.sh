#!/usr/bin/env bash
# idvd's metrics endpoint against real processes: /healthz and /readyz answer; after a mixed load
# run, `promtool check metrics` (Debian's prometheus) accepts the scrape, the Verify counters
# agree exactly with the load tool's own counts by outcome, the RPC counter agrees with them, and
# no label holds a number or name of the population.
# Usage: metrics_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
source "$(dirname "$0")/with_load_processes.sh" 5000
[ -n "$metrics" ] || fail "idvd logged no metrics address"

code() { curl -s -o /dev/null -w '%{http_code}' "http://$metrics$1"; }
[ "$(code /healthz)" = 200 ] || fail "/healthz"
[ "$(code /readyz)" = 200 ] || fail "/readyz"

j=$("$build/load-tests/idv-load" --target "$idvd" --token_file "$work/data/admin.key" \
  --identities "$work/pop.csv" --working_set 50 --progress=false --json --scenario mixed \
  --concurrency 8 --duration 2 --warmup 0)
curl -sf "http://$metrics/metrics" > "$work/metrics.txt" || fail "no scrape"
promtool check metrics < "$work/metrics.txt" || fail "promtool rejects the scrape"

python3 - "$j" "$work/metrics.txt" "$work/pop.csv" <<'PY'
import json, re, sys
load = json.loads(sys.argv[1])
text = open(sys.argv[2]).read()
by_outcome, verify_ok = {}, 0
for line in text.splitlines():
    m = re.match(r'idv_verifications_total\{(.*)\} (\S+)$', line)
    if m:
        outcome = re.search(r'outcome="([A-Z_]+)"', m.group(1)).group(1)
        by_outcome[outcome] = by_outcome.get(outcome, 0) + int(float(m.group(2)))
    m = re.match(r'idv_grpc_server_handled_total\{(.*)\} (\S+)$', line)
    if m and 'Verify"' in m.group(1) and 'code="OK"' in m.group(1):
        verify_ok = int(float(m.group(2)))
expected = {k.split(":", 1)[1]: v for k, v in load["counts_all"].items()
            if k.startswith("outcome:")}
if by_outcome != expected:
    sys.exit(f"idv_verifications_total by outcome {by_outcome} != the load tool's {expected}")
if verify_ok != sum(expected.values()):
    sys.exit(f"Verify calls answered OK: {verify_ok} != {sum(expected.values())}")
people = [l.split(",") for l in open(sys.argv[3], encoding="utf-8").read().splitlines()[1:]]
for p in people:
    if p[1] in text or p[2] in text:
        sys.exit("a number or name is in the metrics")
print(f"metrics agree with the load tool: {expected}")
PY
echo "PASS"
