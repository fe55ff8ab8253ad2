# Sourced by the load scripts and tests: starts the simulator, idvd (the demo configuration,
# pointed at that simulator, data in the work directory) and idv-echo on free loopback ports.
# Needs: build (the build directory), root (the repository), work (an empty directory), and an
# array pids, to which every started process is added. Sets sim, idvd, metrics (idvd's metrics
# endpoint) and echo_server to their HOST:PORT. Usage: start_load_processes POPULATION
source "$root/scripts/await_listening.sh"

start_load_processes() {
  "$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population "$1" \
    --export_csv "$work/pop.csv" > "$work/sim.log" 2>&1 &
  pids+=($!)
  sim=$(await_listening "$work/sim.log" "${pids[-1]}") || return 1
  sed "s|target: \"127.0.0.1:7600\"|target: \"$sim\"|; s|\"./data|\"$work/data|g;
       s|\"./backups\"|\"$work/backups\"|; s|127.0.0.1:9464|127.0.0.1:0|" \
    "$root/config/demo.textproto" > "$work/idvd.textproto"
  # IDV_EXTRA_CONFIG: more of idvd's configuration (text format), appended.
  [ -n "${IDV_EXTRA_CONFIG:-}" ] && echo "$IDV_EXTRA_CONFIG" >> "$work/idvd.textproto"
  "$build/services/idvd" --config "$work/idvd.textproto" --listen 127.0.0.1:0 \
    > "$work/idvd.log" 2>&1 &
  pids+=($!)
  idvd=$(await_listening "$work/idvd.log" "${pids[-1]}") || return 1
  metrics=$(grep -m1 -oE 'metrics on http://[^/]+' "$work/idvd.log" | sed 's|.*http://||')
  "$build/load-tests/idv-echo" --listen 127.0.0.1:0 > "$work/echo.log" 2>&1 &
  pids+=($!)
  echo_server=$(await_listening "$work/echo.log" "${pids[-1]}") || return 1
}
