//! Spin compatibility: the app is described, assembled and served the way
//! Spin does it, so the same `spin.toml` and components run under both.
//!
//! - [`manifest`]: `spin.toml` (Spin's manifest v2) and our own
//!   `[component.NAME.tool.newsfeed]` table;
//! - [`routing`]: Spin's route syntax and its most-specific-match rule;
//! - [`compose`]: plugging a component's dependencies into it, with Spin's
//!   rules for matching dependency names to imports (`--as-spin`);
//! - [`sqlite`]: Spin's SQLite interface, `fermyon:spin/sqlite@2.0.0`, served
//!   by our host over the same database file as the embedded store.
//!
//! Depends on nothing else in the host.

pub mod compose;
pub mod manifest;
pub mod routing;
pub mod sqlite;
