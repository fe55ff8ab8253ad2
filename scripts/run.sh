#!/usr/bin/env bash
# Installs what is missing, builds idv and starts it on its embedded defaults: the registry
# simulator as the authority, idvd with LevelDB under ./data. Prints how to make a first call.
# Ctrl-C stops both.
#
# Environment (all optional): IDV_LISTEN (127.0.0.1:7443), IDV_SIM_LISTEN (127.0.0.1:7600),
# IDV_WORK_DIR (the repository: ./data and ./demo go there), IDV_BUILD_DIR (build),
# IDV_SKIP_BUILD=1 to use what is built already.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
work=${IDV_WORK_DIR:-$root}
listen=${IDV_LISTEN:-127.0.0.1:7443}
sim_listen=${IDV_SIM_LISTEN:-127.0.0.1:7600}

if [ -z "${IDV_SKIP_BUILD:-}" ]; then
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" idvd idvctl idv-registry-sim
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

"$build/verifiers/registry_sim/idv-registry-sim" --listen "$sim_listen" --population 10000 \
  --seed 1 --export_csv demo/population.csv > demo/registry-sim.log 2>&1 &
pids+=($!)
sim_address=$(await_listening demo/registry-sim.log "${pids[-1]}")

sed "s|target: \"127.0.0.1:7600\"|target: \"$sim_address\"|" "$root/config/demo.textproto" \
  > demo/idvd.textproto
"$build/services/idvd" --config demo/idvd.textproto --listen "$listen" --data_dir ./data \
  > >(tee demo/idvd.log) 2>&1 &
pids+=($!)
address=$(await_listening demo/idvd.log "${pids[-1]}")

IFS=, read -r _ number name _ < <(sed -n 2p demo/population.csv)
cat <<EOT

idv is running: idvd on $address (LevelDB in $work/data), authority idv-registry-sim on
$sim_address with 10000 synthetic people (demo/population.csv).

First call, verifying and binding the simulator's first person:

  $build/cli/idvctl --server $address --token_file $work/data/admin.key verify --account demo-account-1 --type cn_resident_id --number $number --name '$name' --bind

Then: idvctl ... get-binding demo-account-1, or get-verification <verification_id>.
Ctrl-C stops idvd and the simulator.
EOT
wait "${pids[1]}"
