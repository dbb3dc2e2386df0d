//! The end-to-end suite: ONE test binary (as wasmtime's `tests/all`), so that
//! wasmtime and the harness are compiled and linked once, not once a file.
//!
//! A new suite is a module here: a file `tests/e2e/<name>.rs` (or a folder
//! with a `mod.rs`) and a `mod <name>;` line below. It reaches the harness as
//! `crate::common` (start a host with `Host::builder()`). A test's full name
//! is `<module>::<test>`, so `cargo test --workspace --test e2e drain::` runs one suite.
//!
//! - [`common`]: the harness: the real `newsfeed` binary on a free port, real
//!   HTTP, a real PostgreSQL, answers checked against `openapi.yaml`;
//! - [`api`]: the contract's cases, written once, run on every host and
//!   backend (`api::<backend>::<case>`);
//! - [`backend`]: what every `backend::Backend` promises, written once against
//!   the trait, run on SQLite and on PostgreSQL
//!   (`backend::<implementation>::<case>`);
//! - [`real_spin`]: the contract's cases again, on a real `spin up`;
//! - the rest: one concern a module, each saying what it proves.

mod common;

mod api;
mod backend;
mod browser;
mod drain;
mod durability;
mod entries;
mod entry;
mod faults;
mod group_commit;
mod hardening;
mod hot_swap;
mod load_smoke;
mod metrics;
mod overload;
mod postgres;
mod postgres_migration;
mod real_spin;
mod schemathesis;
mod spin;
mod spin_postgres_host;
mod telemetry;
