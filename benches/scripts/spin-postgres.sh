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
[ -x "$load" ] || { echo "no $load: cargo build --release -p newsfeed-load" >&2; exit 1; }
duration=${DURATION:-10}
pid=
stop_hosts() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi; }
pg_port=${PG_PORT:-5497}
source "$(dirname "$0")/start-postgres.sh"

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
