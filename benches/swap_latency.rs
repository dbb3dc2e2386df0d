//! Hot-swap latency: from a new wasm file landing (renamed into place, as a
//! build does) to the first answer from the new version, over real HTTP
//! against `newsfeed up`. Each version carries a custom section unique to
//! this run, so each swap compiles for real: the test harness's compile
//! cache outlives runs, and a repeated section would be a cache hit.
//!
//! `cargo bench --bench swap_latency`

#[path = "../tests/e2e/common/mod.rs"]
mod common;

use common::{built_wasm, Host};
use std::time::{Duration, Instant};

const SWAPS: usize = 10;

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

fn main() {
    let host = Host::start();
    let id = host.participant("bench");
    let (plain, tagged) =
        (std::fs::read(built_wasm("participant")).unwrap(), std::fs::read(built_wasm("tagged-participant")).unwrap());
    let path = host.wasm_path("participant");
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let mut latencies = Vec::new();
    for n in 0..SWAPS {
        let want_tagged = n % 2 == 0;
        let bytes = distinct_version(if want_tagged { &tagged } else { &plain }, run, n);
        let aside = path.with_extension("new");
        std::fs::write(&aside, bytes).unwrap();
        let written = Instant::now();
        std::fs::rename(&aside, &path).unwrap();
        loop {
            let answer = host.get(&format!("/participant/{id}"));
            assert_eq!(answer.status, 200);
            if answer.headers.contains_key("x-newsfeed-variant") == want_tagged {
                break;
            }
            assert!(written.elapsed() < Duration::from_secs(30), "swap {n} never showed");
        }
        latencies.push(written.elapsed());
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "swap latency over {SWAPS} swaps: median {:.0} ms, min {:.0} ms, max {:.0} ms (includes the {} ms debounce)",
        ms(latencies[SWAPS / 2]),
        ms(latencies[0]),
        ms(latencies[SWAPS - 1]),
        100
    );
}
