#!/usr/bin/env bash
# The console's checked-in build (console/dist, which idvd embeds) is what its sources build to:
# the locked packages are installed into BUILD_DIR/console, the sources copied beside them and
# built with Vite, and the output compared file by file.
# Usage: console_assets_test.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1 build=$2
work=$(mktemp -d /tmp/idv-console-assets-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
source "$root/scripts/npm_ci.sh"
dest=$build/console
npm_ci_into "$root/console" "$dest"
rm -rf "$dest/src" "$dest/dist"
cp -r "$root/console/src" "$root/console/index.html" "$root/console/vite.config.js" "$dest/"
(cd "$dest" && node_modules/.bin/vite build --logLevel error > "$work/vite.txt" 2>&1) ||
  fail "vite build failed: $(cat "$work/vite.txt")"
diff -r "$root/console/dist" "$dest/dist" > "$work/diff.txt" ||
  fail "console/dist is not what console/src builds to; run 'cd console && npm ci && npm run build' and commit dist/:
$(head -20 "$work/diff.txt")"
echo "PASS: console/dist ($(find "$dest/dist" -type f | wc -l) files) is what the sources build to"
