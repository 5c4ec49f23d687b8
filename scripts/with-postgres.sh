#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL server on 127.0.0.1.
#
# The server lives in a temporary directory, listens on a free port on loopback
# only, and is stopped (and its data removed) when the command ends, whatever
# its exit status.  The command sees EVOTE_TEST_POSTGRES_URL (a superuser URL
# the test fixtures use to create one database per test run and a restricted
# role for the server).
set -euo pipefail

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "with-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 2
fi

tmp=$(mktemp -d /tmp/evote-pg.XXXXXX)
chmod 755 "$tmp"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$tmp"; fi

cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$tmp/data" -U evote_admin --auth=trust -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=on -c max_connections=200" start >/dev/null

export EVOTE_TEST_POSTGRES_URL="postgresql+psycopg://evote_admin@127.0.0.1:$port/postgres"
export EVOTE_TEST_PGCTL="$PGBIN/pg_ctl"
export EVOTE_TEST_PGDATA="$tmp/data"
"$@"
