#!/usr/bin/env bash
# A throwaway PostgreSQL server for the journey-store tests.
#
#   eval "$(scripts/pg.sh start)"   # initdb a cluster in a temp folder, start it on 127.0.0.1:<free port>,
#                                   # print `export GAELP_TEST_PG_URL=...` and `export GAELP_TEST_PG_DIR=...`
#   scripts/pg.sh stop [DIR]        # stop the server of $GAELP_TEST_PG_DIR (or DIR) and remove the folder
#
# Only the export lines go to stdout; progress and errors go to stderr. When no PostgreSQL can be had,
# `start` prints nothing to stdout and exits 1: the PostgreSQL tests then skip with a loud message.
# PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user (or `nobody`).
set -euo pipefail

say() { echo "pg.sh: $*" >&2; }

find_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return
    fi
  done
  return 1
}

server_user() {
  if [ "$(id -u)" != 0 ]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    echo nobody
  fi
}

as_user() {  # as_user USER CMD...: run CMD as USER (directly when that is us)
  local user=$1
  shift
  if [ "$(id -un)" = "$user" ]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$user" -- "$@"
  else
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
  fi
}

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

start() {
  local bin
  if ! bin=$(find_bin); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "no PostgreSQL binaries found; installing the postgresql package with apt-get"
      (apt-get install -y postgresql >&2 || { apt-get update >&2 && apt-get install -y postgresql >&2; }) || true
    fi
    if ! bin=$(find_bin); then
      say "no PostgreSQL (initdb/pg_ctl) on this machine; the PostgreSQL tests will be skipped"
      exit 1
    fi
  fi
  local user dir port
  user=$(server_user)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/gaelp-pg.XXXXXX")
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown "$user" "$dir"
  port=$(free_port)
  # fsync off: a throwaway test cluster; the store's crash tests kill the client, not the server.
  if ! as_user "$user" "$bin/initdb" -D "$dir/data" -U gaelp -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
    say "initdb failed:"; cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1
  fi
  if ! as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=100" start >&2; then
    say "the server did not start:"; cat "$dir/server.log" >&2; rm -rf "$dir"; exit 1
  fi
  if ! as_user "$user" "$bin/createdb" -h 127.0.0.1 -p "$port" -U gaelp gaelp >&2; then
    say "createdb failed"; as_user "$user" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
    rm -rf "$dir"; exit 1
  fi
  say "PostgreSQL running on 127.0.0.1:$port (data in $dir)"
  echo "export GAELP_TEST_PG_URL=postgresql+psycopg://gaelp@127.0.0.1:$port/gaelp"
  echo "export GAELP_TEST_PG_DIR=$dir"
}

stop() {
  local dir=${1:-${GAELP_TEST_PG_DIR:-}}
  if [ -z "$dir" ]; then
    say "nothing to stop (GAELP_TEST_PG_DIR is unset and no folder was given)"
    return 0
  fi
  case "$dir" in
    */gaelp-pg.*) ;;
    *) say "refusing to remove $dir: not a folder made by 'pg.sh start'"; exit 1 ;;
  esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    local bin owner
    bin=$(find_bin)
    owner=$(stat -c %U "$dir/data")
    as_user "$owner" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || say "pg_ctl stop failed"
  fi
  rm -rf "$dir"
  say "stopped and removed $dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop [DIR]" >&2; exit 2 ;;
esac
