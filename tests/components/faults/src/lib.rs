//! Misbehaviour on demand: `/faults/trap` panics, `/faults/loop` never
//! returns, `/faults/memory` allocates until the host's memory cap stops it,
//! `/faults/count` answers how many requests this instance has served (to
//! see instance reuse), `/faults/sleep` answers 200 after a second (a request
//! in flight), `/faults/allocate?mib=N` allocates and touches N MiB then
//! answers 200 (to show where a memory cap lies), and `/faults/ok` answers
//! 200, to show the host still serves. `/faults/entry` answers which of the
//! component's exports was called: `standard` here; `lean` in
//! `faults-lean`, which adds the lean entry to this same code.
//!
//! An action is the path's last segment, so that `faults-lean`, routed at
//! `/faults-lean/...`, answers the same paths there.

use spin_sdk::http::{Request, Response};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Requests this instance has served.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// Set by the lean entry (`faults-lean`) before it calls [`handle`].
pub static LEAN: AtomicBool = AtomicBool::new(false);

#[spin_sdk::http_component]
fn entry(req: Request) -> Response {
    handle(&req)
}

pub fn handle(req: &Request) -> Response {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    match req.path().rsplit('/').next().unwrap_or_default() {
        "trap" => panic!("a deliberate trap"),
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(1));
            Response::builder().status(200).header("content-type", "application/json").body("{\"slept\":true}").build()
        }
        "allocate" => {
            let mib: usize = req.query().strip_prefix("mib=").and_then(|n| n.parse().ok()).unwrap_or(1);
            let block = vec![1u8; mib << 20];
            std::hint::black_box(&block);
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(format!("{{\"allocated_mib\":{mib}}}"))
                .build()
        }
        "count" => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(format!("{{\"calls\":{calls}}}"))
            .build(),
        "entry" => {
            let entry = if LEAN.load(Ordering::Relaxed) { "lean" } else { "standard" };
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(format!("{{\"entry\":\"{entry}\"}}"))
                .build()
        }
        _ => Response::builder().status(200).header("content-type", "application/json").body("{\"ok\":true}").build(),
    }
}
