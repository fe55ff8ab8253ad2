#!/usr/bin/env bash
# Configures (once) and builds idv into ${IDV_BUILD_DIR:-build}. Arguments name targets to build;
# none builds everything, tests included. Uses ccache when present.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
# ccache hits across clones of the repository only when paths are taken relative to it.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${IDV_BUILD_TYPE:-RelWithDebInfo}"
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
