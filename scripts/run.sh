#!/usr/bin/env bash
# Installs what is missing, builds idv and starts it on its embedded defaults: the registry
# simulator as the authority, idvd with LevelDB under ./data. Prints how to make a first call.
# Ctrl-C stops both.
#
# --authority nppa: the NPPA real-name interface instead, played by idv-nppa-sim (signed,
# encrypted HTTP), idvd with LevelDB under ./data-nppa (config/demo-nppa.textproto); the shared
# secret key (demo/nppa.secret) and idvd's ai key are made on first start.
#
# On a later start the stored configuration (which wins over the file's) is pointed at this
# run's simulator when it names another address, as a configuration change of its own.
#
# Environment (all optional): IDV_LISTEN (127.0.0.1:7443), IDV_SIM_LISTEN (127.0.0.1:7600),
# (127.0.0.1:7610 with --authority nppa), IDV_METRICS_LISTEN (127.0.0.1:9464),
# IDV_WORK_DIR (the repository: ./data and ./demo go there), IDV_BUILD_DIR (build),
# IDV_SKIP_BUILD=1 to use what is built already.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
work=${IDV_WORK_DIR:-$root}
listen=${IDV_LISTEN:-127.0.0.1:7443}
metrics_listen=${IDV_METRICS_LISTEN:-127.0.0.1:9464}
authority=registry
while [ $# -gt 0 ]; do
  case "$1" in
    --authority) authority=${2:-}; shift 2 || shift ;;
    --authority=*) authority=${1#--authority=}; shift ;;
    *) echo "usage: $0 [--authority registry|nppa]" >&2; exit 2 ;;
  esac
done
case "$authority" in
  registry) sim_listen=${IDV_SIM_LISTEN:-127.0.0.1:7600} data=./data sim=idv-registry-sim
    backend=registry-sim field=target config="$root/config/demo.textproto" ;;
  nppa) sim_listen=${IDV_SIM_LISTEN:-127.0.0.1:7610} data=./data-nppa sim=idv-nppa-sim
    backend=nppa-sim field=base_url config="$root/config/demo-nppa.textproto" ;;
  *) echo "$0: --authority is registry or nppa" >&2; exit 2 ;;
esac

if [ -z "${IDV_SKIP_BUILD:-}" ]; then
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" idvd idvctl "$sim"
fi

cd "$work"
mkdir -p demo
pids=()
cleanup() {
  trap - EXIT INT TERM
  if ((${#pids[@]})); then kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

source "$root/scripts/await_listening.sh"

sim_flags=(--listen "$sim_listen" --population 10000 --seed 1 --export_csv demo/population.csv)
if [ "$authority" = nppa ]; then
  mkdir -p "$data"
  # The secret key the NPPA would issue, shared with the simulator; idvd's own ai key.
  [ -s demo/nppa.secret ] || (umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > demo/nppa.secret)
  [ -s "$data/nppa-ai.key" ] || (umask 077 && head -c 32 /dev/urandom | base64 -w0 > "$data/nppa-ai.key")
  "$build/verifiers/nppa_sim/idv-nppa-sim" "${sim_flags[@]}" --secret_key_file demo/nppa.secret \
    > demo/$sim.log 2>&1 &
  sim_url="http://"
else
  "$build/verifiers/registry_sim/idv-registry-sim" "${sim_flags[@]}" > demo/$sim.log 2>&1 &
  sim_url=""
fi
pids+=($!)
sim_address=$(await_listening demo/$sim.log "${pids[-1]}")

sed "s|target: \"127.0.0.1:7600\"|target: \"$sim_address\"|; s|base_url: \"http://127.0.0.1:7610\"|base_url: \"http://$sim_address\"|; s|127.0.0.1:9464|$metrics_listen|" \
  "$config" > demo/idvd.textproto
# Emptied first: tee truncates it only when it starts, and the address must not be read from the
# log of an earlier start.
: > demo/idvd.log
"$build/services/idvd" --config demo/idvd.textproto --listen "$listen" --data_dir "$data" \
  > >(tee -a demo/idvd.log) 2>&1 &
pids+=($!)
address=$(await_listening demo/idvd.log "${pids[-1]}")

# The stored configuration wins over the file's from the second start on: point its simulator
# backend at this run's simulator when it names another address.
ctl=("$build/cli/idvctl" --server "$address" --token_file "$data/admin.key")
"${ctl[@]}" --json backends list > demo/backends.json
if python3 - demo/backends.json "$backend" "$field" "$sim_url$sim_address" demo/$backend.json <<'PY'
import json, sys
listed, name, field, address, out = json.load(open(sys.argv[1])), *sys.argv[2:]
for b in listed.get("backends", []):
    c = b["config"]
    if c["name"] == name and c["typed_config"].get(field) != address:
        c["typed_config"][field] = address
        json.dump(c, open(out, "w"))
        sys.exit(0)
sys.exit(1)
PY
then
  "${ctl[@]}" backends put demo/$backend.json > /dev/null
  echo "The stored configuration named another simulator address; $backend now points at" \
    "$sim_address (a new configuration version, in the audit trail)."
fi

IFS=, read -r _ number name _ < <(sed -n 2p demo/population.csv)
cat <<EOT

idv is running: idvd on $address (LevelDB in $work/${data#./}), authority $sim on
$sim_address with 10000 synthetic people (demo/population.csv).

First call, verifying and binding the simulator's first person:

  $build/cli/idvctl --server $address --token_file $work/${data#./}/admin.key verify --account demo-account-1 --type cn_resident_id --number $number --name '$name' --bind

Then: idvctl ... get-binding demo-account-1, or get-verification <verification_id>.
The web console: $(grep -m1 -oE 'console on http://[^ "]+' demo/idvd.log | sed 's/console on //')
(sign in with the key in $work/${data#./}/admin.key).
Ctrl-C stops idvd and the simulator.
EOT
wait "${pids[1]}"
