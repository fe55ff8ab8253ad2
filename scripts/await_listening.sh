# Sourced by the scripts that start idv's processes.
# await_listening LOG PID: prints the HOST:PORT of the "listening on" line process PID writes to
# LOG, waiting up to 30 s; fails, showing LOG, when the process exits or the time runs out first.
await_listening() {
  local log=$1 pid=$2 line
  for _ in $(seq 300); do
    line=$(grep -m1 -oE 'listening on [][A-Za-z0-9.:_-]+' "$log" 2>/dev/null || true)
    if [ -n "$line" ]; then echo "${line#listening on }"; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$(basename "$0"): $log shows no 'listening on' line:" >&2
  cat "$log" >&2
  return 1
}
