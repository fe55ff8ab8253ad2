#!/usr/bin/env bash
# idv-load against real processes: idvd with the simulator behind it, and idv-echo. Each scenario
# completes without errors and its answers are what the scenario promises (warm traffic is served
# from the cache, invalid claims are rejected offline); the open loop keeps its rate; a wrong key
# shows up as UNAUTHENTICATED errors and a failing exit status.
# Usage: load_tool_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
source "$(dirname "$0")/with_load_processes.sh" 5000

load() {  # TARGET ARGS... -> JSON on stdout; exit status of idv-load in $work/rc
  local target=$1
  shift
  set +e
  "$build/load-tests/idv-load" --target "$target" --token_file "$work/data/admin.key" \
    --identities "$work/pop.csv" --working_set 50 --progress=false --json "$@"
  echo $? > "$work/rc"
  set -e
}
count() {  # JSON KEY -> the count under "counts", 0 when absent
  grep -oE "\"$2\":[0-9]+" <<< "$1" | head -1 | sed "s/.*://" | grep . || echo 0
}
field() { grep -oE "\"$2\":[0-9.]+" <<< "$1" | head -1 | cut -d: -f2; }

# mixed: warm (cached after the first round), cold, bind and invalid claims, all without errors.
j=$(load "$idvd" --scenario mixed --concurrency 8 --duration 2 --warmup 1)
[ "$(cat "$work/rc")" = 0 ] || fail "mixed run failed: $j"
[ "$(field "$j" errors)" = 0 ] || fail "mixed run had errors: $j"
[ "$(count "$j" outcome:VERIFIED)" -gt 0 ] || fail "no VERIFIED answers: $j"
[ "$(count "$j" outcome:INVALID)" -gt 0 ] || fail "no offline rejections: $j"
[ "$(count "$j" cached)" -gt 0 ] || fail "no cache hits: $j"
# The report's histogram holds every answered call of the window, in increasing bins.
/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])
h = r["histogram"]
assert sum(b["count"] for b in h) == r["calls"] - r["errors"], h
assert [b["le_us"] for b in h] == sorted(b["le_us"] for b in h), h
assert h[-1]["le_us"] >= r["latency_us"]["max"] * 0.98, (h, r["latency_us"])' "$j" ||
  fail "histogram does not account for the calls: $j"

# warm: after the warm-up every answer comes from the cache.
j=$(load "$idvd" --scenario warm --concurrency 8 --duration 1 --warmup 1)
[ "$(field "$j" errors)" = 0 ] || fail "warm run had errors: $j"
calls=$(field "$j" calls)
[ "$calls" -gt 0 ] && [ "$(count "$j" cached)" = "$calls" ] || fail "warm calls not all cached: $j"

# The reference points: idv-echo answers Verify, idvd answers the empty health Check.
j=$(load "$echo_server" --scenario warm --concurrency 8 --duration 1 --warmup 0)
[ "$(field "$j" errors)" = 0 ] && [ "$(count "$j" outcome:VERIFIED)" -gt 0 ] ||
  fail "idv-echo run: $j"
j=$(load "$idvd" --scenario empty --concurrency 8 --duration 1 --warmup 0)
[ "$(field "$j" errors)" = 0 ] && [ "$(count "$j" ok)" -gt 0 ] || fail "empty run: $j"

# Open loop: calls start on schedule, so the count follows the rate, not the server.
j=$(load "$idvd" --scenario invalid --rate 200 --duration 2 --warmup 0)
calls=$(field "$j" calls)
[ "$calls" -ge 300 ] && [ "$calls" -le 420 ] || fail "open loop at 200/s made $calls calls: $j"
[ "$(count "$j" outcome:INVALID)" = "$calls" ] || fail "invalid claims not all INVALID: $j"

# A wrong key: every call fails UNAUTHENTICATED (16), counted as such, and idv-load exits 1.
echo "nobody.secret" > "$work/bad.key"
j=$("$build/load-tests/idv-load" --target "$idvd" --token_file "$work/bad.key" \
  --identities "$work/pop.csv" --scenario warm --concurrency 4 --duration 1 --warmup 0 \
  --progress=false --json) && fail "idv-load exited 0 with a wrong key: $j"
[ "$(count "$j" error:16)" -gt 0 ] && [ "$(field "$j" errors)" = "$(field "$j" calls)" ] ||
  fail "wrong key not reported as UNAUTHENTICATED: $j"
# --help lists the flags; a bad flag value is a usage error (2).
help=$("$build/load-tests/idv-load" --help)
for flag in --target --scenario --concurrency --rate --duration --json --ack_log --progress; do
  grep -q -- "$flag" <<< "$help" || fail "--help does not list $flag"
done
"$build/load-tests/idv-load" --scenario nonsense > /dev/null 2>&1 && fail "bad --scenario accepted"
[ $? = 2 ] || fail "bad --scenario: not a usage error"
echo "idv-load: mixed, warm, echo, empty, open loop and a wrong key behave; histogram, --help and usage errors; 8 passed, 0 failed"
