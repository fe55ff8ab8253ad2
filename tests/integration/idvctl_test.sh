#!/usr/bin/env bash
# idvctl as people use it, against a started simulator and idvd: usage errors exit 2 with the
# command's help at hand, failed calls exit 3 with the gRPC code's name and a hint, a Verify
# outcome other than VERIFIED exits 1; the environment supplies the server and key; the claim can
# come from stdin; the output formats parse; tables have real columns; a dry run shows old -> new.
# Usage: idvctl_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
source "$(dirname "$0")/with_load_processes.sh" 1000
py=/usr/bin/python3
ctl=$build/cli/idvctl
export IDV_SERVER=$idvd IDV_TOKEN_FILE=$work/data/admin.key
out=$work/out.txt err=$work/err.txt
expect() {  # EXIT_CODE COMMAND...
  local want=$1 got=0
  shift
  "$@" > "$out" 2> "$err" < "${stdin:-/dev/null}" || got=$?
  [ "$got" = "$want" ] || fail "$* exited $got, not $want: $(cat "$out" "$err")"
}
has() { grep -qE -- "$1" "${2:-$out}" || fail "no /$1/ in: $(cat "${2:-$out}")"; }

# Help, version, usage errors.
expect 0 "$ctl" --help
has "Exit status"
expect 0 "$ctl" backends put --help
has "--dry-run"
expect 0 "$ctl" --version
has "^idvctl [0-9]+\.[0-9]+\.[0-9]+ \(build "
expect 2 "$ctl" frobnicate
expect 2 "$ctl" verify --number 1
has "--account is required" "$err"
expect 2 "$ctl" --ca_file "$work/no-such-ca.pem" keys status
has "File does not exist" "$err"
expect 2 "$ctl" -o xml keys status
expect 2 "$ctl" backends put "$work/no-such-file.textproto"

# The server and key come from the environment (no --server, no --token_file above or below).
expect 0 "$ctl" keys status
has "^current_version +1$"

# Failed calls: exit 3, the code by name, a hint.
IDV_SERVER=127.0.0.1:1 expect 3 "$ctl" keys status
has "^idvctl: UNAVAILABLE: " "$err"
has "is idvd running\? \(--server or IDV_SERVER" "$err"
echo "not-a-key" > "$work/wrong.key"
IDV_TOKEN_FILE=$work/wrong.key expect 3 "$ctl" keys status
has "^idvctl: UNAUTHENTICATED: " "$err"
has "IDV_TOKEN_FILE" "$err"

# Verify: 0 for VERIFIED, 1 for another outcome; the claim from stdin keeps it out of `ps`.
IFS=, read -r _ number name phone < <(sed -n 2p "$work/pop.csv")
expect 0 "$ctl" verify --account cli-1 --number "$number" --name "$name"
has "^outcome +VERIFIED$"
expect 1 "$ctl" verify --account cli-2 --number "$number" --name "不对劲"
has "^outcome +(MISMATCH|NOT_FOUND)$"
printf '{"document_type": "CN_RESIDENT_ID", "document_number": "%s", "full_name": "%s"}' \
  "$number" "$name" > "$work/claim.json"
stdin=$work/claim.json expect 0 "$ctl" -o json verify --account cli-3 --claim_file -
$py -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["outcome"]=="VERIFIED", r' \
  "$out" || fail "verify -o json: $(cat "$out")"
expect 0 "$ctl" verify --account cli-4 --number "$number" --name "$name" --phone "$phone"
has "^outcome +VERIFIED$"

# Output formats: JSON, one JSON line per list item, YAML; a table with columns.
expect 0 "$ctl" -o jsonl backends list
[ "$(wc -l < "$out")" = 1 ] || fail "jsonl: not one line per backend: $(cat "$out")"
$py -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$out" || fail "jsonl"
expect 0 "$ctl" -o yaml keys status
$py -c 'import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); assert d["current_version"]==1, d' \
  "$out" || fail "yaml: $(cat "$out")"
expect 0 "$ctl" backends list
has "^CONFIG.NAME +CONFIG.TYPED_CONFIG +CONFIG.TYPED_CONFIG.TARGET +.*CONFIG.TIMEOUT +BREAKER"
has "^registry-sim +GrpcPluginConfig +127.0.0.1:[0-9]+ .* 2s +closed"

# A dry run shows each changed field as old -> new, and changes nothing.
$ctl -o json backends list | $py -c '
import json, sys
b = json.load(sys.stdin)["backends"][0]["config"]
b["timeout"] = "3s"
json.dump(b, open(sys.argv[1], "w"))' "$work/sim.json"
expect 0 "$ctl" backends put "$work/sim.json" --dry-run
has "backend registry-sim changed: timeout.seconds: 2 -> 3"
expect 0 "$ctl" backends list
has "^registry-sim +.* 2s +closed"
echo "PASS: idvctl usage, exit codes, environment, formats and dry-run diff"
