#!/usr/bin/env bash
# The load profile against one mode of the host, with what group commit did
# during it: commits per second and the batch sizes, from /metrics.
#
#   benches/scripts/write-cost.sh LABEL SEARCHERS NEWSFEED_BINARY [newsfeed up flags...]
#
# SEARCHERS is the share of search users (0: writers only). The result is
# also saved as LABEL.json for `newsfeed-load compare`.
set -euo pipefail
label=$1 searchers=$2 binary=$3
shift 3
port=${PORT:-3901} metrics_port=$((${PORT:-3901} + 100))
load=${LOAD:-target/release/newsfeed-load}
[ -x "$load" ] || { echo "no $load: cargo build --release -p newsfeed-load" >&2; exit 1; }
source "$(dirname "$0")/start-host.sh" --metrics-listen "127.0.0.1:$metrics_port" "$@"
commits() { curl -s "127.0.0.1:$metrics_port/metrics" | awk '/^newsfeed_write_batch_size_count/ {print $2}'; }
writes() { curl -s "127.0.0.1:$metrics_port/metrics" | awk '/^newsfeed_write_batch_size_sum/ {print $2}'; }
"$load" run --base-url "http://127.0.0.1:$port" --users 32 --searchers "$searchers" --duration "${DURATION:-10}" \
    --warmup 0 --quiet --label "$label" --out "$label.json" | grep -E "create_post|all"
seconds=${DURATION:-10}
c=$(commits) w=$(writes)
echo "$label: $c commits for $w writes: $(awk -v c="$c" -v w="$w" -v s="$seconds" 'BEGIN {printf "%.0f commits/s, %.1f writes a commit", c / s, w / c}')"
curl -s "127.0.0.1:$metrics_port/metrics" | grep '^newsfeed_write_batch_size_bucket' | tr '\n' ' '; echo
