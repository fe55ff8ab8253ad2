#!/usr/bin/env bash
# Overload: idvd in front of an authority that takes AUTHORITY_MS per check, with at most LIMIT
# Verify calls in flight (serving.max_in_flight_verify). Measures the sustainable rate (closed
# loop, LIMIT calls in flight, every claim new so every call asks the authority), then open loop
# at half and at three times that rate, and prints for each: the p99 of the calls answered, how
# many were refused with RESOURCE_EXHAUSTED, and how fast the refusals came.
# Usage: scripts/overload.sh [SECONDS per run] [LIMIT] [AUTHORITY_MS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
seconds=${1:-10}
limit=${2:-64}
authority_ms=${3:-50}
"$root/scripts/build.sh" idvd idv-registry-sim idv-load > /dev/null
work=$(mktemp -d /tmp/idv-overload-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
source "$root/scripts/await_listening.sh"

"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population 400000 \
  --latency_ms "$authority_ms" --export_csv "$work/pop.csv" > "$work/sim.log" 2>&1 &
pids+=($!)
sim=$(await_listening "$work/sim.log" "${pids[-1]}")
# The demo configuration, pointed at this simulator, with the node's limit under test and no
# per-backend bulkhead below it.
sed "s|target: \"127.0.0.1:7600\"|target: \"$sim\"|; s|\"./data|\"$work/data|g;
     s|timeout { seconds: 2 }|timeout { seconds: 2 } max_in_flight: 100000|; s|127.0.0.1:9464|127.0.0.1:0|" \
  "$root/config/demo.textproto" > "$work/idvd.textproto"
echo "serving { max_in_flight_verify: $limit }" >> "$work/idvd.textproto"
"$build/services/idvd" --config "$work/idvd.textproto" --listen 127.0.0.1:0 \
  > "$work/idvd.log" 2>&1 &
pids+=($!)
idvd=$(await_listening "$work/idvd.log" "${pids[-1]}")

fresh=0
run() {  # idv-load flags... -> its JSON line (starting at identity $fresh: bump it before each run,
  # outside the $(...) subshell)
  "$build/load-tests/idv-load" --target "$idvd" --token_file "$work/data/admin.key" \
    --identities "$work/pop.csv" --scenario cold --duration "$seconds" --warmup 2 \
    --first_identity "$fresh" --channels 8 --progress=false --json "$@" || true
}
field() { sed -E "s/.*\"$1\":\\{[^}]*\"$2\":([0-9.]+).*/\\1/"; }
top() { sed -E "s/.*\"$1\":([0-9.]+).*/\\1/"; }
refused() { grep -oE '"error:8":[0-9]+' <<< "$1" | cut -d: -f3 || true; }

fresh=100000
sustained=$(run --concurrency "$limit")
[ -n "${IDV_OVERLOAD_VERBOSE:-}" ] && echo "$sustained" >&2
rate=$(top throughput <<< "$sustained")
echo "sustainable: $rate calls/s answered with $limit in flight and a ${authority_ms} ms authority"
printf '%-8s %10s %10s %12s %10s %14s\n' load offered/s answered/s "p99 answered" refused \
  "p99 refusal"
for factor in 0.5 3; do
  offered=$(awk -v r="$rate" -v f="$factor" 'BEGIN { printf "%d", r * f }')
  fresh=$((fresh + 100000))
  out=$(run --rate "$offered")
  [ -n "${IDV_OVERLOAD_VERBOSE:-}" ] && echo "$out" >&2
  n=$(refused "$out")
  printf '%-8s %10s %10s %10sus %10s %12sus\n' "${factor}x" "$offered" "$(top throughput <<< "$out")" \
    "$(field latency_us p99 <<< "$out")" "${n:-0}" "$(field error_latency_us p99 <<< "$out")"
done
