//! The HTTP front door: every listening socket of the host.
//!
//! - [`listen`]: the one accept loop, shared by every address below;
//! - [`timeouts`]: how long a slow or idle client may hold a connection;
//! - [`server`]: the public API: routes each request to its function's
//!   [`Handler`](crate::handler::Handler), enforces the body limit, and
//!   turns every failure into the contract's JSON error;
//! - [`admin`]: the token-guarded admin API (list functions, hot swap);
//! - [`metrics`]: `GET /metrics` for Prometheus;
//! - [`answer`]: the JSON and text answers all of them give.
//!
//! Depends on `handler` (what it calls), `wasm::hot_swap` (what the admin
//! API drives), `spin::routing`, `limits`, `metrics` and `telemetry` (the
//! server span of each request).

pub mod admin;
pub mod answer;
pub mod listen;
pub mod metrics;
pub mod server;
pub mod timeouts;
