#!/usr/bin/env bash
# Server CPU per call of a warm Verify (cache hit, audit record durable, embedded engine) against
# the empty RPC (idvd's health Check), side by side in one run. h2load drives both with the same
# connections and streams; idvd's CPU is read from /proc/PID/stat before and after each run, so
# the load generator's own CPU (it shares the cores) does not count. Every warm call must reach
# the audit log: the script checks that the log grew by exactly the calls h2load made.
# A second idvd, the same but without metrics (no `metrics` block: no interceptor, no counters),
# is measured in the same rounds: what metrics cost per warm Verify; and a third, with metrics and
# an access-log line (JSON, to a file) for every call (ACCESS_LOG_SAMPLE=1, the default) or a
# sample of them: what both cost together.
# Usage: scripts/hot_path.sh [CALLS per run] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
calls=${1:-200000}
rounds=${2:-3}
"$root/scripts/build.sh" idvd idv-registry-sim idv-load idv-echo idvctl > /dev/null
work=$(mktemp -d /tmp/idv-hot-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
source "$root/scripts/load_processes.sh"
start_load_processes 1000
idvd_pid=${pids[1]}
echo_pid=${pids[2]}
"$build/load-tests/idv-echo" --listen 127.0.0.1:0 --finish_on_thread > "$work/echo2.log" 2>&1 &
pids+=($!)
echo_async_pid=$!
echo_async=$(await_listening "$work/echo2.log" "$echo_async_pid")
# The same idvd without metrics (nor the console they serve), on data of its own.
sed -e '/^metrics {/d' -e '/^console {/d' -e "s|$work/data|$work/data-plain|g" "$work/idvd.textproto" \
  > "$work/idvd-plain.textproto"
"$build/services/idvd" --config "$work/idvd-plain.textproto" --listen 127.0.0.1:0 \
  > "$work/idvd-plain.log" 2>&1 &
pids+=($!)
plain_pid=$!
plain=$(await_listening "$work/idvd-plain.log" "$plain_pid")
grep -q "metrics on" "$work/idvd-plain.log" && { echo "the plain idvd serves metrics"; exit 1; }
# And with metrics and an access-log line for every call (JSON, to a file), on data of its own.
sed -e "s|$work/data|$work/data-logged|g" "$work/idvd.textproto" > "$work/idvd-logged.textproto"
sample=${ACCESS_LOG_SAMPLE:-1}
echo "logging { format: JSON access_log_sample: $sample }" >> "$work/idvd-logged.textproto"
"$build/services/idvd" --config "$work/idvd-logged.textproto" --listen 127.0.0.1:0 \
  > "$work/idvd-logged.log" 2>&1 &
pids+=($!)
logged_pid=$!
logged=$(await_listening "$work/idvd-logged.log" "$logged_pid")
key=$(cat "$work/data/admin.key")
plain_key=$(cat "$work/data-plain/admin.key")
logged_key=$(cat "$work/data-logged/admin.key")
ctl() { "$build/cli/idvctl" --server "$idvd" --token_file "$work/data/admin.key" "$@"; }

# One gRPC message: a 0 byte (uncompressed), the length (4 bytes, big-endian), the protobuf.
frame() {
  local body=$1 len
  len=$(stat -c %s "$body")
  printf "\\x00\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))"
  printf "\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))"
  cat "$body"
}
IFS=, read -r doc number name _ < <(sed -n 2p "$work/pop.csv")
printf 'account_id: "hot-path" claim { document_type: %s document_number: "%s" full_name: "%s" }\n' \
  "$doc" "$number" "$name" |
  protoc -I "$root/proto" -I /usr/include --encode=idv.v1.VerifyRequest \
    "$root/proto/idv/v1/verification.proto" > "$work/verify.pb"
frame "$work/verify.pb" > "$work/verify.grpc"
printf '\0\0\0\0\0' > "$work/empty.grpc"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
log_size() { ctl --json audit checkpoint | sed -nE 's/.*"log_size": *"?([0-9]+).*/\1/p' | head -1; }
h2() {  # path body [server] -> requests that succeeded
  local k=$key
  [ "${3:-}" = "$plain" ] && k=$plain_key
  [ "${3:-}" = "$logged" ] && k=$logged_key
  h2load -n "$calls" -c 8 -m 64 -d "$2" -H 'content-type: application/grpc' -H 'te: trailers' \
    -H 'grpc-timeout: 10S' \
    -H "authorization: Bearer $k" "http://${3:-$idvd}$1" | sed -nE 's/^requests: .* ([0-9]+) succeeded.*/\1/p'
}
measure() {  # name path body [server pid]
  local before after ok size0 size1 pid=${5:-$idvd_pid}
  size0=$(log_size)
  before=$(cpu_ticks "$pid")
  ok=$(h2 "$2" "$3" "${4:-}")
  if [ "$1" = logged ]; then  # the access log writes every 200 ms: count its flush in
    for _ in $(seq 50); do
      [ "$sample" != 1 ] ||
        [ "$(grep -c '"log":"access"' "$work/idvd-logged.log" || true)" -ge $((lines0 + ok)) ] &&
        break
      sleep 0.1
    done
  fi
  after=$(cpu_ticks "$pid")
  size1=$(log_size)
  if [ "$1" = verify ] && [ $((size1 - size0)) -ne "$ok" ]; then
    echo "warm Verify: $ok calls but the audit log grew by $((size1 - size0))" >&2
    exit 1
  fi
  # clock ticks are 10 ms: µs per call = ticks * 10000 / calls
  echo "$(((after - before) * 10000 * 100 / ok))"
}
h2 /idv.v1.VerificationService/Verify "$work/verify.grpc" > /dev/null  # warm the cache
h2 /idv.v1.VerificationService/Verify "$work/verify.grpc" "$plain" > /dev/null
h2 /idv.v1.VerificationService/Verify "$work/verify.grpc" "$logged" > /dev/null
declare -a empty echo async verify unmetered accesslogged
for _ in $(seq "$rounds"); do
  empty+=("$(measure empty /grpc.health.v1.Health/Check "$work/empty.grpc")")
  echo+=("$(measure echo /idv.v1.VerificationService/Verify "$work/verify.grpc" "$echo_server" "$echo_pid")")
  async+=("$(measure echo /idv.v1.VerificationService/Verify "$work/verify.grpc" "$echo_async" \
    "$echo_async_pid")")
  verify+=("$(measure verify /idv.v1.VerificationService/Verify "$work/verify.grpc")")
  unmetered+=("$(measure unmetered /idv.v1.VerificationService/Verify "$work/verify.grpc" "$plain" \
    "$plain_pid")")
  lines0=$(grep -c '"log":"access"' "$work/idvd-logged.log" || true)
  accesslogged+=("$(measure logged /idv.v1.VerificationService/Verify "$work/verify.grpc" \
    "$logged" "$logged_pid")")
  lines1=$(grep -c '"log":"access"' "$work/idvd-logged.log" || true)
  [ "$sample" != 1 ] || [ $((lines1 - lines0)) -ge "$calls" ] ||
    { echo "access log: $((lines1 - lines0)) lines for $calls calls" >&2; exit 1; }
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
e=$(median "${empty[@]}")
v=$(median "${verify[@]}")
o=$(median "${echo[@]}")
a=$(median "${async[@]}")
u=$(median "${unmetered[@]}")
l=$(median "${accesslogged[@]}")
printf 'idvd CPU per call (µs), h2load -c 8 -m 64, %s calls a run, median of %s alternating runs\n' \
  "$calls" "$rounds"
printf '  empty RPC   %s.%02d   (runs: %s)\n' $((e / 100)) $((e % 100)) "${empty[*]}"
printf '  idv-echo    %s.%02d   (runs: %s; Verify answered at once, doing nothing)\n' $((o / 100)) \
  $((o % 100)) "${echo[*]}"
printf '  idv-echo --finish_on_thread %s.%02d   (runs: %s; the same, answered from another thread)\n' \
  $((a / 100)) $((a % 100)) "${async[*]}"
printf '  warm Verify %s.%02d   (runs: %s)\n' $((v / 100)) $((v % 100)) "${verify[*]}"
printf '  warm Verify without metrics %s.%02d   (runs: %s)\n' $((u / 100)) $((u % 100)) \
  "${unmetered[*]}"
printf '  warm Verify with metrics and access log (sample %s) %s.%02d   (runs: %s)\n' "$sample" \
  $((l / 100)) $((l % 100)) "${accesslogged[*]}"
printf '  metrics cost: warm Verify with / without = %s\n' "$(echo "scale=3; $v / $u" | bc)"
printf '  metrics + access log (sample %s) cost: with both / with neither = %s\n' "$sample" \
  "$(echo "scale=3; $l / $u" | bc)"
# Each round's runs are adjacent in time: the median of per-round ratios is steadier than the
# ratio of medians when the machine's speed drifts between rounds.
ratios=()
for i in "${!accesslogged[@]}"; do
  ratios+=("$(echo "scale=3; ${accesslogged[$i]} / ${unmetered[$i]}" | bc)")
done
printf '  the same, median of per-round ratios = %s   (rounds: %s)\n' \
  "$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((${#ratios[@]} + 1) / 2))p")" "${ratios[*]}"
printf '  warm Verify / empty RPC = %s, idv-echo / empty RPC = %s\n' "$(echo "scale=2; $v / $e" | bc)" \
  "$(echo "scale=2; $o / $e" | bc)"
