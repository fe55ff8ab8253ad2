#!/usr/bin/env bash
# examples/python and examples/node against a started simulator and idvd: each calls every RPC
# the .proto files declare (the count is taken from them, so a new RPC fails this test until the
# examples call it), PutBackend's google.protobuf.Any included, and the backend it adds is probed.
# Node's packages come from examples/node/package-lock.json (npm ci into the build directory).
# Usage: examples_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
source "$(dirname "$0")/with_load_processes.sh" 2000
rpcs=$(cat "$root"/proto/idv/v1/{verification,admin,audit}.proto | grep -cE '^\s+rpc ')
IFS=, read -r _ number name _ < <(sed -n 2p "$work/pop.csv")
args=(--server "$idvd" --token_file "$work/data/admin.key" --number "$number" --name "$name"
  --backend_target "$sim")

/usr/bin/python3 "$root/examples/python/idv_example.py" --gen "$build/proto/python" "${args[@]}" \
  > "$work/python.txt" 2>&1 || fail "the Python example failed: $(cat "$work/python.txt")"
grep -qx "$rpcs RPCs called" "$work/python.txt" ||
  fail "the Python example did not call all $rpcs RPCs: $(tail -3 "$work/python.txt")"
grep -q "GrpcPluginConfig\] { target: \"$sim\"" "$work/python.txt" ||
  fail "the Python example's Any-packed backend config was not stored as sent"

modules=$build/examples/node
source "$root/scripts/npm_ci.sh"
npm_ci_into "$root/examples/node" "$modules"
NODE_PATH=$modules/node_modules node "$root/examples/node/idv_example.js" "${args[@]}" \
  > "$work/node.txt" 2>&1 || fail "the Node example failed: $(cat "$work/node.txt")"
grep -qx "$rpcs RPCs called" "$work/node.txt" ||
  fail "the Node example did not call all $rpcs RPCs: $(tail -3 "$work/node.txt")"
grep -q "GrpcPluginConfig\] { target: \"$sim\"" "$work/node.txt" ||
  fail "the Node example's Any-packed backend config was not stored as sent"
echo "PASS: the Python and Node examples each called all $rpcs RPCs"
