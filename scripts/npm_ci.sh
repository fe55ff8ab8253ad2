# Sourced by the scripts and tests that run Node code: npm_ci_into SRC DEST installs SRC's locked
# packages (package.json and package-lock.json) into DEST/node_modules, once per lock file.
# Needs work and fail from the sourcing script.
npm_ci_into() {
  local src=$1 dest=$2
  mkdir -p "$dest"
  cmp -s "$src/package-lock.json" "$dest/.installed-lock.json" && return 0
  rm -rf "$dest/node_modules" "$dest/.installed-lock.json"
  cp "$src/package.json" "$src/package-lock.json" "$dest/"
  # npm ci refuses a lock that lacks some platform's optional packages (a registry mirror without
  # them writes such locks: Rollup's per-platform builds); npm install then takes the locked
  # versions and skips the optional packages it cannot find.
  (cd "$dest" && { npm ci --no-audit --no-fund --loglevel=error > "$work/npm.txt" 2>&1 ||
    { grep -q EUSAGE "$work/npm.txt" &&
      npm install --no-save --no-audit --no-fund --loglevel=error > "$work/npm.txt" 2>&1; }; }) ||
    fail "npm install in $dest failed: $(cat "$work/npm.txt")"
  cp "$src/package-lock.json" "$dest/.installed-lock.json"
}
