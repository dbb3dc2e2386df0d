//! Hot swap and the two compiler tiers (issue 25), over real HTTP against
//! the real `newsfeed` binary, in one sitting:
//!
//! 1. Winch and Cranelift compile times, per function (in this process,
//!    each engine as the host makes it, no cache);
//! 2. requests per second on `GET /participant/{id}`, with the host on
//!    Winch's code only (`--compiler winch`), then on Cranelift's;
//! 3. file-to-live: from a new wasm file renamed into place (as a build
//!    does) to the first answer from the new version, over SWAPS swaps;
//! 4. PUT-to-live: from sending `PUT /admin/functions/participant` to the
//!    first answer from the new version, over SWAPS swaps, with readers
//!    running throughout whose failed requests are counted; and the time
//!    until Cranelift's code takes over;
//! 5. rollback: the admin call's round trip, and the switch as the host
//!    reports it, over SWAPS rollbacks;
//! 6. cold start with no compile cache: from spawning `newsfeed up` to the
//!    first answer from a function, tiered and Cranelift-only.
//!
//! Each swapped version carries a custom section unique to this run, so
//! each swap compiles for real: the test harness's compile cache outlives
//! runs, and a repeated section would be a cache hit.
//!
//! `cargo bench --bench swap_latency`

#[path = "../tests/e2e/common/mod.rs"]
mod common;

use common::{built_wasm, Host};
use newsfeed::handler::Tier;
use newsfeed::limits::Limits;
use newsfeed::wasm::engine::new_engine;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SWAPS: usize = 10;
const TOKEN: &str = "bench-admin-token-0123456789";
/// How long each tier's request rate is measured, and by how many clients.
const RATE_FOR: Duration = Duration::from_secs(10);
const CLIENTS: usize = 4;
/// The functions of `spin.toml`.
const FUNCTIONS: [&str; 7] = ["participant", "friends", "outbound", "inbound", "search", "notfound", "web"];

/// `wasm` with a custom section appended: a valid, distinct component.
fn distinct_version(wasm: &[u8], run: u128, n: usize) -> Vec<u8> {
    let name = b"newsfeed-bench";
    let payload = format!("run {run} version {n}");
    let size = 1 + name.len() + payload.len();
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    out.push(u8::try_from(size).expect("a small section"));
    out.push(u8::try_from(name.len()).expect("a short name"));
    out.extend_from_slice(name);
    out.extend_from_slice(payload.as_bytes());
    out
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// "p50 X ms, max Y ms" of `samples`.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "p50 {:.1} ms, min {:.1} ms, max {:.1} ms (n = {})",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

fn admin(host: &Host, method: &str, path: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let url = format!("{}{path}", host.admin.as_ref().unwrap());
    let response = client.request(method, url).bearer_auth(TOKEN).body(body).send().unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().unwrap()).unwrap())
}

fn tier_of(host: &Host, function: &str) -> String {
    let (_, list) = admin(host, "GET", "/admin/functions", vec![]);
    let entry = list.as_array().unwrap().iter().find(|f| f["name"] == function).unwrap().clone();
    entry["tier"].as_str().unwrap_or("none").to_string()
}

/// Waits until `host` answers `GET /participant/{id}` from the tagged
/// variant (or not), and gives the time since `since`.
fn live(host: &Host, id: i64, tagged: bool, since: Instant) -> Duration {
    loop {
        let answer = host.get(&format!("/participant/{id}"));
        assert_eq!(answer.status, 200);
        if answer.headers.contains_key("x-newsfeed-variant") == tagged {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(60), "the new version never showed");
    }
}

fn compile_times(run: u128) {
    println!("## Compile time per function (ms), no cache, in process");
    let limits = Limits::default();
    let (winch, cranelift) = (new_engine(&limits, Tier::Winch).unwrap(), new_engine(&limits, Tier::Cranelift).unwrap());
    println!("| function | wasm KiB | Winch ms | Cranelift ms | ratio |");
    println!("|---|---:|---:|---:|---:|");
    for (n, function) in FUNCTIONS.iter().enumerate() {
        let bytes = distinct_version(&std::fs::read(built_wasm(function)).unwrap(), run, 1000 + n);
        let started = Instant::now();
        winch.precompile_component(&bytes).unwrap();
        let by_winch = started.elapsed();
        let started = Instant::now();
        cranelift.precompile_component(&bytes).unwrap();
        let by_cranelift = started.elapsed();
        println!(
            "| {function} | {} | {:.1} | {:.1} | {:.1}x |",
            bytes.len() / 1024,
            ms(by_winch),
            ms(by_cranelift),
            by_cranelift.as_secs_f64() / by_winch.as_secs_f64()
        );
    }
}

