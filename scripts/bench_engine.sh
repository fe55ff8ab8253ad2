#!/usr/bin/env bash
# The policy engine's added latency (p50/p99) against the simulator's own, on loopback.
# Usage: scripts/bench_engine.sh [CALLS]   (builds what is missing first)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
"$root/scripts/build.sh" idv-registry-sim policy_engine_bench > /dev/null
log=$(mktemp)
"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population 1000 > "$log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; rm -f "$log"' EXIT
source "$root/scripts/await_listening.sh"
address=$(await_listening "$log" "$sim")
"$build/load-tests/policy_engine_bench" --sim "$address" --calls "${1:-20000}"
