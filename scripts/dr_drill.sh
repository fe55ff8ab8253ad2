#!/usr/bin/env bash
# Disaster-recovery drill (LevelDB): back up under load, destroy the data directory, restore, and
# check that nothing acknowledged before the backup was lost.
#
#   1. the registry simulator and idvd (the demo configuration, its master key kept apart from the
#      data directory as in production, backup.dir set) start; with RECORDS > 0 the store is
#      first filled with that many synthetic audit records (idv-audit-fill);
#   2. idv-load signs up fresh accounts with bind for LOAD_SECONDS, logging every acknowledged
#      answer; halfway, a signed checkpoint is saved outside idv, then `idvctl backup create`
#      runs while the load goes on;
#   3. idvd stops, the data directory is deleted, `idvctl backup restore` rebuilds it from the
#      backup and the master key, idvd starts on it;
#   4. every verification acknowledged before the backup started must be stored, and every
#      binding it made (idv-load --check_acks), and the restored audit log must verify against
#      the checkpoint kept outside (idvctl audit verify --trusted).
# With ENGINE=postgres the store is a PostgreSQL server of the drill's own, backed up with the
# engine's own tool instead (pg_basebackup, WAL streamed, taken under load), and "destroy" is
# its whole data directory; the check is the same. Either way the backup is searched for the
# master key and for plaintext ID numbers and names of the people who signed up: none may be in
# it (the master key is kept apart; a backup without it reveals nothing).
# Prints the figures (backup MB/s, restore time) and exits 1 when anything acknowledged is lost.
# Usage: [ENGINE=leveldb|postgres] scripts/dr_drill.sh [LOAD_SECONDS] [RECORDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
seconds=${1:-20}
records=${2:-0}
engine=${ENGINE:-leveldb}
# (The test suite runs it on binaries it built: IDV_DRILL_NO_BUILD=1.)
if [ -z "${IDV_DRILL_NO_BUILD:-}" ]; then
  "$root/scripts/build.sh" idvd idvctl idv-registry-sim idv-load idv-audit-fill > /dev/null
fi
work=$(mktemp -d /tmp/idv-drill-XXXXXX)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
source "$root/scripts/await_listening.sh"
idvctl() { "$build/cli/idvctl" --server "$idvd" --token_file "$work/vault/admin.key" "$@"; }
now_us() { date +%s%6N; }

mkdir -p "$work/vault"
"$build/verifiers/registry_sim/idv-registry-sim" --listen 127.0.0.1:0 --population 400000 \
  --export_csv "$work/pop.csv" > "$work/sim.log" 2>&1 &
pids+=($!)
sim=$(await_listening "$work/sim.log" "${pids[-1]}")
sed "s|target: \"127.0.0.1:7600\"|target: \"$sim\"|; s|\"./data/master.key\"|\"$work/vault/master.key\"|;
     s|\"./data|\"$work/data|g; s|\"./backups\"|\"$work/backups\"|; s|127.0.0.1:9464|127.0.0.1:0|" "$root/config/demo.textproto" \
  > "$work/idvd.textproto"
if [ "$engine" = postgres ]; then
  chmod 711 "$work"  # the server's user reaches its directory; the vault stays the operator's
  chmod 700 "$work/vault"
  source "$root/scripts/local_postgres.sh"
  pg_port=$((20000 + RANDOM % 20000))
  start_local_postgres "$work/pg" "$pg_port"
  echo "store { node_id: \"drill-1\" postgres { dsn: \"$pg_dsn\" } }" >> "$work/idvd.textproto"
fi

if [ "$records" -gt 0 ]; then
  echo "filling the store with $records audit records..."
  "$build/load-tests/idv-audit-fill" --config "$work/idvd.textproto" --records "$records" \
    --accounts 100000 > "$work/fill.log" 2>&1
fi

start_idvd() {
  "$build/services/idvd" --config "$work/idvd.textproto" --listen 127.0.0.1:0 \
    > "$work/idvd-$1.log" 2>&1 &
  idvd_pid=$!
  pids+=($idvd_pid)
  idvd=$(await_listening "$work/idvd-$1.log" "$idvd_pid")
}
start_idvd before
cp "$work/data/admin.key" "$work/vault/admin.key"  # the API key file lives with the operator

"$build/load-tests/idv-load" --target "$idvd" --token_file "$work/vault/admin.key" \
  --identities "$work/pop.csv" --scenario bind --concurrency 32 --duration "$seconds" \
  --warmup 0 --progress=false --json --ack_log "$work/acks.log" > "$work/load.json" 2>&1 &
load_pid=$!
pids+=($load_pid)
sleep "$((seconds / 2))"  # pacing: halfway through the load, not a synchronization

# A checkpoint kept outside idv, then the backup, while the load goes on.
idvctl --json audit checkpoint > "$work/checkpoint.json"
node=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["logs"][0]["node_id"])' \
  "$work/checkpoint.json")
python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["logs"][0]["checkpoint"])' \
  "$work/checkpoint.json" > "$work/vault/checkpoint.txt"
