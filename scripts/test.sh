#!/usr/bin/env bash
# Installs what is missing, builds idv (and its fuzzers) and runs the whole test suite through
# ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IDV_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
"$root/scripts/fuzz.sh" build  # the clang/libFuzzer build the Fuzz.* test runs
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600
