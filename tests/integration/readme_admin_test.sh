#!/usr/bin/env bash
# The administration commands README "Backends, policies and run-time configuration" shows, run
# as shown against the demo (the simulator, a second one in carrier mode, idvd), with the files
# of examples/ they name: each must exit as the README says, and the verification path must work
# after the changes.
# Usage: readme_admin_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
source "$(dirname "$0")/with_load_processes.sh" 10000
"$build/verifiers/registry_sim/idv-registry-sim" --mode=carrier --listen 127.0.0.1:0 \
  --population 10000 > "$work/carrier.log" 2>&1 &
pids+=($!)
carrier=$(await_listening "$work/carrier.log" "${pids[-1]}")
# The demo's simulator addresses are fixed; this test's are free ports.
sed "s|127.0.0.1:7601|$carrier|" "$root/examples/carrier.textproto" > "$work/carrier.textproto"
cd "$root"
idvctl() { "$build/cli/idvctl" --server "$idvd" --token_file "$work/data/admin.key" "$@"; }
expect() {  # EXIT_CODE COMMAND... : runs the command, which must exit with EXIT_CODE
  local want=$1 got=0
  shift
  "$@" > "$work/out.txt" 2>&1 || got=$?
  [ "$got" = "$want" ] || fail "$* exited $got, not $want: $(cat "$work/out.txt")"
}
expect 0 idvctl backends list
expect 0 idvctl backends put "$work/carrier.textproto" --dry-run
expect 0 idvctl backends put "$work/carrier.textproto" --probe
expect 0 idvctl policy get
expect 0 idvctl policy put examples/policy.json --dry-run
expect 0 idvctl policy put examples/policy.json
expect 3 idvctl backends delete carrier --dry-run  # in use by the policy: refused
expect 0 idvctl backends history
grep -q "policy-1" "$work/out.txt" || fail "history does not show the policy change"
# The policy works: a person of the population verifies.
IFS=, read -r _ number name _ < <(sed -n 2p "$work/pop.csv")
expect 0 idvctl verify --account readme-1 --type cn_resident_id --number "$number" --name "$name"
grep -qE '^outcome +VERIFIED$' "$work/out.txt" || fail "not VERIFIED: $(cat "$work/out.txt")"
echo "PASS: the README's administration commands and examples/"
