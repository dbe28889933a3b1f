#!/usr/bin/env bash
# `make test` and `make test-fast`: the suite on both engines; the arguments go to pytest.
#
# The PostgreSQL half runs on the server ORDERDESK_TEST_POSTGRES names when it is set
# (set and empty: SQLite only). Otherwise this starts a throw-away cluster of its own
# (scripts/postgres-test-server.sh, in a new folder on a free port, so it never touches
# another cluster) and stops it afterwards, whether the tests pass, fail or are
# interrupted. When none can be started, one line says so before the tests and the
# PostgreSQL half is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python

if [ -n "${ORDERDESK_TEST_POSTGRES+set}" ]; then
  if [ -z "$ORDERDESK_TEST_POSTGRES" ]; then
    echo "make test: ORDERDESK_TEST_POSTGRES is empty: the PostgreSQL half of the suite is SKIPPED" >&2
  fi
else
  PGTEST_DATA=$(mktemp -d /tmp/orderdesk-pgtest-make.XXXXXX)
  PGTEST_PORT=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  export PGTEST_DATA PGTEST_PORT
  started_log=$PGTEST_DATA.log
  stop_postgres() {
    scripts/postgres-test-server.sh stop >/dev/null 2>&1 ||
      echo "make test: the throw-away PostgreSQL in $PGTEST_DATA did not stop cleanly" >&2
    [ -f "$PGTEST_DATA/postmaster.pid" ] || rm -rf "$PGTEST_DATA"
    rm -f "$started_log"
  }
  trap stop_postgres EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if url=$(scripts/postgres-test-server.sh start 2>"$started_log"); then
    export ORDERDESK_TEST_POSTGRES=$url
    echo "make test: PostgreSQL half on a throw-away cluster at $url (stopped afterwards)" >&2
  else
    reason=$(tail -n 1 "$started_log")
    echo "make test: could not start a throw-away PostgreSQL (${reason:-no reason given}): the PostgreSQL half of the suite is SKIPPED; set ORDERDESK_TEST_POSTGRES to a server URL to run it" >&2
    export ORDERDESK_TEST_POSTGRES=
  fi
fi

"$py" -m pytest "$@"
