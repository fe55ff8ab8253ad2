#!/usr/bin/env bash
# ctest Nppa.GoComputesTheSameVectors: Go's standard library (Debian's golang-go) computes
# tests/verifiers/nppa_kat.txt afresh, so the vectors idv's NPPA cryptography is tested against
# come from an implementation independent of OpenSSL and libsodium.
# Usage: nppa_kat_check.sh SOURCE_DIR
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=$work/cache GOFLAGS=
go run "$src/nppa_kat/main.go" > "$work/kat.txt"
diff -u "$src/nppa_kat.txt" "$work/kat.txt"
echo "PASS: Go computes the same NPPA vectors"
