#!/usr/bin/env bash
# Cold Verify (every claim new, so every call reaches the authority) through the NPPA backend
# against the gRPC plugin backend, side by side in one run: two idvd on loopback, one configured
# as config/demo.textproto (idv-registry-sim over gRPC), one as config/demo-nppa.textproto
# (idv-nppa-sim over signed, encrypted HTTP), the same population; runs alternate, three rounds.
# Prints each side's median throughput, p99, idvd's CPU per call (from /proc/PID/stat), the
# simulator's CPU per call (it shares the cores) and the share of VERIFIED answers, then the
# NPPA/plugin ratios.
# Usage: scripts/nppa_compare.sh [SECONDS per run] [CONCURRENCY]
# Environment: IDV_ROUNDS (3), IDV_KEEP_WORK=1 keeps the work directory (logs, each run's JSON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
seconds=${1:-5}
conc=${2:-64}
population=400000
"$root/scripts/build.sh" idvd idv-registry-sim idv-nppa-sim idv-load > /dev/null
work=$(mktemp -d /tmp/idv-nppa-compare-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; [ -n "${IDV_KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
source "$root/scripts/await_listening.sh"
cd "$work"
mkdir -p demo data data-nppa
od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > demo/nppa.secret
head -c 32 /dev/urandom | base64 -w0 > data-nppa/nppa-ai.key

"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population $population \
  --export_csv pop.csv > registry.log 2>&1 &
pids+=($!)
declare -A sim_pid
sim_pid[plugin]=$!
registry=$(await_listening registry.log "${pids[-1]}")
"$build/verifiers/nppa_sim/idv-nppa-sim" --listen 127.0.0.1:0 --population $population \
  --secret_key_file demo/nppa.secret > nppa.log 2>&1 &
pids+=($!)
sim_pid[nppa]=$!
nppa=$(await_listening nppa.log "${pids[-1]}")

declare -A address pid
for side in plugin nppa; do
  config=$root/config/demo.textproto
  [ $side = nppa ] && config=$root/config/demo-nppa.textproto
  sed "s|target: \"127.0.0.1:7600\"|target: \"$registry\"|;
       s|base_url: \"http://127.0.0.1:7610\"|base_url: \"http://$nppa\"|;
       s|127.0.0.1:9464|127.0.0.1:0|; s|\"./backups[a-z-]*\"|\"./backups-$side\"|" \
    "$config" > $side.textproto
  data=./data
  [ $side = nppa ] && data=./data-nppa
  "$build/services/idvd" --config $side.textproto --listen 127.0.0.1:0 --data_dir $data \
    > idvd-$side.log 2>&1 &
  pids+=($!)
  pid[$side]=$!
  address[$side]=$(await_listening idvd-$side.log "${pids[-1]}")
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
fresh=0
declare -A tput p99 cpu simcpu verified
for round in $(seq "${IDV_ROUNDS:-3}"); do
  for side in plugin nppa; do
    fresh=$((fresh + 60000))  # new identities (and accounts) in every run: all cache misses
    data=./data
    [ $side = nppa ] && data=./data-nppa
    before=$(cpu_ticks "${pid[$side]}") sim_before=$(cpu_ticks "${sim_pid[$side]}")
    "$build/load-tests/idv-load" --target "${address[$side]}" --token_file $data/admin.key \
      --identities pop.csv --scenario cold --concurrency "$conc" --duration "$seconds" \
      --first_identity "$fresh" --warmup 0 --progress=false --json > run.json
    after=$(cpu_ticks "${pid[$side]}") sim_after=$(cpu_ticks "${sim_pid[$side]}")
    cp run.json "run-$side-$round.json"
    read -r t p c sc v < <(python3 - run.json "$((after - before))" "$((sim_after - sim_before))" \
      "$(getconf CLK_TCK)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ticks, sim_ticks, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
calls = max(r["calls"], 1)
verified = r["counts"].get("outcome:VERIFIED", 0)
print(r["throughput"], r["latency_us"]["p99"], round(ticks / hz * 1e6 / calls),
      round(sim_ticks / hz * 1e6 / calls), round(verified / calls, 3))
PY
)
    tput[$side]+="$t "; p99[$side]+="$p "; cpu[$side]+="$c "; simcpu[$side]+="$sc "
    verified[$side]+="$v "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf '%-8s %10s %10s %14s %14s %10s   (cold Verify, %s in flight, median of %s alternating %ss runs)\n' \
  backend calls/s p99_us idvd_cpu_us sim_cpu_us verified "$conc" "${IDV_ROUNDS:-3}" "$seconds"
for side in plugin nppa; do
  printf '%-8s %10.0f %10s %14s %14s %10s\n' $side "$(echo "${tput[$side]}" | median)" \
    "$(echo "${p99[$side]}" | median)" "$(echo "${cpu[$side]}" | median)" \
    "$(echo "${simcpu[$side]}" | median)" \
    "$(echo "${verified[$side]}" | median)"
done
printf 'nppa / plugin: throughput %.2fx, idvd CPU per call %.2fx\n' \
  "$(echo "$(echo "${tput[nppa]}" | median) / $(echo "${tput[plugin]}" | median)" | bc -l)" \
  "$(echo "$(echo "${cpu[nppa]}" | median) / $(echo "${cpu[plugin]}" | median)" | bc -l)"
