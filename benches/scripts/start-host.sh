# Sourced by the measuring scripts: starts `$binary up` on 127.0.0.1:$port
# with a throwaway state dir and any further flags (the arguments given to
# `source`, else the script's own), waits until it serves, stops it on exit,
# and creates participant 1. Sets `pid` and `state`.
state=$(mktemp -d)
"$binary" up --listen "127.0.0.1:$port" --state-dir "$state" --compile-cache "${COMPILE_CACHE:-target/read-cost-cache}" "$@" \
    > "$state/out" 2> "$state/err" &
pid=$!
# SIGTERM drains the host; wait for it, so that the port is free for the next run.
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state"' EXIT
until grep -q Serving "$state/out" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { grep -v '^ ' "$state/err" >&2; exit 1; }
    sleep 0.2
done
curl -s -XPOST "127.0.0.1:$port/participant" -d '{"name":"bench"}' > /dev/null
