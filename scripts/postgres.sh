#!/usr/bin/env bash
# A throwaway PostgreSQL for the store tests: Debian's postgresql, a fresh cluster in /tmp,
# on 127.0.0.1 and a free port, run as the `postgres` system user when started by root.
#
#   scripts/postgres.sh install   apt-get install postgresql when initdb is missing (root only)
#   scripts/postgres.sh start     initdb + pg_ctl start; prints `export INNONET_TEST_PG_URL=...`
#   scripts/postgres.sh stop      pg_ctl stop, remove the cluster
#
# Environment (optional): PG_PORT (default: a free port), PG_RUN_DIR (/tmp/innonet-pg-<uid>).
# The URL is a superuser URL with trust auth on loopback: tests create one database per test.
set -euo pipefail

PG_RUN_DIR="${PG_RUN_DIR:-/tmp/innonet-pg-$(id -u)}"
PG_DATA="$PG_RUN_DIR/data"
PG_LOG="$PG_RUN_DIR/postgres.log"

_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then echo "$newest"; return; fi
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return
  return 1
}

_as_owner() {  # run as `postgres` when we are root (initdb refuses root)
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cmd_install() {
  if _bindir >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: PostgreSQL is not installed and we are not root (apt-get install postgresql)" >&2
    return 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

cmd_start() {
  local bin port
  bin="$(_bindir)" || { echo "postgres.sh: no initdb found; run scripts/postgres.sh install" >&2; return 1; }
  if [ -f "$PG_RUN_DIR/port" ] && _as_owner "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    port="$(cat "$PG_RUN_DIR/port")"
  else
    rm -rf "$PG_RUN_DIR"
    mkdir -p "$PG_RUN_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_RUN_DIR"; fi
    port="${PG_PORT:-$(_free_port)}"
    _as_owner "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    _as_owner "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_RUN_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null
    echo "$port" >"$PG_RUN_DIR/port"
  fi
  echo "export INNONET_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
}

cmd_stop() {
  local bin
  bin="$(_bindir)" || return 0
  if [ -d "$PG_DATA" ]; then
    _as_owner "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_RUN_DIR"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
