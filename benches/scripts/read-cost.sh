#!/usr/bin/env bash
# Per-request cost of `GET /participant/{id}` on a running mode of the host:
# req/s under wrk, and the server's CPU time and minor page faults per
# request, read from /proc/PID/stat around the measured run.
#
#   benches/scripts/read-cost.sh LABEL NEWSFEED_BINARY [newsfeed up flags...]
#
# Run the modes to compare one after another in one sitting; compare ratios.
set -euo pipefail
label=$1 binary=$2
shift 2
port=${PORT:-3900}
duration=${DURATION:-10}
. "$(dirname "$0")/start-host.sh"
url="http://127.0.0.1:$port/participant/1"
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
