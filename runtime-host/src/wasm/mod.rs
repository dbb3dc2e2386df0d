//! The WebAssembly runtime: each function as a component, run in a fresh,
//! pooled instance for every request.
//!
//! - [`engine`]: the wasmtime engines, one per compiler tier (Winch,
//!   Cranelift), their pooling allocators and epoch clocks;
//! - [`loader`]: wasm bytes to a servable [`instance::WasmHandler`], through
//!   the [`compile_cache`] and the WIT [`worlds`] a component may import;
//! - [`instance`]: serving one request in a fresh instance, whose store holds
//!   the [`host_state`], with the `newsfeed:feed` imports of [`feed`],
//!   through the [`lean`] entry when the component exports it;
//! - [`memory`]: the store's memory limiter, which keeps each instance's peak;
//! - [`hot_swap`]: loading a new version of one function while the rest
//!   serve, Winch's code first and Cranelift's after; rolling back.
//!
//! Depends on `handler` (it implements its `Handler`), `backend`, `spin` (the
//! manifest, composition, and the Spin interfaces a composed app imports),
//! `limits`, `metrics` and `telemetry`. Nothing here knows about HTTP serving.

pub mod compile_cache;
pub mod engine;
pub mod feed;
pub mod host_state;
pub mod hot_swap;
pub mod instance;
pub mod lean;
pub mod loader;
pub mod memory;
pub mod worlds;

use crate::backend::Backend;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::spin::postgres::Pools;
use crate::spin::sqlite::Databases;
use crate::spin::variables::Values;
use std::sync::Arc;

/// What every instance of every function shares.
pub struct Runtime {
    /// An engine per compiler tier: a function's stores are made by the
    /// engine that compiled it.
    pub engines: engine::Engines,
    /// The feed imports' backend; `None` under `--as-spin`.
    pub backend: Option<Arc<dyn Backend>>,
    /// What Spin's SQLite interface opens.
    pub databases: Arc<Databases>,
    /// The pools Spin's PostgreSQL interface connects through.
    pub pg_pools: Arc<Pools>,
    /// The application variables' values (under `--as-spin`; empty else).
    pub variables: Values,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
}
