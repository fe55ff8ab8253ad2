#!/usr/bin/env bash
# Runs idvd and the simulator on loopback and measures, in one run, alternating, each figure
# three times: the empty RPC (health Check), warm Verify (cache hits, audit durable), cold Verify
# (every claim a backend call), invalid claims, and Verify+bind at 1 and at 64 in flight. Prints
# medians and ratios to the empty RPC; with h2load installed, also h2load's view of the empty RPC.
# Usage: scripts/load_compare.sh [SECONDS per run] [CONCURRENCY]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
seconds=${1:-5}
conc=${2:-32}
"$root/scripts/build.sh" idvd idv-registry-sim idv-load > /dev/null
work=$(mktemp -d /tmp/idv-load-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
await() {  # $1 log -> HOST:PORT
  for _ in $(seq 300); do grep -q 'listening on' "$1" && break; sleep 0.1; done
  grep -m1 -oE 'listening on [^ ]+' "$1" | cut -d' ' -f3
}
"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population 1100000 \
  --export_csv "$work/pop.csv" > "$work/sim.log" 2>&1 &
pids+=($!)
sim=$(await "$work/sim.log")
sed "s|target: \"127.0.0.1:7600\"|target: \"$sim\"|; s|\"./data|\"$work/data|g" \
  "$root/config/demo.textproto" > "$work/idvd.textproto"
"$build/services/idvd" --config "$work/idvd.textproto" --listen 127.0.0.1:0 > "$work/idvd.log" 2>&1 &
pids+=($!)
idvd=$(await "$work/idvd.log")

fresh=0
run() {  # scenario concurrency -> calls/s p99
  fresh=$((fresh + 60000))  # each run starts on identities no earlier run asked about
  "$build/load-tests/idv-load" --target "$idvd" --token_file "$work/data/admin.key" \
    --identities "$work/pop.csv" --scenario "$1" --concurrency "$2" --duration "$seconds" \
    --first_identity "$fresh" \
    --warmup 1 --progress=false --json | sed -E 's/.*"throughput":([0-9.]+).*"p99":([0-9]+).*/\1 \2/'
}
declare -A tput p99
for round in 1 2 3; do
  for spec in "empty $conc" "warm $conc" "cold $conc" "invalid $conc" "bind 1" "bind 64"; do
    read -r s c <<< "$spec"
    read -r t p <<< "$(run "$s" "$c")"
    tput["$s/$c"]+="$t "
    p99["$s/$c"]+="$p "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | sed -n 2p; }
empty=$(echo "${tput["empty/$conc"]}" | median)
printf '%-12s %6s %12s %10s %8s   (median of 3 alternating runs of %ss)\n' scenario inflight calls/s p99_us ratio "$seconds"
for spec in "empty $conc" "warm $conc" "cold $conc" "invalid $conc" "bind 1" "bind 64"; do
  read -r s c <<< "$spec"
  t=$(echo "${tput["$s/$c"]}" | median)
  p=$(echo "${p99["$s/$c"]}" | median)
  printf '%-12s %6s %12.0f %10s %8.2f\n' "$s" "$c" "$t" "$p" "$(echo "$t / $empty" | bc -l)"
done
b1=$(echo "${tput["bind/1"]}" | median); b64=$(echo "${tput["bind/64"]}" | median)
printf 'bind at 64 in flight / bind at 1: %.1fx\n' "$(echo "$b64 / $b1" | bc -l)"
if command -v h2load > /dev/null; then
  # h2load speaks raw HTTP/2: a gRPC frame of the empty HealthCheckRequest is 5 zero bytes.
  printf '\0\0\0\0\0' > "$work/empty.grpc"
  h2load -n 200000 -c 4 -m $((conc / 4)) -d "$work/empty.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://$idvd/grpc.health.v1.Health/Check" | grep -E 'finished in|requests:'
fi
