//! Every operation, rule and error status of `docs/api.md`, over real
//! HTTP against `newsfeed up` running the wasm functions.

mod common;

fn start() -> Host {
    Host::start_with(&[])
}

include!("cases/api.rs");
