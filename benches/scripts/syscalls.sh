#!/usr/bin/env bash
# Memory-management system calls per `GET /participant/{id}`: strace -c -f
# attached to a running host for 5 s of wrk load.
#
#   benches/scripts/syscalls.sh LABEL NEWSFEED_BINARY [newsfeed up flags...]
set -euo pipefail
label=$1 binary=$2
shift 2
port=${PORT:-3940}
. "$(dirname "$0")/start-host.sh"
url="http://127.0.0.1:$port/participant/1"
wrk -t2 -c16 -d2s "$url" > /dev/null # warm-up
strace -c -f -q -e trace=mmap,munmap,mprotect,madvise,ioctl -p "$pid" -o "$state/strace" &
tracer=$!
sleep 1
requests=$(wrk -t2 -c16 -d5s "$url" | awk '/requests in/ {print $1}')
kill -INT $tracer; wait $tracer 2>/dev/null || true
awk -v l="$label" -v r="$requests" '$NF ~ /^(mmap|munmap|mprotect|madvise|ioctl)$/ {
    printf "%s %s: %.2f/req\n", l, $NF, $4 / r }' "$state/strace"
echo "$label: $requests requests"
