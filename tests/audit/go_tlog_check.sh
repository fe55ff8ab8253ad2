#!/usr/bin/env bash
# ctest Audit.GoSumdbAcceptsIdvCheckpointsAndProofs: idv's checkpoints and proofs, checked by
# Go's golang.org/x/mod/sumdb (Debian's golang-go and golang-golang-x-mod-dev, GOPATH mode).
# Usage: go_tlog_check.sh AUDIT_VECTORS_BINARY SOURCE_DIR
set -euo pipefail
vectors=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=$work/cache GOFLAGS=
go build -o "$work/tlog_check" "$src/tlog_check/main.go"
for spec in "1 1" "7 3" "64 32" "100 37"; do
  read -r n m <<< "$spec"
  "$vectors" "$n" "$m" | "$work/tlog_check"
done
