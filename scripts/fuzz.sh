#!/usr/bin/env bash
# Builds the libFuzzer targets of the offline parsers with clang (ASan + UBSan) and runs each for
# a while from the seed corpus in tests/fuzz/corpus (new inputs go to a temporary directory).
#
#   scripts/fuzz.sh build                 configure and build into ${IDV_FUZZ_BUILD_DIR:-build-fuzz}
#   scripts/fuzz.sh run [SECONDS]         run every target SECONDS (default 60) each, 2 at a time
#   scripts/fuzz.sh all [SECONDS]         both
# Prints, per target, the executions done; exits non-zero on any crash, leak or UB report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_FUZZ_BUILD_DIR:-$root/build-fuzz}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
targets=(resident_id residence_permit permanent_residence travel_permit passport name phone)

do_build() {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DIDV_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build" -j"$(nproc)" --target fuzzers
}

run_one() {
  local target=$1 seconds=$2 work
  work=$(mktemp -d)
  cp "$root/tests/fuzz/corpus/$target/"* "$work/"
  if "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$work/" "$work" > "$work/log" 2>&1; then
    echo "fuzz_$target: $(grep -m1 -oE 'Done [0-9]+ runs in [0-9]+ second' "$work/log" || echo '?') , no crash, leak or UB"
    rm -rf "$work"
  else
    echo "fuzz_$target: FAILED; log and reproducer in $work"
    tail -40 "$work/log"
    return 1
  fi
}

do_run() {
  local seconds=${1:-60} failed=0 pids=() i
  if [ ! -x "$build/tests/fuzz/fuzz_${targets[0]}" ]; then
    echo "fuzzers not built in $build; run scripts/fuzz.sh build" >&2
    return 77  # ctest: skipped
  fi
  for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for t in "${targets[@]:i:2}"; do
      run_one "$t" "$seconds" & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
  done
  return $failed
}

case "${1:-all}" in
  build) do_build ;;
  run) do_run "${2:-60}" ;;
  all) do_build; do_run "${2:-60}" ;;
  *) echo "usage: scripts/fuzz.sh build|run [SECONDS]|all [SECONDS]" >&2; exit 2 ;;
esac
