//! `newsfeed`: a wasmtime host for the news feed's WebAssembly functions.
//!
//! The way a request travels: [`server`] accepts it and finds its function
//! with [`routing`]; [`function`] runs it in a fresh instance from the pool
//! ([`engine`]) with the state of [`host_state`]; the function's WIT imports
//! ([`feed`]) reach the data through a [`backend`]. At start, [`commands::up`]
//! reads the [`manifest`], links each component against its world
//! ([`worlds`]), and keeps compiled code in the [`compile_cache`].

pub mod backend;
pub mod cli;
pub mod commands;
pub mod compile_cache;
pub mod engine;
pub mod feed;
pub mod function;
pub mod host_state;
pub mod limits;
pub mod manifest;
pub mod routing;
pub mod server;
pub mod worlds;
