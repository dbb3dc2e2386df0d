#!/usr/bin/env bash
# Instructions the host executes per `GET /participant/{id}`, counted by
# valgrind's callgrind: a figure that does not move with machine noise, for
# judging a change to the per-request path.
#
#   benches/scripts/instructions.sh LABEL NEWSFEED_BINARY [newsfeed up flags...]
#
# The host runs under callgrind; after a warm-up, its counters are zeroed,
# REQUESTS sequential requests are sent on one keep-alive connection, and
# the counters are dumped: instructions in every thread of the host,
# divided by the number of requests.
set -euo pipefail
label=$1 binary=$2
shift 2
port=${PORT:-3900}
requests=${REQUESTS:-2000}
out=$(mktemp -d)
valgrind_binary=$out/newsfeed
# A wrapper, so that start-host.sh starts the host under callgrind.
cat > "$valgrind_binary" <<WRAP
#!/usr/bin/env bash
exec valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.out.%p --dump-instr=no "$(realpath "$binary")" "\$@"
WRAP
chmod +x "$valgrind_binary"
binary=$valgrind_binary
# The pool reserves address space for every instance slot; valgrind tracks
# each mapping, so keep the pool small. Cranelift's code from the start:
# with the default tiers, a component not yet in the compile cache would be
# compiled again by Cranelift in the background, inside the counted window.
set -- --max-instances 4 --compiler cranelift "$@"
. "$(dirname "$0")/start-host.sh"
url="http://127.0.0.1:$port/participant/1"
urls() { for _ in $(seq "$1"); do printf '%s\n' "url = \"$url\""; printf 'output = "/dev/null"\n'; done; }
curl -s -K <(urls 200) # warm-up
callgrind_control --zero "$pid" > /dev/null 2>&1
curl -s -K <(urls "$requests")
callgrind_control --dump "$pid" > /dev/null 2>&1
total=$(cat "$out"/callgrind.out.* | awk '/^summary:/ {sum += $2} END {print sum}')
awk -v l="$label" -v t="$total" -v r="$requests" \
    'BEGIN { printf "%-14s %12.0f instructions/request (%d requests)\n", l, t / r, r }'
if [ -n "${KEEP:-}" ]; then cp "$out"/callgrind.out.* "$KEEP"/; fi
rm -rf "$out"
