#!/usr/bin/env bash
# Per-request cost of `GET /participant/{id}` on a running mode of the host:
# req/s under wrk, and the server's CPU time and minor page faults per
# request, read from /proc/PID/stat around the measured run.
#
#   benches/scripts/read-cost.sh LABEL NEWSFEED_BINARY [newsfeed up flags...]
#
# With FEED=N, the read is the first page (100 items) of participant 1's
# feed instead, after participant 2, its friend, has posted N posts of the
# load profile's size (150 words). Run it from another checkout with that
# checkout's binary to compare the same read on another version.
#
# Run the modes to compare one after another in one sitting; compare ratios.
set -euo pipefail
label=$1 binary=$2
shift 2
port=${PORT:-3900}
duration=${DURATION:-10}
. "$(dirname "$0")/start-host.sh"
url="http://127.0.0.1:$port/participant/1"
if [ -n "${FEED:-}" ]; then
    base="http://127.0.0.1:$port"
    curl -s -XPOST "$base/participant" -d '{"name":"poster"}' > /dev/null
    curl -s -XPOST "$base/participant/1/friends" -d '{"to":"/participant/2"}' > /dev/null
    story=$(printf 'word%.0s ' $(seq 150))
    for i in $(seq "$FEED"); do
        curl -s -XPOST "$base/participant/2/outbound" \
            -d "{\"subject\":\"post $i of the feed\",\"story\":\"$story\",\"occurred\":\"2026-12-04\"}" > /dev/null
    done
    url="$base/participant/1/inbound"
fi
wrk -t2 -c64 -d3s "$url" > /dev/null # warm-up
# /proc/PID/stat: field 10 minflt, 14 utime, 15 stime (clock ticks).
read -r minflt0 utime0 stime0 < <(awk '{print $10, $14, $15}' "/proc/$pid/stat")
out=$(wrk -t2 -c64 -d"${duration}s" "$url")
read -r minflt1 utime1 stime1 < <(awk '{print $10, $14, $15}' "/proc/$pid/stat")
requests=$(echo "$out" | awk '/requests in/ {print $1}')
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
ticks=$(getconf CLK_TCK)
awk -v l="$label" -v r="$requests" -v rps="$rps" -v f=$((minflt1 - minflt0)) -v u=$((utime1 - utime0)) \
    -v s=$((stime1 - stime0)) -v t="$ticks" 'BEGIN {
    printf "%-14s %10.0f req/s  CPU %6.1f us/req (user %6.1f, kernel %6.1f)  %6.2f minor faults/req\n",
        l, rps, (u + s) / t * 1e6 / r, u / t * 1e6 / r, s / t * 1e6 / r, f / r }'
