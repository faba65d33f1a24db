#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: `start DIR` creates one in DIR (initdb, as the
# `postgres` user when run as root, since PostgreSQL refuses to run as root), listening on
# 127.0.0.1 on a free port with its socket in DIR, creates the database `smsr_test`, and prints
# its URL; `stop DIR` stops that cluster (only it) and removes DIR. fsync is off (the cluster
# lives for one test run) unless PG_FSYNC=on (the benchmarks).
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
    user=$([ "$(id -u)" -eq 0 ] && echo postgres || id -un)
    as_owner "'$bin/initdb' -D '$dir/data' -A trust -U '$user' >'$dir/initdb.log' 2>&1"
    fsync_off=$([ "${PG_FSYNC:-off}" = on ] || echo -F)
    # A free port: a random one, another if the server cannot listen there.
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      port=$((20000 + RANDOM % 40000))
      if as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 30 -o \"-h 127.0.0.1 -p $port -k '$dir' $fsync_off\" start >/dev/null"; then
        break
      fi
      [ "$attempt" -lt 10 ] || { echo "postgres.sh: the server did not start; see $dir/server.log" >&2; exit 1; }
    done
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
