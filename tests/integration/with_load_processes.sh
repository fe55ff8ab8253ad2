# Sourced by the script tests that run against the simulator and idvd (scripts/load_processes.sh):
# makes the work directory, starts the processes with a population of $1, and stops them and
# removes the directory on exit. Needs root and build set; provides fail MESSAGE.
set -euo pipefail
work=$(mktemp -d /tmp/idv-script-test-XXXXXX)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
source "$root/scripts/load_processes.sh"
start_load_processes "$1" || fail "could not start the processes"
