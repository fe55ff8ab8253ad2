#!/usr/bin/env bash
# The README's run command: it starts idvd and the simulator, prints a first idvctl call, and that
# exact call verifies and binds. Then SIGTERM stops everything it started. A second start, with
# the simulator on another port, still verifies (the stored configuration follows the simulator).
# `run.sh --authority nppa` does the same with the NPPA simulator.
# Usage: run_script_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
work=$(mktemp -d /tmp/idv-run-XXXXXX)
run_pid=
cleanup() {
  [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- run.sh output:"; cat "$work/out.txt"; exit 1; }

start() {  # a run of run.sh in the background, its output in $work/out.txt
  IDV_SKIP_BUILD=1 IDV_BUILD_DIR="$build" IDV_WORK_DIR="$work" IDV_LISTEN=127.0.0.1:0 \
    IDV_SIM_LISTEN=127.0.0.1:0 IDV_METRICS_LISTEN=127.0.0.1:0 "$root/scripts/run.sh" "$@" \
    > "$work/out.txt" 2>&1 &
  run_pid=$!
  for _ in $(seq 300); do
    grep -q 'Ctrl-C stops' "$work/out.txt" && break
    kill -0 "$run_pid" 2>/dev/null || fail "run.sh exited early"
    sleep 0.1
  done
  grep -q 'Ctrl-C stops' "$work/out.txt" || fail "run.sh printed no first call within 30 s"
}
first_call() {  # runs the printed call; $1: the binding expected
  local call
  call=$(grep -m1 'idvctl --server' "$work/out.txt" | sed 's/^ *//')
  [ -n "$call" ] || fail "no idvctl command printed"
  eval "$call" > "$work/call.txt" 2>&1 || fail "the printed call failed: $(cat "$work/call.txt")"
  grep -qE '^outcome +VERIFIED$' "$work/call.txt" || fail "not VERIFIED: $(cat "$work/call.txt")"
  grep -qE "^binding +$1\$" "$work/call.txt" || fail "not $1: $(cat "$work/call.txt")"
}
stop() {
  kill -TERM "$run_pid"
  wait "$run_pid" || true
  run_pid=
  if pgrep -f "$work" > /dev/null; then fail "processes left running: $(pgrep -af "$work")"; fi
  grep -q 'stopped' "$work/demo/idvd.log" || fail "idvd did not shut down cleanly"
}

start
first_call BOUND
stop
# A second start, the simulator on another port: the stored configuration follows it.
start
grep -q 'registry-sim now points at' "$work/out.txt" || fail "the stored backend was not updated"
first_call ALREADY_BOUND
stop
# The NPPA interface as the authority: its own data directory, the first call answered by it.
start --authority nppa
grep -q 'authority idv-nppa-sim' "$work/out.txt" || fail "not the NPPA simulator"
first_call BOUND
grep -q '"backend":"nppa-sim"' "$work/call.txt" || fail "not decided by nppa-sim: $(cat "$work/call.txt")"
stop
echo "run.sh: first call VERIFIED and BOUND, again after a restart with the simulator elsewhere;"
echo "with --authority nppa, VERIFIED by the NPPA simulator; clean stops"
echo "3 passed, 0 failed"
