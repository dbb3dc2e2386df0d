//! Misbehaviour on demand: `/faults/trap` panics, `/faults/loop` never
//! returns, `/faults/memory` allocates until the host's memory cap stops it,
//! `/faults/count` answers how many requests this instance has served (to
//! see instance reuse), `/faults/sleep` answers 200 after a second (a request
//! in flight), `/faults/allocate?mib=N` allocates and touches N MiB then
//! answers 200 (to show where a memory cap lies), and `/faults/ok` answers
//! 200, to show the host still serves.

use spin_sdk::http::{Request, Response};
use std::sync::atomic::{AtomicU32, Ordering};

/// Requests this instance has served.
static CALLS: AtomicU32 = AtomicU32::new(0);

#[spin_sdk::http_component]
fn entry(req: Request) -> Response {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    match req.path() {
        "/faults/trap" => panic!("a deliberate trap"),
        "/faults/loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "/faults/memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "/faults/sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(1));
            Response::builder().status(200).header("content-type", "application/json").body("{\"slept\":true}").build()
        }
        "/faults/allocate" => {
            let mib: usize = req.query().strip_prefix("mib=").and_then(|n| n.parse().ok()).unwrap_or(1);
            let block = vec![1u8; mib << 20];
            std::hint::black_box(&block);
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(format!("{{\"allocated_mib\":{mib}}}"))
                .build()
        }
        "/faults/count" => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(format!("{{\"calls\":{calls}}}"))
            .build(),
        _ => Response::builder().status(200).header("content-type", "application/json").body("{\"ok\":true}").build(),
    }
}
