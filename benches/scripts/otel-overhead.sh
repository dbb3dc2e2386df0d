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
# prints the CPU a request of the host, of the host's export threads (the
# SDK's batch span processor and its HTTP client, from
# /proc/PID/task/*/stat) and of the receiver (from /proc/PID/stat), around
# the wrk run: with everything on two cores, what the exporter and the
# receiver spend is taken from the host's throughput too.
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
# CPU time of process $1's export threads so far (0 while export is off).
export_ticks() {
    local total=0 task
    for task in /proc/"$1"/task/*; do
        case $(cat "$task/comm") in
        OpenTelemetry.* | reqwest-interna*) total=$((total + $(awk '{print $14 + $15}' "$task/stat"))) ;;
        esac
    done
    echo $total
}

# One mode: its binary, then env assignments; prints
# "mode read_rps mix_rps host_us receiver_us export_us driver_us" (CPU µs
# a read request; export_us is part of host_us; driver_us is wrk's).
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
        host0=$(ticks "$pid") sink0=$(ticks "$sink_pid") export0=$(export_ticks "$pid")
        # wrk's own CPU too: it shares the cores, so it is in every ratio.
        reads=$( (/usr/bin/time -f "driver %U %S" wrk -t2 -c64 -d"${duration}s" "$url") 2>&1)
        host1=$(ticks "$pid") sink1=$(ticks "$sink_pid") export1=$(export_ticks "$pid")
        read_rps=$(awk '/Requests\/sec/ {print $2}' <<< "$reads")
        requests=$(awk '/requests in/ {print $1}' <<< "$reads")
        driver_us=$(awk -v r="$requests" '/^driver/ {printf "%.1f", ($2 + $3) * 1e6 / r}' <<< "$reads")
        cpu_us() { awk -v t="$1" -v r="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1e6 / hz / r }'; }
        "$load" run --base-url "http://127.0.0.1:$port" --duration "$duration" --warmup 2 --quiet \
            --label "$mode" --out "/tmp/otel-$mode.json" > /dev/null
        mix_rps=$(python3 -c "import json,sys; r=json.load(open('/tmp/otel-$mode.json')); print(round(sum(o['per_second'] for o in r['operations'].values())))")
        echo "$mode $read_rps $mix_rps $(cpu_us $((host1 - host0))) $(cpu_us $((sink1 - sink0))) $(cpu_us $((export1 - export0))) $driver_us"
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
# Each mode's best round and its mean, and the ratios the goals name.
awk '
function line(label, v) {
    base = v["baseline"] ? sprintf("baseline %.0f, off %.0f (%.3fx baseline)", v["baseline"], v["off"], v["off"] / v["baseline"]) : sprintf("off %.0f", v["off"])
    printf "%-20s %s, on-100 %.0f (%.3fx off), on-1 %.0f (%.3fx off)\n", label, base, v["on-100"], v["on-100"] / v["off"], v["on-1"], v["on-1"] / v["off"]
}
{ if ($2 > r[$1]) r[$1] = $2; if ($3 > m[$1]) m[$1] = $3; rs[$1] += $2; ms[$1] += $3; host[$1] += $4; sink[$1] += $5; export[$1] += $6; driver[$1] += $7; n[$1]++ }
END {
    line("GET /participant/1:", r); line("classic mix:", m)
    # The rounds spread widely on this kind of machine: the means too.
    for (mode in n) { rm[mode] = rs[mode] / n[mode]; mm[mode] = ms[mode] / n[mode] }
    line("mean of the rounds, GET /participant/1:", rm); line("mean of the rounds, classic mix:", mm)
    for (mode in n) printf "CPU a read, %-8s host %.1f µs (of which export threads %.1f), receiver %.1f µs, wrk %.1f µs (mean of %d rounds)\n", mode, host[mode] / n[mode], export[mode] / n[mode], sink[mode] / n[mode], driver[mode] / n[mode], n[mode]
    # Were making spans free, a sampled read would still cost the export
    # threads and the receiver on top of off (host and wrk, on the same two
    # cores): the most req/s at 100% can reach against off.
    if (n["off"] && n["on-100"]) {
        off = (host["off"] + driver["off"]) / n["off"]
        printf "ceiling at 100%%: (host + wrk) off / (that + export + receiver) = %.3fx\n", off / (off + (export["on-100"] + sink["on-100"]) / n["on-100"])
    }
}' /tmp/otel-overhead.txt
