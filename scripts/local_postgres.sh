# Sourced by the cluster and benchmark scripts: a PostgreSQL server of idv's own (Debian's
# postgresql-15), initdb'd into a directory, listening on 127.0.0.1 only (no Unix socket), run as
# the unprivileged `postgres` user when the script runs as root, stopped by its PID.
#
# start_local_postgres DIR PORT: initdb DIR when it is new, start the server, wait until it
# answers, create database "idv" when missing. Appends the server's PID to the array `pids` and
# sets pg_pid and pg_dsn ("host=127.0.0.1 port=PORT user=idv dbname=idv").
# Authentication is `trust` on loopback: for a demo on one machine, not for production.
pg_bin=/usr/lib/postgresql/15/bin

as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"
  else
    "$@"
  fi
}

start_local_postgres() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
  chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_pg_user "$pg_bin/initdb" -D "$dir" -U idv --auth=trust --locale=C -E UTF8 \
      --no-instructions > "$dir.initdb.log" 2>&1 || { cat "$dir.initdb.log" >&2; return 1; }
  fi
  # Started without a function or subshell in between, so $! is the postmaster itself.
  local server=("$pg_bin/postgres" -D "$dir" -c listen_addresses=127.0.0.1 -p "$port"
    -c unix_socket_directories= -c max_connections=200)
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=postgres --regid=postgres --clear-groups -- "${server[@]}" > "$dir.log" 2>&1 &
  else
    "${server[@]}" > "$dir.log" 2>&1 &
  fi
  pg_pid=$!
  pids+=("$pg_pid")
  for _ in $(seq 300); do
    if "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then break; fi
    if ! kill -0 "$pg_pid" 2>/dev/null; then cat "$dir.log" >&2; return 1; fi
    sleep 0.1
  done
  "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" || { cat "$dir.log" >&2; return 1; }
  if ! psql -h 127.0.0.1 -p "$port" -U idv -d postgres -Atc \
      "SELECT 1 FROM pg_database WHERE datname = 'idv'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$port" -U idv -d postgres -qc "CREATE DATABASE idv"
  fi
  pg_dsn="host=127.0.0.1 port=$port user=idv dbname=idv"
}
