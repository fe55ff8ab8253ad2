# Sourced by the load scripts and tests: starts the simulator, idvd (the demo configuration,
# pointed at that simulator, data in the work directory) and idv-echo on free loopback ports.
# Needs: build (the build directory), root (the repository), work (an empty directory), and an
# array pids, to which every started process is added. Sets sim, idvd and echo_server to their
# HOST:PORT. Usage: start_load_processes POPULATION
await_listening() {  # LOG -> HOST:PORT, empty when the process printed none within 30 s
  for _ in $(seq 300); do grep -q 'listening on' "$1" && break; sleep 0.1; done
  grep -m1 -oE 'listening on [^ ]+' "$1" | cut -d' ' -f3
}

start_load_processes() {
  "$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population "$1" \
    --export_csv "$work/pop.csv" > "$work/sim.log" 2>&1 &
  pids+=($!)
  sim=$(await_listening "$work/sim.log")
  sed "s|target: \"127.0.0.1:7600\"|target: \"$sim\"|; s|\"./data|\"$work/data|g" \
    "$root/config/demo.textproto" > "$work/idvd.textproto"
  "$build/services/idvd" --config "$work/idvd.textproto" --listen 127.0.0.1:0 \
    > "$work/idvd.log" 2>&1 &
  pids+=($!)
  idvd=$(await_listening "$work/idvd.log")
  "$build/load-tests/idv-echo" --listen 127.0.0.1:0 > "$work/echo.log" 2>&1 &
  pids+=($!)
  echo_server=$(await_listening "$work/echo.log")
  if [ -z "$sim" ] || [ -z "$idvd" ] || [ -z "$echo_server" ]; then
    echo "a process did not start:" >&2
    tail -n 5 "$work/sim.log" "$work/idvd.log" "$work/echo.log" >&2
    return 1
  fi
}
