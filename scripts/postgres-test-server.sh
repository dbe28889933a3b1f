#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL cluster for the tests, on a local port.
#   scripts/postgres-test-server.sh start   # prints the URL to export as ORDERDESK_TEST_POSTGRES
#   scripts/postgres-test-server.sh stop
# Installs Debian's postgresql package when it is missing (needs root, as in CI).
set -euo pipefail
DATA=${PGTEST_DATA:-/tmp/orderdesk-pgtest}
PORT=${PGTEST_PORT:-54329}

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

case "${1:-}" in
start)
  if [ -z "$(bin_dir)" ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  BIN=$(bin_dir)
  # initdb and postgres refuse to run as root: the cluster belongs to a plain user.
  RUN=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    RUN=(runuser -u postgres --)
  fi
  if [ -f "$DATA/postmaster.pid" ]; then "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA" stop -m fast >/dev/null || true; fi
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$DATA"
  "${RUN[@]}" "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
  ;;
stop)
  BIN=$(bin_dir)
  RUN=()
  [ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
  if [ -f "$DATA/postmaster.pid" ]; then "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA" stop -m fast >/dev/null; fi
  rm -rf "$DATA"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
