//! Misbehaviour on demand: `/faults/trap` panics, `/faults/loop` never
//! returns, `/faults/memory` allocates until the host's memory cap stops it,
//! and `/faults/ok` answers 200, to show the host still serves.

use spin_sdk::http::{Request, Response};

#[spin_sdk::http_component]
fn entry(req: Request) -> Response {
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
        _ => Response::builder().status(200).header("content-type", "application/json").body("{\"ok\":true}").build(),
    }
}
