//! The same API cases against `newsfeed up --native`, the baseline that runs
//! the functions' logic without wasm: both must give the same answers.

mod common;

const FLAGS: &[&str] = &["--native"];

include!("cases/api.rs");
