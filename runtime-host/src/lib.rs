//! `newsfeed`: a wasmtime host for the news feed's WebAssembly functions.
//!
//! One folder a concern; each folder's `mod.rs` says what it may depend on.
//!
//! - [`http`]: the front door. The server finds a request's function by its
//!   route and calls it through one interface, [`handler::Handler`]; the
//!   admin API and the metrics endpoint listen on their own addresses.
//! - [`handler`]: that interface, the slot a function's current version
//!   lives in, and the native baseline ([`handler::native`]).
//! - [`wasm`]: the product's implementation of it: a fresh, pooled wasmtime
//!   instance per request; loading, linking and hot-swapping components.
//! - [`backend`]: where the data lives: the [`backend::Backend`] trait (SQLite
//!   embedded), in the `newsfeed:feed` WIT's types.
//! - [`spin`]: the manifest, Spin's routes, composition with dependencies,
//!   and Spin's SQLite interface, for running the app as Spin would.
//! - [`assembly`]: the one function that puts the runtime together from its
//!   options (engine, epoch clock, compile cache, loader, each function's
//!   first version); the commands, the tests and the benches all call it.
//! - [`commands`]: the subcommands: flags, then the assembly, then serving.
//!
//! And four leaves everyone may use: [`cli`], [`limits`], [`metrics`],
//! [`telemetry`] (logs, and OpenTelemetry traces and metrics).
//!
//! The layers, top to bottom (each uses only those below it):
//! `commands` → `http`, `assembly` → `wasm` → `handler` → `spin`, `backend` →
//! leaves.

pub mod assembly;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod handler;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod spin;
pub mod telemetry;
pub mod wasm;
