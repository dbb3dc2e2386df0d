#!/usr/bin/env bash
# The classic mix (32 users, 20% searchers, 20% readers) in one sitting
# against: one host on SQLite, one host on PostgreSQL, two hosts on one
# PostgreSQL (newsfeed-load spreading its users over both). The PostgreSQL
# server is a throwaway one, made and started here as the tests do.
#
#   benches/scripts/scale-out.sh [NEWSFEED_BINARY]
#
# Each result is also saved as LABEL.json for `newsfeed-load compare`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:-$root/target/release/newsfeed}
load=${LOAD:-$root/target/release/newsfeed-load}
[ -x "$load" ] || { echo "no $load: cargo build --release -p newsfeed-load" >&2; exit 1; }
duration=${DURATION:-10}
pids=()
pg_port=${PG_PORT:-5498}
source "$(dirname "$0")/start-postgres.sh"

# start_host PORT [flags...]: a host in the background, waiting until it serves.
start_host() {
    local port=$1 out="$work/host-$1"
    shift
    "$binary" up -f "$root/spin.toml" --listen "127.0.0.1:$port" --state-dir "$work/state-$port" \
        --compile-cache "${COMPILE_CACHE:-$root/target/read-cost-cache}" "$@" > "$out.out" 2> "$out.err" &
    pids+=($!)
    until grep -q Serving "$out.out" 2>/dev/null; do
        kill -0 "$!" 2>/dev/null || { cat "$out.err" >&2; exit 1; }
        sleep 0.2
    done
}
stop_hosts() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pids=()
}
# cpu PID...: their CPU seconds so far (user + system), from /proc.
cpu() {
    local ticks=0
    for pid in "$@"; do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}'
}
run() {
    local label=$1
    shift
    local urls=()
    for port in "$@"; do urls+=(--base-url "http://127.0.0.1:$port"); done
    local postgres
    postgres=$(pgrep -u postgres -d ' ' postgres || true)
    local hosts_before pg_before
    hosts_before=$(cpu "${pids[@]}") pg_before=$(cpu $postgres)
    "$load" run "${urls[@]}" --users 32 --searchers 0.2 --readers 0.2 --duration "$duration" --warmup 0 \
        --quiet --label "$label" --out "$label.json" > /dev/null
    postgres=$(pgrep -u postgres -d ' ' postgres || true)
    echo "   CPU seconds in $duration s: hosts $(awk -v a="$hosts_before" -v b="$(cpu "${pids[@]}")" 'BEGIN {print b - a}')," \
        "PostgreSQL $(awk -v a="$pg_before" -v b="$(cpu $postgres)" 'BEGIN {print b - a}') (of $((2 * duration)) on 2 cores)"
}

start_host 3911
echo "== one host, SQLite"; run sqlite-1 3911
stop_hosts

psql "CREATE DATABASE one"
start_host 3912 --database "postgres://postgres@127.0.0.1:$pg_port/one"
echo "== one host, PostgreSQL"; run postgres-1 3912
stop_hosts

psql "CREATE DATABASE two"
start_host 3913 --database "postgres://postgres@127.0.0.1:$pg_port/two"
start_host 3914 --database "postgres://postgres@127.0.0.1:$pg_port/two"
echo "== two hosts, one PostgreSQL"; run postgres-2 3913 3914
stop_hosts
"$load" compare sqlite-1.json postgres-1.json postgres-2.json