/// Requests per second of `GET /participant/{id}` from CLIENTS clients.
fn request_rate(host: &Host, id: i64) -> f64 {
    let path = format!("/participant/{id}");
    // Warm up: the pool's slots, the connections.
    for _ in 0..200 {
        assert_eq!(host.get(&path).status, 200);
    }
    let (served, failed, stop) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicBool::new(false));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                let client = reqwest::blocking::Client::new();
                let url = format!("{}{path}", host.base);
                while !stop.load(Ordering::Relaxed) {
                    // The whole body read, as a client would.
                    let answer = client.get(&url).send().ok().filter(|answer| answer.status() == 200);
                    match answer.and_then(|answer| answer.bytes().ok()) {
                        Some(_) => served.fetch_add(1, Ordering::Relaxed),
                        None => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        std::thread::sleep(RATE_FOR);
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(failed.load(Ordering::Relaxed), 0, "failed requests");
    served.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn request_cost_per_tier() {
    println!("## Requests per second, GET /participant/{{id}}, {CLIENTS} clients, {} s each", RATE_FOR.as_secs());
    for tier in ["winch", "cranelift"] {
        let host = Host::builder()
            .flags(&["--compiler", tier, "--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN])
            .start();
        let id = host.participant("rate");
        assert_eq!(tier_of(&host, "participant"), tier);
        println!("{tier}: {:.0} req/s", request_rate(&host, id));
    }
}

fn file_to_live(run: u128) {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let id = host.participant("bench");
    let (plain, tagged) =
        (std::fs::read(built_wasm("participant")).unwrap(), std::fs::read(built_wasm("tagged-participant")).unwrap());
    let path = host.wasm_path("participant");
    let mut latencies = Vec::new();
    for n in 0..SWAPS {
        let want_tagged = n % 2 == 0;
        let bytes = distinct_version(if want_tagged { &tagged } else { &plain }, run, n);
        let aside = path.with_extension("new");
        std::fs::write(&aside, bytes).unwrap();
        let written = Instant::now();
        std::fs::rename(&aside, &path).unwrap();
        latencies.push(live(&host, id, want_tagged, written));
        // Let Cranelift's code take over before the next swap, as a person
        // editing would.
        while tier_of(&host, "participant") != "cranelift" {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    println!("## File to live (rename to the first answer of the new version; includes the 100 ms debounce)");
    println!("{}", summary(latencies));
}

fn put_to_live_and_rollback(run: u128) {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let id = host.participant("bench");
    let (plain, tagged) =
        (std::fs::read(built_wasm("participant")).unwrap(), std::fs::read(built_wasm("tagged-participant")).unwrap());
    let (stop, failed, read) = (AtomicBool::new(false), AtomicUsize::new(0), AtomicUsize::new(0));
    let (mut to_live, mut compile, mut tier_up, mut rollback_call, mut rollback_switch) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    std::thread::scope(|scope| {
        // Readers throughout, on the swapped function.
        for _ in 0..2 {
            scope.spawn(|| {
                let client = reqwest::blocking::Client::new();
                let url = format!("{}/participant/{id}", host.base);
                while !stop.load(Ordering::Relaxed) {
                    match client.get(&url).send() {
                        Ok(answer) if answer.status() == 200 => read.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        for n in 0..SWAPS {
            let want_tagged = n % 2 == 0;
            let bytes = distinct_version(if want_tagged { &tagged } else { &plain }, run, 100 + n);
            let sent = Instant::now();
            let (status, report) = admin(&host, "PUT", "/admin/functions/participant", bytes);
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["tier"], "winch", "{report}");
            to_live.push(live(&host, id, want_tagged, sent));
            compile.push(Duration::from_secs_f64(report["compile_ms"].as_f64().unwrap() / 1000.0));
            while tier_of(&host, "participant") != "cranelift" {
                std::thread::sleep(Duration::from_millis(5));
            }
            tier_up.push(sent.elapsed());
        }
        // Each rollback flips between the last two versions.
        for _ in 0..SWAPS {
            let sent = Instant::now();
            let (status, report) = admin(&host, "POST", "/admin/functions/participant/rollback", vec![]);
            assert_eq!(status, 200, "{report}");
            rollback_call.push(sent.elapsed());
            rollback_switch.push(Duration::from_secs_f64(report["switch_ms"].as_f64().unwrap() / 1000.0));
        }
        stop.store(true, Ordering::Relaxed);
    });
    println!("## PUT to live (PUT sent to the first answer of the new version, on Winch's code)");
    println!("{}", summary(to_live));
    println!("Winch compile (the PUT's compile_ms): {}", summary(compile));
    println!("PUT to Cranelift's code serving: {}", summary(tier_up));
    println!("## Rollback");
    println!("admin call round trip: {}", summary(rollback_call));
    println!("switch (host's switch_ms): {}", summary(rollback_switch));
    println!(
        "readers during the swaps and rollbacks: {} requests, {} failed",
        read.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
}

/// From spawning `newsfeed up` on the app's own `spin.toml`, in a fresh
/// state dir (so an empty compile cache), to the first answer of a
/// function.
fn cold_start(compiler: &str) -> Duration {
    let state = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_newsfeed"))
        .args(["up", "--listen", "127.0.0.1:0", "--compiler", compiler, "-f"])
        .arg(common::repo_root().join("spin.toml"))
        .arg("--state-dir")
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("newsfeed up ended before serving").unwrap();
        if let Some(url) = line.strip_prefix("Serving ") {
            break url.to_string();
        }
    };
    // The participant function's own 404: an answer from a function.
    let status = reqwest::blocking::get(format!("{base}/participant/1")).unwrap().status();
    let elapsed = started.elapsed();
    assert_eq!(status, 404);
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn main() {
    common::build_components();
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    compile_times(run);
    request_cost_per_tier();
    file_to_live(run);
    put_to_live_and_rollback(run);
    println!("## Cold start to the first answer, no compile cache ({} functions)", FUNCTIONS.len());
    for compiler in ["tiered", "cranelift"] {
        let samples: Vec<_> = (0..3).map(|_| cold_start(compiler)).collect();
        println!("{compiler}: {}", summary(samples));
    }
}
