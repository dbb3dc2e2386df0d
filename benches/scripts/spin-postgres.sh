#!/usr/bin/env bash
# The PostgreSQL adapter under `newsfeed up --as-spin -f spin-postgres.toml`
# against the host's own PostgreSQL backend (`newsfeed up --database`), in
# one sitting, on one throwaway PostgreSQL server made here: GET
# /participant/{id} with wrk (64 connections, 10 s), then the classic mix
# (newsfeed-load, 32 users, 20% searchers, 20% readers, 10 s).
#
#   benches/scripts/spin-postgres.sh [NEWSFEED_BINARY]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:-$root/target/release/newsfeed}
load=${LOAD:-$root/target/release/newsfeed-load}
duration=${DURATION:-10}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d)
pid=
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    as_postgres "$bin/pg_ctl" -D "$work/data" -m immediate stop > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$work"
pg_port=${PG_PORT:-5497}
as_postgres "$bin/initdb" -D "$work/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 > /dev/null
as_postgres "$bin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
    -o "-k $work -c listen_addresses=127.0.0.1 -p $pg_port -c max_connections=200" start > /dev/null
psql() { "$bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "$1"; }

# measure LABEL MANIFEST DATABASE [newsfeed up flags...]
measure() {
    local label=$1 manifest=$2 database=$3
    shift 3
    psql "CREATE DATABASE $database"
    SPIN_VARIABLE_DB_URL="postgres://postgres@127.0.0.1:$pg_port/$database" \
    SPIN_VARIABLE_DB_HOST="127.0.0.1:$pg_port" \
        "$binary" up -f "$root/$manifest" --listen 127.0.0.1:3931 --state-dir "$work/state-$label" \
        --compile-cache "${COMPILE_CACHE:-$root/target/read-cost-cache}" "$@" > "$work/$label.out" 2> "$work/$label.err" &
    pid=$!
    until grep -q Serving "$work/$label.out" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$work/$label.err" >&2; exit 1; }
        sleep 0.2
    done
    curl -s -XPOST 127.0.0.1:3931/participant -d '{"name":"bench"}' > /dev/null
    echo "== $label: GET /participant/1"
    wrk -t2 -c64 -d"${duration}s" http://127.0.0.1:3931/participant/1 | grep -E "Requests/sec|Latency"
    "$load" run --base-url http://127.0.0.1:3931 --users 32 --searchers 0.2 --readers 0.2 --duration "$duration" \
        --warmup 0 --quiet --label "$label" --out "$label.json" > /dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
measure backend spin.toml backend --database "postgres://postgres@127.0.0.1:$pg_port/backend"
measure spin-postgres spin-postgres.toml spin --as-spin
"$load" compare backend.json spin-postgres.json
