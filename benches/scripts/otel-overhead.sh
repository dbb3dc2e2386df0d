#!/usr/bin/env bash
# What OpenTelemetry export costs in throughput (issue 27), in one sitting:
# req/s on `GET /participant/1` (wrk) and on the classic mix (newsfeed-load,
# default users) for
#   baseline  the code before telemetry, no OTEL_* set: BASELINE_DIR is a
#             checkout of it with its own target/release/newsfeed and
#             components built, run from there (`-`: not measured)
#   off       NEWSFEED_BINARY, no OTEL_* set
#   on-100    NEWSFEED_BINARY exporting to a real OTLP/HTTP receiver
#             (the otlp-sink example, decoding every export), always_on
#   on-1      the same, sampler traceidratio 0.01
# ROUNDS rounds (default 2), the modes interleaved within each round, so that
# a drift of the machine touches every mode alike. For the reads, it also
# prints the CPU a request of the host and of the receiver (from
# /proc/PID/stat around the wrk run): with everything on two cores, what
# the receiver spends decoding is taken from the host's throughput too.
#
#   cargo build --release -p newsfeed -p newsfeed-load --bins --example otlp-sink
#   benches/scripts/otel-overhead.sh BASELINE_DIR target/release/newsfeed
set -euo pipefail
baseline_dir=$1 newsfeed=$(realpath "$2")
[ "$baseline_dir" = - ] || baseline_dir=$(realpath "$baseline_dir")
port=${PORT:-3950} sink_port=$((${PORT:-3950} + 1))
duration=${DURATION:-10} rounds=${ROUNDS:-2}
load=$(realpath "${LOAD:-target/release/newsfeed-load}")
start_host=$(realpath "$(dirname "$0")/start-host.sh")
sink=${SINK:-target/release/examples/otlp-sink}
"$sink" "127.0.0.1:$sink_port" > /tmp/otlp-sink.out &
sink_pid=$!
trap 'kill $sink_pid 2>/dev/null' EXIT
endpoint="http://127.0.0.1:$sink_port"

# CPU time (user + system) of process $1 so far, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One mode: its binary, then env assignments; prints
# "mode read_rps mix_rps host_us receiver_us" (CPU µs a read request).
measure() {
    local mode=$1 binary=$2
    shift 2
    (
        for assignment in "$@"; do export "${assignment?}"; done
        set -- # start-host.sh passes the positional parameters to `newsfeed up`
        # The baseline serves its own components, from its own checkout.
        [ "$mode" = baseline ] && cd "$baseline_dir"
        source "$start_host"
        url="http://127.0.0.1:$port/participant/1"
        wrk -t2 -c64 -d2s "$url" > /dev/null # warm-up
        host0=$(ticks "$pid") sink0=$(ticks "$sink_pid")
        reads=$(wrk -t2 -c64 -d"${duration}s" "$url")
        host1=$(ticks "$pid") sink1=$(ticks "$sink_pid")
        read_rps=$(awk '/Requests\/sec/ {print $2}' <<< "$reads")
        requests=$(awk '/requests in/ {print $1}' <<< "$reads")
        cpu_us() { awk -v t="$1" -v r="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1e6 / hz / r }'; }
        "$load" run --base-url "http://127.0.0.1:$port" --duration "$duration" --warmup 2 --quiet \
            --label "$mode" --out "/tmp/otel-$mode.json" > /dev/null
        mix_rps=$(python3 -c "import json,sys; r=json.load(open('/tmp/otel-$mode.json')); print(round(sum(o['per_second'] for o in r['operations'].values())))")
        echo "$mode $read_rps $mix_rps $(cpu_us $((host1 - host0))) $(cpu_us $((sink1 - sink0)))"
    )
}

for round in $(seq "$rounds"); do
    [ "$baseline_dir" = - ] || measure baseline target/release/newsfeed
    measure off "$newsfeed"
    measure on-100 "$newsfeed" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_TRACES_SAMPLER=always_on
    measure on-1 "$newsfeed" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.01
done | tee /tmp/otel-overhead.txt
kill $sink_pid
wait $sink_pid 2>/dev/null || true
cat /tmp/otel-sink.out 2>/dev/null || cat /tmp/otlp-sink.out
# Each mode's best round, and the ratios the goals name.
awk '
function line(label, v) {
    base = v["baseline"] ? sprintf("baseline %.0f, off %.0f (%.3fx baseline)", v["baseline"], v["off"], v["off"] / v["baseline"]) : sprintf("off %.0f", v["off"])
    printf "%-20s %s, on-100 %.0f (%.3fx off), on-1 %.0f (%.3fx off)\n", label, base, v["on-100"], v["on-100"] / v["off"], v["on-1"], v["on-1"] / v["off"]
}
{ if ($2 > r[$1]) r[$1] = $2; if ($3 > m[$1]) m[$1] = $3; host[$1] += $4; sink[$1] += $5; n[$1]++ }
END {
    line("GET /participant/1:", r); line("classic mix:", m)
    for (mode in n) printf "CPU a read, %-8s host %.1f µs, receiver %.1f µs (mean of %d rounds)\n", mode, host[mode] / n[mode], sink[mode] / n[mode], n[mode]
}' /tmp/otel-overhead.txt
