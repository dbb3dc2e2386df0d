//! A trapping, looping or memory-hungry function fails only its own request:
//! the host answers it with a 500 JSON that names no internals and keeps
//! serving everything else, including requests running at the same time.
//!
//! Each case runs on both of the host's call paths: `faults` has only the
//! standard entry (`wasi:http/incoming-handler`), `faults-lean` the lean one
//! too, which the host then calls.

use crate::common;

use common::Host;
use std::time::{Duration, Instant};

/// The faults component on each entry: the standard one and the lean one.
const ON_BOTH_ENTRIES: [&str; 2] = ["/faults", "/faults-lean"];

/// Asserts that `path` fails alone; returns how long the failing request took.
fn assert_fails_alone(host: &Host, path: &str) -> Duration {
    let a = host.participant("before");
    let started = Instant::now();
    let (failed, meanwhile, took) = std::thread::scope(|scope| {
        let failing = scope.spawn(|| {
            let sent = Instant::now();
            (host.send("GET", path, None), sent.elapsed())
        });
        // Other requests are served while the bad one runs.
        let meanwhile: Vec<u16> = (0..5).map(|_| host.get(&format!("/participant/{a}")).status).collect();
        let (failed, took) = failing.join().unwrap();
        (failed, meanwhile, took)
    });
    assert_eq!(failed.status, 500, "{path}: {failed:?}");
    let message = failed.json["error"].as_str().unwrap();
    for internal in ["wasm", "trap", "backtrace", "panicked", "0x"] {
        assert!(!message.to_lowercase().contains(internal), "{path} leaked {internal:?}: {message}");
    }
    assert_eq!(meanwhile, [200; 5]);
    let ok = format!("{}/ok", path.rsplit_once('/').unwrap().0);
    assert_eq!(host.send("GET", &ok, None).status, 200, "the faulty component itself still serves");
    assert_eq!(host.get(&format!("/participant/{a}")).status, 200);
    assert!(started.elapsed() < Duration::from_secs(30));
    took
}

#[test]
fn a_trap_fails_only_its_request() {
    let host = Host::start();
    for faults in ON_BOTH_ENTRIES {
        assert_fails_alone(&host, &format!("{faults}/trap"));
    }
}

/// The configured deadline (1 s) is the one obeyed, not the default 10 s.
#[test]
fn a_runaway_loop_is_stopped_at_the_deadline() {
    let host = Host::builder().flags(&["--request-timeout", "1"]).start();
    for faults in ON_BOTH_ENTRIES {
        let took = assert_fails_alone(&host, &format!("{faults}/loop"));
        assert!(took >= Duration::from_millis(950), "{faults}: stopped before the deadline: {took:?}");
        assert!(took < Duration::from_secs(4), "{faults}: stopped well after the 1 s deadline: {took:?}");
    }
}

/// The configured cap (16 MiB) is the one obeyed, not the default 64 MiB:
/// 4 MiB fits under it, 24 MiB (which the default would allow) does not.
#[test]
fn a_memory_bomb_is_stopped_at_the_memory_cap() {
    let host = Host::builder().flags(&["--memory-limit", "16"]).start();
    let default = Host::start();
    for faults in ON_BOTH_ENTRIES {
        assert_fails_alone(&host, &format!("{faults}/memory"));
        let allocate = |mib: u32| host.send("GET", &format!("{faults}/allocate?mib={mib}"), None).status;
        assert_eq!(allocate(4), 200, "{faults}: 4 MiB fits under a 16 MiB cap");
        assert_eq!(allocate(24), 500, "{faults}: 24 MiB is past the 16 MiB cap");
        let allocate = format!("{faults}/allocate?mib=24");
        assert_eq!(default.send("GET", &allocate, None).status, 200, "{faults}: 24 MiB fits the default cap");
    }
}

/// How many requests the instance that answered has served.
fn calls(host: &Host, faults: &str) -> u64 {
    let answer = host.send("GET", &format!("{faults}/count"), None);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json["calls"].as_u64().unwrap()
}

/// Sequential requests, each after the one before has fully finished (its
/// instance is back in the idle list by then).
fn sequential_calls(host: &Host, faults: &str, n: usize) -> Vec<u64> {
    (0..n)
        .map(|_| {
            let count = calls(host, faults);
            std::thread::sleep(Duration::from_millis(30));
            count
        })
        .collect()
}

#[test]
fn every_request_gets_a_fresh_instance_by_default() {
    let host = Host::start();
    for faults in ON_BOTH_ENTRIES {
        assert_eq!(sequential_calls(&host, faults, 10), [1; 10], "{faults}");
    }
}

#[test]
fn instance_reuse_serves_up_to_n_requests_in_one_instance() {
    let host = Host::builder().flags(&["--instance-reuse", "3"]).start();
    for faults in ON_BOTH_ENTRIES {
        let seen = sequential_calls(&host, faults, 12);
        assert!(seen.iter().all(|n| (1..=3).contains(n)), "{faults}: {seen:?}");
        assert!(seen.contains(&3), "{faults}: no instance served a third request: {seen:?}");
    }
}

#[test]
fn a_reused_instance_that_trapped_is_never_used_again() {
    let host = Host::builder().flags(&["--instance-reuse", "100"]).start();
    for faults in ON_BOTH_ENTRIES {
        assert_eq!(sequential_calls(&host, faults, 3), [1, 2, 3], "{faults}");
        // The one idle instance takes the trap, and is dropped.
        assert_eq!(host.send("GET", &format!("{faults}/trap"), None).status, 500, "{faults}");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(sequential_calls(&host, faults, 2), [1, 2], "{faults}");
    }
}
