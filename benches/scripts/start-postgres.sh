# Sourced by the PostgreSQL benchmarks: makes and starts a throwaway
# PostgreSQL server in a temporary dir `$work` on 127.0.0.1:$pg_port (as the
# `postgres` user when run as root: initdb refuses root), defines `psql SQL`,
# and stops and deletes it on exit, after calling `stop_hosts` (which the
# sourcing script defines).
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    stop_hosts
    as_postgres "$bin/pg_ctl" -D "$work/data" -m immediate stop > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; fi
as_postgres "$bin/initdb" -D "$work/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 > /dev/null
as_postgres "$bin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
    -o "-k $work -c listen_addresses=127.0.0.1 -p $pg_port -c max_connections=200" start > /dev/null
psql() { "$bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "$1"; }
