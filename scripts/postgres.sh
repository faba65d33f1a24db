#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: `start DIR` creates one in DIR (initdb, as the
# `postgres` user when run as root, since PostgreSQL refuses to run as root), listening on
# 127.0.0.1 on a free port with its socket in DIR, creates the database `smsr_test`, and prints
# its URL; `stop DIR` stops that cluster (only it) and removes DIR. fsync is off: the cluster
# lives for one test run.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "postgres.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

case "${1:-}" in
  start)
    dir=$2
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    user=$([ "$(id -u)" -eq 0 ] && echo postgres || id -un)
    as_owner "'$bin/initdb' -D '$dir/data' -A trust -U '$user' >'$dir/initdb.log' 2>&1"
    as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-h 127.0.0.1 -p $port -k '$dir' -F\" start >/dev/null"
    as_owner "'$bin/createdb' -h 127.0.0.1 -p $port -U '$user' smsr_test"
    echo "postgres://$user@127.0.0.1:$port/smsr_test"
    ;;
  stop)
    dir=$2
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null" || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
    ;;
esac
