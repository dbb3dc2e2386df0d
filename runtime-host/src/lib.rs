//! `newsfeed`: a wasmtime host for the news feed's WebAssembly functions.
//!
//! The way a request travels: [`server`] accepts it ([`listen`]) and finds
//! its function with [`routing`]; [`function`] runs it in a fresh instance
//! from the pool ([`engine`]) with the state of [`host_state`]; the
//! function's WIT imports ([`feed`]) reach the data through a [`backend`]. At
//! start, [`commands::up`] reads the [`manifest`], and the [`loader`] compiles
//! each component (kept in the [`compile_cache`]) and links it against its
//! world ([`worlds`]).
//!
//! Run as Spin would (`--as-spin`), the loader first composes each function
//! with its `spin.toml` dependencies ([`compose`]), and the composed
//! component's only data import is Spin's SQLite interface ([`spin_sqlite`]).
//!
//! While serving, a function can be replaced in place ([`hot_swap`]): from
//! its wasm file or sources changing ([`watch`]), or through the [`admin`]
//! API. [`metrics`] counts it all for Prometheus, and [`native`] runs the same
//! logic without wasm, as the baseline that prices the sandbox.

pub mod admin;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod compile_cache;
pub mod compose;
pub mod engine;
pub mod feed;
pub mod function;
pub mod host_state;
pub mod hot_swap;
pub mod limits;
pub mod listen;
pub mod loader;
pub mod manifest;
pub mod metrics;
pub mod native;
pub mod routing;
pub mod server;
pub mod spin_sqlite;
pub mod watch;
pub mod worlds;
