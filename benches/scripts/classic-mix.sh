#!/usr/bin/env bash
# The classic comparison, in one sitting: the classic load profile
# (newsfeed-load's defaults: 16 users, 20% of them searching, the rest
# posting and befriending; USERS, SEARCHERS and READERS change them) against newsfeed and against the Express-cluster and Flask
# peers of the original comparison, each on a fresh SQLite database, ROUNDS
# rounds (default 2) with the servers interleaved within each round, so that
# a drift of the machine touches each alike. Prints each run's requests per
# second and create_post/s, then each server's best round and its ratio to
# newsfeed's. Everything, the load driver included, shares the machine.
#
#   cargo build --release -p newsfeed -p newsfeed-load --bins
#   target/release/newsfeed build
#   benches/scripts/classic-mix.sh target/release/newsfeed PEERS_DIR
#
# PEERS_DIR holds express/run.sh and flask/run.sh (`run.sh PORT` serves a
# peer on 127.0.0.1:PORT); extra arguments go to `newsfeed up`. With
# BASELINE=DIR, a checkout of an earlier commit with its own
# target/release/newsfeed and components built, that version is measured
# too, from its own directory.
set -euo pipefail
binary=$(realpath "$1") peers=$(realpath "$2")
shift 2
port=${PORT:-3960} duration=${DURATION:-10} rounds=${ROUNDS:-2}
load=$(realpath "${LOAD:-target/release/newsfeed-load}")
cache=$(realpath -m "${COMPILE_CACHE:-target/read-cost-cache}")
profile=(--users "${USERS:-16}" --searchers "${SEARCHERS:-0.2}" --readers "${READERS:-0}" --duration "$duration" --warmup 2 --quiet)
out=$(mktemp -d)

# Prints "server all_rps create_post_rps" for one saved run.
summary() {
    python3 -c "import json,sys; r=json.load(open('$out/$1.json')); ops=r['operations']; print('$2', round(sum(o['per_second'] for o in ops.values())), round(ops.get('create_post', {}).get('per_second', 0)))"
}

# One run of the profile against a server started by "$@", in its own
# process group so that forked workers stop with it.
measure() {
    local name=$1 round=$2
    shift 2
    setsid "$@" > "$out/$name.log" 2>&1 &
    local group=$!
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/participant/1")" != 000 ]; do
        kill -0 $group 2>/dev/null || { cat "$out/$name.log" >&2; exit 1; }
        sleep 0.3
    done
    "$load" run --base-url "http://127.0.0.1:$port" "${profile[@]}" --label "$name" --out "$out/$name-$round.json" \
        > /dev/null
    kill -- -$group 2>/dev/null || true
    while kill -0 -- -$group 2>/dev/null; do sleep 0.2; done
    summary "$name-$round" "$name"
}

state=$(mktemp -d)
trap 'rm -rf "$state" "$out"' EXIT
for round in $(seq "$rounds"); do
    rm -rf "$state"/*
    measure newsfeed "$round" "$binary" up --listen "127.0.0.1:$port" --state-dir "$state" --compile-cache "$cache" "$@"
    if [ -n "${BASELINE:-}" ]; then
        rm -rf "$state"/*
        measure baseline "$round" sh -c 'cd "$1" && exec target/release/newsfeed up --listen "$2" --state-dir "$3"' \
            - "$BASELINE" "127.0.0.1:$port" "$state"
    fi
    measure express "$round" "$peers/express/run.sh" "$port"
    measure flask "$round" "$peers/flask/run.sh" "$port"
done | tee "$out/runs.txt"
awk '{ if ($2 > all[$1]) { all[$1] = $2; post[$1] = $3 } } END {
    for (s in all) printf "%-8s best %6d req/s (create_post %5d/s), %.2fx newsfeed is to it\n", s, all[s], post[s], all["newsfeed"] / all[s]
}' "$out/runs.txt"
