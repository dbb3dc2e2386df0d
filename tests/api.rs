//! Every operation, rule and error status of `../shared/API.md`, over real
//! HTTP against `newsfeed up` running the wasm functions.

mod common;

const FLAGS: &[&str] = &[];

include!("cases/api.rs");
