#!/usr/bin/env bash
# Installs what is missing, builds idv and starts a local cluster: a PostgreSQL server of its own
# (initdb into ./data-cluster/pg, loopback only), the registry simulator as the authority, and N
# idvd nodes (default 3) sharing the database, each with its own node id and port. Prints a first
# call to every node. Ctrl-C stops everything.
#
#   scripts/cluster.sh [NODES]
#
# Environment (all optional): IDV_WORK_DIR (the repository: ./data-cluster goes there),
# IDV_PG_PORT (55432), IDV_BASE_PORT (first idvd port, 7451), IDV_BUILD_DIR (build),
# IDV_SKIP_BUILD=1 to use what is built already.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
work=${IDV_WORK_DIR:-$root}
nodes=${1:-3}
pg_port=${IDV_PG_PORT:-55432}
base_port=${IDV_BASE_PORT:-7451}

if [ -z "${IDV_SKIP_BUILD:-}" ]; then
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" idvd idvctl idv-registry-sim
fi

cd "$work"
dir=$work/data-cluster
mkdir -p "$dir"
pids=()
cleanup() {
  trap - EXIT INT TERM
  # idvd first (they flush their logs into the database), then the simulator and PostgreSQL.
  if ((${#pids[@]} > 2)); then kill "${pids[@]:2}" 2>/dev/null || true; wait "${pids[@]:2}" 2>/dev/null || true; fi
  if ((${#pids[@]} > 1)); then kill "${pids[1]}" 2>/dev/null || true; fi
  if ((${#pids[@]} > 0)); then kill -INT "${pids[0]}" 2>/dev/null || true; fi  # PostgreSQL's fast shutdown
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

source "$root/scripts/await_listening.sh"
source "$root/scripts/local_postgres.sh"
start_local_postgres "$dir/pg" "$pg_port"

"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population 10000 \
  --seed 1 --export_csv "$dir/population.csv" > "$dir/registry-sim.log" 2>&1 &
pids+=($!)
sim_address=$(await_listening "$dir/registry-sim.log" "${pids[-1]}")

addresses=()
for ((i = 1; i <= nodes; i++)); do
  mkdir -p "$dir/node-$i"
  sed -e "s|target: \"127.0.0.1:7600\"|target: \"$sim_address\"|" \
      -e "s|master_key_file: \"./data/master.key\"|master_key_file: \"$dir/master.key\"|" \
      -e "s|127.0.0.1:9464|127.0.0.1:0|" \
      "$root/config/demo.textproto" > "$dir/node-$i/idvd.textproto"
  cat >> "$dir/node-$i/idvd.textproto" <<EOT
store { node_id: "node-$i" postgres { dsn: "$pg_dsn" } }
EOT
  "$build/services/idvd" --config "$dir/node-$i/idvd.textproto" \
    --listen "127.0.0.1:$((base_port + i - 1))" --data_dir "$dir/node-$i" \
    > "$dir/node-$i/idvd.log" 2>&1 &
  pids+=($!)
  # Node 1 first: it creates the master key, the schema and the admin client the others share.
  addresses+=("$(await_listening "$dir/node-$i/idvd.log" "${pids[-1]}")")
done

IFS=, read -r _ number name _ < <(sed -n 2p "$dir/population.csv")
cat <<EOT

idv cluster is running: $nodes idvd nodes (${addresses[*]}) sharing PostgreSQL on
127.0.0.1:$pg_port (data in $dir/pg), authority idv-registry-sim on $sim_address.
The admin key is $dir/node-1/admin.key; it works on every node.

First call, verifying and binding the simulator's first person through node 1, then reading
the binding back through node $nodes:

  $build/cli/idvctl --server ${addresses[0]} --token_file $dir/node-1/admin.key verify --account demo-account-1 --type cn_resident_id --number $number --name '$name' --bind
  $build/cli/idvctl --server ${addresses[-1]} --token_file $dir/node-1/admin.key get-binding demo-account-1

Ctrl-C stops the nodes, the simulator and PostgreSQL.
EOT
wait "${pids[2]}"
