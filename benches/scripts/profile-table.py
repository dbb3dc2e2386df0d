#!/usr/bin/env python3
"""Groups a callgrind dump's instructions into the parts of a request.

    benches/scripts/profile-table.py REQUESTS callgrind.out.PID...

Reads the dumps that `KEEP=dir benches/scripts/instructions.sh` keeps, and
prints each group's instructions per request. Every function's own (self)
instructions go to one group, by its name (first match below). A function
of no group of its own (the allocator, memset and memcpy, `core`/`alloc`
helpers, the resource table) passes its instructions on to its callers, in
proportion to what each caller's calls to it cost, so that a `memset` done
while instantiating counts as instantiation. The groups sum to the total.
"""
import re
import sys
from collections import defaultdict

GROUPS = [
    # The guest's own code, and the adapters and trampolines compiled with
    # it: code with no symbol, in no object file (wasmtime's JIT code).
    ("guest", None),
    ("wasi-http", r"wasmtime_wasi_http|wasmtime_wasi_io|HyperOutgoingBody|HyperIncomingBody|http_body_util|wasi::io::streams"),
    ("wasi-ctx", r"wasmtime_wasi::|WasiCtx|cap_rand|rand_chacha|rand_core|chacha20|HostState::new|drop_in_place<newsfeed::wasm::host_state::HostState>"),
    ("store", r"sqlite3|rusqlite|newsfeed::store|newsfeed::wasm::feed|newsfeed_sql|fallible_streaming_iterator"),
    ("telemetry", r"newsfeed::metrics|prometheus|newsfeed::telemetry|tracing|opentelemetry"),
    ("calls", r"component::func|traphandlers|wasmtime_internal_fiber|runtime::fiber|runtime::func::|HostFn|LowerContext|LiftContext|typed::|options_memory|validate_scope_exit|Instance::options|trampoline"),
    ("instantiation", r"wasmtime::runtime::(store|instance|vm|module|component::(instance|component|linker|store|resources))|wasmtime::runtime::instantiate|wasmtime_environ|cranelift_bforest|InstancePre|StoreInner|Store<|newsfeed::wasm::memory|CompiledModule|pooling|wasmtime::runtime::"),
    ("ours", r"newsfeed::wasm::function|newsfeed::wasm::lean|newsfeed::function"),
    ("hyper", r"hyper|httparse|^http::|<http::|http::header|newsfeed::http|mio::|tokio::net|tokio::io|newsfeed::spin::routing|h1::"),
    ("tokio", r"tokio::"),
]
GENERIC = r"^(core|alloc|std)::|^<(core|alloc|std)::|__rust|__rdl|^_int_|^malloc|^free|^realloc|^calloc|memset|memcpy|memmove|memcmp|hashbrown|ResourceTable|smallvec|indexmap|drop_in_place|^<alloc|^<core|arena|tcache|^cfree|^__libc|^0x|bytes::"
NAMES = {
    "guest": "the guest's own code (and its compiled adapters)",
    "wasi-http": "wasi-http resources and streams",
    "wasi-ctx": "WASI context: set-up, drop, and the WASI calls",
    "store": "host calls to the store (SQLite)",
    "telemetry": "metrics and telemetry (tracing spans, CPU meter)",
    "calls": "component calls: lift/lower, fibers, trampolines",
    "instantiation": "instantiation (store, pool, instance) and drop",
    "ours": "our call path (wasm/function.rs, lean.rs)",
    "hyper": "hyper and the HTTP server (routing, timeouts)",
    "tokio": "tokio's scheduler",
    "other": "other",
}

def parse(paths):
    self_cost = defaultdict(int)
    calls = defaultdict(lambda: defaultdict(int))  # callee -> caller -> cost
    obj_of = {}
    for path in paths:
        names, objs = {}, {}
        ob = fn = cob = cfn = None
        pending = False
        def resolve(table, value):
            m = re.match(r"\((\d+)\)(?: (.*))?", value)
            if not m:
                return value
            if m.group(2) is not None:
                table[m.group(1)] = m.group(2)
            return table[m.group(1)]
        for line in open(path, errors="replace"):
            line = line.rstrip("\n")
            if not line:
                continue
            head = line.split("=", 1)
            key = head[0] if len(head) == 2 else None
            if key == "ob":
                ob = resolve(objs, head[1])
            elif key == "fn":
                fn = resolve(names, head[1])
                obj_of.setdefault(fn, ob)
                cob = None
            elif key == "cob":
                cob = resolve(objs, head[1])
            elif key == "cfn":
                cfn = resolve(names, head[1])
                obj_of.setdefault(cfn, cob if cob is not None else ob)
            elif key == "calls":
                pending = True
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                pass
            elif line[0] in "0123456789+-*" and fn is not None:
                cost = int(line.split()[-1])
                if pending:
                    calls[cfn][fn] += cost
                    pending = False
                else:
                    self_cost[fn] += cost
    return self_cost, calls, obj_of

def main():
    requests = int(sys.argv[1])
    self_cost, calls, obj_of = parse(sys.argv[2:])
    compiled = [(g, re.compile(r) if r else None) for g, r in GROUPS]
    generic = re.compile(GENERIC)

    def own_group(fn):
        if obj_of.get(fn) == "???" or (obj_of.get(fn) or "").endswith("???"):
            if fn.startswith("0x"):
                return "guest"
        for group, pattern in compiled:
            if pattern is not None and pattern.search(fn):
                return group
        return None if generic.search(fn) else "other"

    memo = {}
    def dist(fn, depth=0, seen=frozenset()):
        if fn in memo:
            return memo[fn]
        group = own_group(fn)
        if group is not None:
            result = {group: 1.0}
        elif depth > 12 or fn in seen or not calls.get(fn):
            result = {"other": 1.0}
        else:
            callers = {c: v for c, v in calls[fn].items() if c != fn}
            total = sum(callers.values())
            result = defaultdict(float)
            if total == 0:
                result["other"] = 1.0
            for caller, cost in callers.items():
                for g, share in dist(caller, depth + 1, seen | {fn}).items():
                    result[g] += share * cost / total
            result = dict(result)
        if depth == 0:
            memo[fn] = result
        return result

    totals = defaultdict(float)
    for fn, cost in self_cost.items():
        for group, share in dist(fn).items():
            totals[group] += cost * share
    total = sum(self_cost.values())
    print(f"| part of the request | instructions/request | share |")
    print(f"|---|---:|---:|")
    for group in [g for g, _ in GROUPS] + ["other"]:
        value = totals.get(group, 0.0)
        print(f"| {NAMES[group]} | {value / requests:,.0f} | {100 * value / total:.1f}% |")
    print(f"| **total** | **{total / requests:,.0f}** | 100% |")

main()
