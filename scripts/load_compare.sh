#!/usr/bin/env bash
# Runs idvd, the simulator and idv-echo on loopback and measures, in one run, alternating, each
# figure three times: the empty RPC (idvd's health Check), the gRPC floor for Verify's messages
# (warm traffic against idv-echo, which answers Verify at once without doing any of the work),
# warm Verify (cache hits, audit durable), cold Verify (every claim a backend call), invalid
# claims, and Verify+bind at 1 and at 64 in flight. Prints medians and ratios to the empty RPC
# and to the echo; with h2load installed, also h2load's view of the empty RPC.
# Usage: scripts/load_compare.sh [SECONDS per run] [CONCURRENCY]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
seconds=${1:-5}
conc=${2:-256}
"$root/scripts/build.sh" idvd idv-registry-sim idv-load idv-echo > /dev/null
work=$(mktemp -d /tmp/idv-load-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
source "$root/scripts/load_processes.sh"
start_load_processes 1100000

fresh=0
run() {  # scenario concurrency -> calls/s p99 ("echo": warm traffic against idv-echo)
  # Starts at identity $fresh, which the caller moves on before each run (run itself is called in
  # a $(...) subshell, where an increment would be lost).
  local target=$idvd scenario=$1
  if [ "$scenario" = echo ]; then target=$echo_server scenario=warm; fi
  "$build/load-tests/idv-load" --target "$target" --token_file "$work/data/admin.key" \
    --identities "$work/pop.csv" --scenario "$scenario" --concurrency "$2" --duration "$seconds" \
    --first_identity "$fresh" \
    --warmup 1 --progress=false --json | sed -E 's/.*"throughput":([0-9.]+).*"errors":[0-9]+,"latency_us":\{[^}]*"p99":([0-9]+).*/\1 \2/'
}
declare -A tput p99
for round in 1 2 3; do
  for spec in "empty $conc" "echo $conc" "warm $conc" "cold $conc" "invalid $conc" "bind 1" "bind 64"; do
    read -r s c <<< "$spec"
    fresh=$((fresh + 60000))  # each run starts on identities no earlier run asked about
    read -r t p <<< "$(run "$s" "$c")"
    tput["$s/$c"]+="$t "
    p99["$s/$c"]+="$p "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | sed -n 2p; }
empty=$(echo "${tput["empty/$conc"]}" | median)
echo_tput=$(echo "${tput["echo/$conc"]}" | median)
printf '%-12s %6s %12s %10s %8s %8s   (median of 3 alternating runs of %ss)\n' \
  scenario inflight calls/s p99_us /empty /echo "$seconds"
for spec in "empty $conc" "echo $conc" "warm $conc" "cold $conc" "invalid $conc" "bind 1" "bind 64"; do
  read -r s c <<< "$spec"
  t=$(echo "${tput["$s/$c"]}" | median)
  p=$(echo "${p99["$s/$c"]}" | median)
  printf '%-12s %6s %12.0f %10s %8.2f %8.2f\n' "$s" "$c" "$t" "$p" "$(echo "$t / $empty" | bc -l)" \
    "$(echo "$t / $echo_tput" | bc -l)"
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
