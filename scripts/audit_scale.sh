#!/usr/bin/env bash
# The audit queries at scale: fills a store with RECORDS synthetic verifications of one day
# (idv-audit-fill, through idvd's own store code), starts idvd on it, and times what auditors ask:
# ListRecords' first page for one account and unfiltered, GetStats per day (from the hourly
# counters) and for one account, and an export of every record, sampling idvd's RSS meanwhile.
# Each query is timed three times with idvctl (a process start and a connection included); the
# median is printed.
# Usage: scripts/audit_scale.sh [RECORDS] [leveldb|postgres]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
records=${1:-1000000}
engine=${2:-leveldb}
"$root/scripts/build.sh" idvd idvctl idv-audit-fill > /dev/null
work=$(mktemp -d /tmp/idv-scale-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
source "$root/scripts/await_listening.sh"

store=""
if [ "$engine" = postgres ]; then
  chmod 755 "$work"  # the PostgreSQL server runs as its own user and must reach its directory
  source "$root/scripts/local_postgres.sh"
  start_local_postgres "$work/pg" 55439
  store="store { postgres { dsn: \"$pg_dsn\" } }"
fi
sed "s|\"./data|\"$work/data|g; s|127.0.0.1:9464|127.0.0.1:0|" "$root/config/demo.textproto" > "$work/idvd.textproto"
echo "$store" >> "$work/idvd.textproto"

echo "filling: $records records, $engine"
"$build/load-tests/idv-audit-fill" --config "$work/idvd.textproto" --records "$records"
if [ "$engine" = postgres ]; then
  du -sh "$work/pg" 2>/dev/null | sed 's/^/PostgreSQL data directory: /'
else
  du -sh "$work/data" 2>/dev/null | sed 's/^/data directory: /'
fi

"$build/services/idvd" --config "$work/idvd.textproto" --listen 127.0.0.1:0 > "$work/idvd.log" 2>&1 &
pids+=($!)
idvd_pid=$!
idvd=$(await_listening "$work/idvd.log" "$idvd_pid")
ctl() { "$build/cli/idvctl" --server "$idvd" --token_file "$work/data/admin.key" "$@"; }
# Anonymous memory (heap, stacks): what idvd holds. LevelDB reads table files through mmap, and
# the file pages it touched count in VmRSS too (RssFile) though the kernel drops them at will.
rss() { awk '/RssAnon/ {print $2}' "/proc/$idvd_pid/status"; }
rss_file() { awk '/RssFile/ {print $2}' "/proc/$idvd_pid/status"; }

timed() {  # label command... -> median of 3 wall-clock times in ms
  local label=$1 t=() start
  shift
  for _ in 1 2 3; do
    start=$(date +%s%N)
    "$@" > "$work/out" 2>&1 || { echo "$label failed:"; cat "$work/out"; exit 1; }
    t+=($((($(date +%s%N) - start) / 1000000)))
  done
  printf '  %-44s %6s ms   (runs: %s)\n' "$label" \
    "$(printf '%s\n' "${t[@]}" | sort -n | sed -n 2p)" "${t[*]}"
}
echo "idvd on $records records ($engine), RssAnon $(($(rss) / 1024)) MiB at start"
timed "ListRecords first page, one account" ctl audit list --account acct-4242
{ grep -c "acct-4242" "$work/out" || true; } | sed 's/^/    records shown: /'
timed "ListRecords first page, no filter" ctl audit list
timed "GetStats per day (hourly counters)" ctl audit stats day
{ grep -E "records|from_counters" "$work/out" || true; } | head -2 | sed 's/^/    /'
timed "GetStats per day, one account" ctl audit stats day --account acct-4242

# The export, twice, with idvd's memory sampled every 100 ms while it runs.
for run in 1 2; do
  before=$(rss)
  ctl audit export "$work/all.jsonl" > "$work/export.log" 2>&1 &
  export_pid=$!
  peak=$before
  start=$(date +%s%N)
  while kill -0 "$export_pid" 2>/dev/null; do
    r=$(rss)
    if [ "$r" -gt "$peak" ]; then peak=$r; fi
    sleep 0.1
  done
  wait "$export_pid"
  ms=$((($(date +%s%N) - start) / 1000000))
  lines=$(wc -l < "$work/all.jsonl")
  after=$(rss)
  echo "  export $run of every record: $lines records in $ms ms" \
    "($((lines * 1000 / (ms + 1))) records/s), $(($(stat -c %s "$work/all.jsonl") / 1048576)) MiB"
  echo "    idvd RssAnon: before $((before / 1024)) MiB, peak $((peak / 1024)) MiB," \
    "after $((after / 1024)) MiB; RssFile after $(($(rss_file) / 1024)) MiB"
done