backup_started=$(now_us)
if [ "$engine" = postgres ]; then
  mkdir -p "$work/pgbackup"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$work/pgbackup"
  as_pg_user "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U idv -D "$work/pgbackup/base" \
    -X stream -c fast
  backup_done=$(now_us)
  bytes=$(du -sb "$work/pgbackup/base" | cut -f1)
  echo "{\"file_bytes\":$bytes,\"pairs\":0,\"audit_records\":$(
    psql -h 127.0.0.1 -p "$pg_port" -U idv -d idv -Atc 'SELECT count(*) FROM idv_audit')}" \
    > "$work/backup.json"
  backup_files="$work/pgbackup/base"
else
  idvctl --json backup create drill.idvbak > "$work/backup.json"
  backup_done=$(now_us)
  backup_files="$work/backups"
fi
wait "$load_pid" || { echo "the load run failed:"; cat "$work/load.json"; exit 1; }

# A backup holds neither the master key nor anyone's plaintext number or name.
python3 - "$backup_files" "$work/vault/master.key" "$work/pop.csv" "$work/acks.log" <<'PY'
import os, sys
backup, key_file, pop, acks = sys.argv[1:]
key = open(key_file, "rb").read()
people = [line.split(",") for line in open(pop, encoding="utf-8").read().splitlines()[1:]]
used = sum(1 for _ in open(acks))  # the bind scenario signs up people from the start of the file
needles = [key] + [p[1].encode() for p in people[:min(used, 300)]] + \
          [p[2].encode() for p in people[:min(used, 300)] if len(p[2]) >= 3]
for d, _, files in os.walk(backup):
    for f in files:
        data = open(os.path.join(d, f), "rb").read()
        for n in needles:
            if n in data:
                sys.exit(f"{os.path.join(d, f)} holds the master key or a plaintext number or name")
print(f"the backup holds neither the master key nor any of {len(needles) - 1} numbers and names")
PY

kill -TERM "$idvd_pid"
wait "$idvd_pid" 2>/dev/null || true
if [ "$engine" = postgres ]; then
  kill -INT "$pg_pid"
  wait "$pg_pid" 2>/dev/null || true
  echo "destroying $work/pg and $work/data"
  rm -rf "$work/pg" "$work/data"
  restore_started=$(now_us)
  cp -a "$work/pgbackup/base" "$work/pg"
  start_local_postgres "$work/pg" "$pg_port"
  restore_done=$(now_us)
else
  echo "destroying $work/data"
  rm -rf "$work/data"
  restore_started=$(now_us)
  "$build/cli/idvctl" backup restore "$work/backups/drill.idvbak" \
    --master_key "$work/vault/master.key" --data_dir "$work/data" > "$work/restore.txt"
  restore_done=$(now_us)
  cat "$work/restore.txt"
fi
start_idvd after

check=$("$build/load-tests/idv-load" --target "$idvd" --token_file "$work/vault/admin.key" \
  --check_acks "$work/acks.log" --acked_before "$backup_started") || lost=1
echo "acknowledged before the backup: $check"
# The control: what was acknowledged after the backup finished is not in it, and the check says so.
control=$("$build/load-tests/idv-load" --target "$idvd" --token_file "$work/vault/admin.key" \
  --check_acks "$work/acks.log" --acked_after "$backup_done" 2>/dev/null) && {
  echo "the check found nothing missing among the writes acknowledged after the backup: it is broken"
  exit 1
}
echo "acknowledged after the backup (not in it, as expected): $control"
intact=0
idvctl audit verify "$node" --trusted "$work/vault/checkpoint.txt" > "$work/verify.txt" || intact=1

python3 - "$work" "$backup_started" "$backup_done" "$restore_started" "$restore_done" <<'PY'
import json, sys
work, b0, b1, r0, r1 = sys.argv[1], *map(int, sys.argv[2:])
backup = json.load(open(f"{work}/backup.json"))
load = json.load(open(f"{work}/load.json"))
mb = int(backup["file_bytes"]) / 1e6
print(f"load: {load['calls']} sign-ups in the run, {load['throughput']:.0f}/s")
print(f"backup: {mb:.1f} MB, {backup['pairs']} pairs, {backup['audit_records']} audit records, "
      f"{(b1 - b0) / 1e6:.2f} s ({mb / ((b1 - b0) / 1e6):.1f} MB/s, "
      f"{'pg_basebackup' if backup['pairs'] == 0 else 'idvctl to idvd and back'})")
print(f"restore: {(r1 - r0) / 1e6:.2f} s for {backup['audit_records']} audit records")
PY
if [ "$intact" -ne 0 ]; then
  echo "the restored audit log does not verify against the checkpoint kept outside:"
  cat "$work/verify.txt"
  exit 1
fi
echo "the restored audit log verifies against the checkpoint kept outside"
if [ "${lost:-0}" -ne 0 ]; then echo "DRILL FAILED: acknowledged writes were lost"; exit 1; fi
echo "drill passed: 0 acknowledged writes lost"
