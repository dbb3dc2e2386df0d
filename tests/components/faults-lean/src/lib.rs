//! `faults` with the lean entry (`newsfeed:feed/handler`) as well: our host
//! calls that one, so the trap, deadline, memory-cap and reuse tests run on
//! the lean path here and on the standard path with `faults`.

// The faults' own source, compiled here as a module rather than used as a
// crate: a dependency's cdylib would be built too (as tagged-participant
// explains). Its `wasi:http/incoming-handler` export comes with it.
#[path = "../../faults/src/lib.rs"]
mod faults;

#[cfg(target_arch = "wasm32")]
mod lean {
    use newsfeed_guest::entry::lean::exports::newsfeed::feed::handler::{Guest, Request, Response};
    use std::sync::atomic::Ordering;

    struct Lean;

    impl Guest for Lean {
        fn handle(request: Request) -> Response {
            super::faults::LEAN.store(true, Ordering::Relaxed);
            newsfeed_guest::entry::serve_lean(request, super::faults::handle)
        }
    }

    newsfeed_guest::entry::lean::export_lean!(Lean with_types_in newsfeed_guest::entry::lean);
}
