#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` builds it; it is unpacked into a scratch root (the machine's
# own system is not touched) and checked: the programs, man pages, default configuration (a
# conffile), docs and systemd units are there; systemd-analyze finds nothing wrong in the units
# and rates their exposure OK; then the units' own command lines are run from the scratch root
# (paths mapped into it, ports made free): the simulator, then idvd with the packaged
# configuration, which creates its key and database in the state directories the unit declares,
# verifies a person through the packaged idvctl, and stops cleanly on SIGTERM. `cmake --install`
# with DESTDIR installs the same files.
# Usage: package_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
work=$(mktemp -d /tmp/idv-package-XXXXXX)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
source "$root/scripts/await_listening.sh"

(cd "$build" && cpack -G DEB -B "$work/pkg" > "$work/cpack.txt" 2>&1) ||
  fail "cpack: $(cat "$work/cpack.txt")"
deb=$(ls "$work"/pkg/idv_*_amd64.deb)
dpkg-deb -x "$deb" "$work/root"
r=$work/root
for f in usr/bin/idvd usr/bin/idvctl usr/bin/idv-registry-sim etc/idv/idvd.textproto \
  usr/lib/systemd/system/idvd.service usr/lib/systemd/system/idv-registry-sim.service \
  usr/share/man/man1/idvd.1.gz usr/share/man/man1/idvctl.1.gz usr/share/doc/idv/README.md \
  usr/share/doc/idv/proto/idv/v1/verification.proto; do
  [ -e "$r/$f" ] || fail "the package has no /$f"
done
zcat "$r/usr/share/man/man1/idvctl.1.gz" > "$work/idvctl.1"
grep -q '^\.TH IDVCTL "1"' "$work/idvctl.1" || fail "idvctl.1 is not a man page"
grep -q -- 'claim_file' "$work/idvctl.1" || fail "idvctl.1 lacks the flags"
[ "$(dpkg-deb -I "$deb" conffiles)" = "/etc/idv/idvd.textproto" ] || fail "conffiles"
dpkg-deb -f "$deb" Depends | grep -q libgrpc++ || fail "no shared-library dependencies"
"$r/usr/bin/idvd" --version | grep -qE '^idvd [0-9.]+ \(build ' || fail "idvd --version"

# The units: valid, and hardened.
mkdir -p "$work/units"
for unit in idvd idv-registry-sim; do
  sed "s|/usr/bin/|$r/usr/bin/|" "$r/usr/lib/systemd/system/$unit.service" \
    > "$work/units/$unit.service"
  out=$(systemd-analyze verify --man=no "$work/units/$unit.service" 2>&1) ||
    fail "systemd-analyze verify $unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
  score=$(systemd-analyze security --offline=true "$work/units/$unit.service" 2>&1 |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' ||
    fail "$unit's exposure level is ${score:-unknown}, not <= 2.0"
done

# The units' command lines, from the scratch root.
exec_start() { sed -n 's/^ExecStart=//p' "$r/usr/lib/systemd/system/$1.service"; }
state=$work/var/lib
grep -q '^StateDirectory=idv idv-keys idv-backups$' "$r/usr/lib/systemd/system/idvd.service" ||
  fail "the unit's state directories changed: update this test"
mkdir -p "$state/idv" "$state/idv-keys" "$state/idv-backups"
chmod 700 "$state"/*
read -r -a sim_cmd <<< "$(exec_start idv-registry-sim | sed "s|/usr/bin/|$r/usr/bin/|;
  s|--listen 127.0.0.1:7600|--listen 127.0.0.1:0|")"
"${sim_cmd[@]}" --export_csv "$work/pop.csv" > "$work/sim.log" 2>&1 &
pids+=($!)
sim=$(await_listening "$work/sim.log" "${pids[-1]}") || fail "the simulator did not start"
sed "s|/var/lib/|$state/|g; s|127.0.0.1:7600|$sim|; s|127.0.0.1:9464|127.0.0.1:0|;
     s|127.0.0.1:7443|127.0.0.1:0|" "$r/etc/idv/idvd.textproto" > "$work/idvd.textproto"
read -r -a idvd_cmd <<< "$(exec_start idvd | sed "s|/usr/bin/|$r/usr/bin/|;
  s|/etc/idv/idvd.textproto|$work/idvd.textproto|")"
"${idvd_cmd[@]}" > "$work/idvd.log" 2>&1 &
pids+=($!)
idvd=$(await_listening "$work/idvd.log" "${pids[-1]}") || fail "idvd did not start: $(cat "$work/idvd.log")"
[ "$(stat -c %s "$state/idv-keys/master.key")" = 32 ] || fail "no master key in idv-keys"
[ "$(stat -c %a "$state/idv-keys/master.key")" = 600 ] || fail "the master key is not 0600"
[ -e "$state/idv/admin.key" ] || fail "no admin key in the data directory"
IFS=, read -r _ number name _ < <(sed -n 2p "$work/pop.csv")
"$r/usr/bin/idvctl" --server "$idvd" --token_file "$state/idv/admin.key" verify --account pkg-1 \
  --number "$number" --name "$name" --bind > "$work/verify.txt" 2>&1 ||
  fail "verify through the package failed: $(cat "$work/verify.txt")"
grep -qE '^binding +BOUND$' "$work/verify.txt" || fail "not bound: $(cat "$work/verify.txt")"
console=$(grep -m1 -oE 'console on http://[0-9.:]+/console/' "$work/idvd.log" | sed 's/console on //')
[ -n "$console" ] || fail "the packaged configuration serves no console"
curl -fsS -o /dev/null "$console" || fail "the packaged idvd's console at $console did not answer"
"$r/usr/bin/idvctl" --server "$idvd" --token_file "$state/idv/admin.key" backup create pkg \
  > /dev/null || fail "backup into idv-backups failed"
[ -s "$state/idv-backups/pkg" ] || fail "the backup is not in idv-backups"
kill -TERM "${pids[1]}"
wait "${pids[1]}" || fail "idvd exited with an error on SIGTERM"
grep -q '"msg":"stopped"' "$work/idvd.log" || fail "idvd did not log a clean stop"

# cmake --install, into a DESTDIR.
DESTDIR=$work/destdir cmake --install "$build" --prefix /usr > "$work/install.txt" 2>&1 ||
  fail "cmake --install: $(cat "$work/install.txt")"
for f in usr/bin/idvd etc/idv/idvd.textproto usr/lib/systemd/system/idvd.service; do
  [ -e "$work/destdir/$f" ] || fail "cmake --install did not install /$f"
done
echo "PASS: the .deb installs and its units' command lines serve; exposure OK; cmake --install"
