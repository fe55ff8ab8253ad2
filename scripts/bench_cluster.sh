#!/usr/bin/env bash
# Durable Verify+bind on LevelDB and on PostgreSQL, one node and three nodes, measured in one run,
# alternating, three rounds; prints medians of calls/s and of CPU per verification (idvd's own,
# and idvd's plus PostgreSQL's, from /proc/PID/stat) with ratios to LevelDB on one node.
# Everything runs on this machine: the simulator, a PostgreSQL server of the script's own
# (loopback, Debian's default settings: fsync and synchronous_commit on), the idvd processes, and
# idv-load, which shares the cores with them.
# Usage: scripts/bench_cluster.sh [SECONDS per run]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
seconds=${1:-5}
"$root/scripts/build.sh" idvd idv-registry-sim idv-load > /dev/null
work=$(mktemp -d /tmp/idv-bench-XXXXXX)
chmod 755 "$work"  # the PostgreSQL server runs as its own user and must reach its directory
pids=()
cleanup() {
  if ((${#pids[@]} > 1)); then kill "${pids[@]:1}" 2>/dev/null || true; wait "${pids[@]:1}" 2>/dev/null || true; fi
  if ((${#pids[@]} > 0)); then kill -INT "${pids[0]}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source "$root/scripts/await_listening.sh"
source "$root/scripts/local_postgres.sh"
pg_port=$((56000 + RANDOM % 1000))
start_local_postgres "$work/pg" "$pg_port"
psql -h 127.0.0.1 -p "$pg_port" -U idv -d postgres -qc "CREATE DATABASE idv3"

"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population 1500000 \
  --export_csv "$work/pop.csv" > "$work/sim.log" 2>&1 &
pids+=($!)
sim=$(await_listening "$work/sim.log" "${pids[-1]}")

# start_idvd NAME STORE_BLOCK KEYFILE: one idvd on the demo configuration; sets addr.
start_idvd() {
  mkdir -p "$work/$1"
  sed -e "s|target: \"127.0.0.1:7600\"|target: \"$sim\"|" \
      -e "s|master_key_file: \"./data/master.key\"|master_key_file: \"$3\"|" \
      -e "s|127.0.0.1:9464|127.0.0.1:0|" \
      "$root/config/demo.textproto" > "$work/$1/idvd.textproto"
  echo "$2" >> "$work/$1/idvd.textproto"
  "$build/services/idvd" --config "$work/$1/idvd.textproto" --listen 127.0.0.1:0 \
    --data_dir "$work/$1" > "$work/$1/idvd.log" 2>&1 &
  pids+=($!)
  addr=$(await_listening "$work/$1/idvd.log" "${pids[-1]}")
}
declare -A target token procs
start_idvd leveldb "" "$work/leveldb.key"
target[leveldb]=$addr token[leveldb]=$work/leveldb/admin.key procs[leveldb]=${pids[-1]}
start_idvd pg1 "store { node_id: \"solo\" postgres { dsn: \"$pg_dsn\" } }" "$work/pg1.key"
target[pg1]=$addr token[pg1]=$work/pg1/admin.key procs[pg1]=${pids[-1]}
targets=() nodes=()
for i in 1 2 3; do
  start_idvd "pg3-$i" "store { node_id: \"node-$i\" postgres { dsn: \"${pg_dsn/dbname=idv/dbname=idv3}\" } }" \
    "$work/pg3.key"
  targets+=("$addr") nodes+=("${pids[-1]}")
done
target[pg3]=$(IFS=,; echo "${targets[*]}") token[pg3]=$work/pg3-1/admin.key procs[pg3]=${nodes[*]}

ticks() {  # utime+stime of the given PIDs, in clock ticks
  local sum=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    read -r -a f < <(sed 's/.*) //' "/proc/$pid/stat")
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}
pg_pids() { echo "$pg_pid" $(pgrep -P "$pg_pid"); }
hz=$(getconf CLK_TCK)

fresh=0
declare -A tput cpu_idvd cpu_all
for round in 1 2 3; do
  for cfg in leveldb pg1 pg3; do
    for conc in 64 256; do
      fresh=$((fresh + 80000))
      read -r -a own <<< "${procs[$cfg]}"
      pgp=$(pg_pids)
      i0=$(ticks "${own[@]}"); p0=$(ticks $pgp)
      out=$("$build/load-tests/idv-load" --target "${target[$cfg]}" --token_file "${token[$cfg]}" \
        --identities "$work/pop.csv" --scenario bind --concurrency "$conc" --channels 6 \
        --duration "$seconds" --warmup 0 --first_identity "$fresh" --progress=false --json)
      i1=$(ticks "${own[@]}"); p1=$(ticks $pgp)
      calls=$(sed -E 's/.*"calls":([0-9]+).*/\1/' <<< "$out")
      t=$(sed -E 's/.*"throughput":([0-9.]+).*/\1/' <<< "$out")
      errors=$(sed -E 's/.*"errors":([0-9]+).*/\1/' <<< "$out")
      if [ "$errors" != 0 ]; then echo "$cfg/$conc: $errors errors" >&2; fi
      tput["$cfg/$conc"]+="$t "
      cpu_idvd["$cfg/$conc"]+="$(echo "($i1 - $i0) * 1000000 / $hz / $calls" | bc -l) "
      cpu_all["$cfg/$conc"]+="$(echo "($i1 - $i0 + $p1 - $p0) * 1000000 / $hz / $calls" | bc -l) "
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | sed -n 2p; }
printf '%-8s %6s %10s %8s %14s %16s   (medians of 3 alternating %ss runs)\n' \
  store inflight calls/s /ldb1 cpu_idvd_us cpu_idvd+pg_us "$seconds"
for conc in 64 256; do
  base=$(echo "${tput["leveldb/$conc"]}" | median)
  for cfg in leveldb pg1 pg3; do
    t=$(echo "${tput["$cfg/$conc"]}" | median)
    printf '%-8s %6s %10.0f %8.2f %14.1f %16.1f\n' "$cfg" "$conc" "$t" "$(echo "$t / $base" | bc -l)" \
      "$(echo "${cpu_idvd["$cfg/$conc"]}" | median)" "$(echo "${cpu_all["$cfg/$conc"]}" | median)"
  done
done
