//! A trapping, looping or memory-hungry function fails only its own request:
//! the host answers it with a 500 JSON that names no internals and keeps
//! serving everything else, including requests running at the same time.

mod common;

use common::Host;
use std::time::{Duration, Instant};

fn assert_fails_alone(host: &Host, path: &str) {
    let a = host.participant("before");
    let started = Instant::now();
    let (failed, meanwhile) = std::thread::scope(|scope| {
        let failing = scope.spawn(|| host.send("GET", path, None));
        // Other requests are served while the bad one runs.
        let meanwhile: Vec<u16> = (0..5).map(|_| host.get(&format!("/participant/{a}")).status).collect();
        (failing.join().unwrap(), meanwhile)
    });
    assert_eq!(failed.status, 500, "{path}: {failed:?}");
    let message = failed.json["error"].as_str().unwrap();
    for internal in ["wasm", "trap", "backtrace", "panicked", "0x"] {
        assert!(!message.to_lowercase().contains(internal), "{path} leaked {internal:?}: {message}");
    }
    assert_eq!(meanwhile, [200; 5]);
    assert_eq!(host.send("GET", "/faults/ok", None).status, 200, "the faulty component itself still serves");
    assert_eq!(host.get(&format!("/participant/{a}")).status, 200);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_trap_fails_only_its_request() {
    let host = Host::start();
    assert_fails_alone(&host, "/faults/trap");
}

#[test]
fn a_runaway_loop_is_stopped_at_the_deadline() {
    let host = Host::start_with(&["--request-timeout", "1"]);
    let started = Instant::now();
    assert_fails_alone(&host, "/faults/loop");
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_cap() {
    let host = Host::start_with(&["--memory-limit", "16"]);
    assert_fails_alone(&host, "/faults/memory");
}
