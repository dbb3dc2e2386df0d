//! The news feed's schemas, statements and search rules, one source for every
//! program that stores the feed:
//!
//! - [`sqlite`]: the embedded SQLite schema, run by the host's embedded
//!   backend (`runtime-host/src/store/sqlite.rs`, over rusqlite) and by the
//!   Spin SQLite adapter (`adapters/spin-sqlite/`, over Spin's SQLite);
//! - [`postgres`]: the PostgreSQL schema, run by the host's PostgreSQL
//!   backend (`runtime-host/src/store/postgres.rs`);
//! - [`cursor`]: the lists' paging cursors, made and checked alike by every
//!   backend and adapter;
//! - [`search`]: how text becomes words and keywords become a search, in
//!   Rust, so that every backend finds the same posters in the same order;
//! - the rules and messages every backend answers alike (below).
//!
//! Depends on no other part of newsfeed: it is plain data and pure
//! functions (the cursors' HMAC and base64 come from RustCrypto's `hmac` and
//! `sha2` and from `base64`).

pub mod cursor;
pub mod postgres;
pub mod search;
pub mod sqlite;

pub use search::MAX_KEYWORDS;

pub fn unknown_participant(id: i64) -> String {
    format!("participant {id} not found")
}

pub const SELF_FRIENDSHIP: &str = "a participant cannot befriend itself";

/// Text every backend can store: PostgreSQL's `text` cannot hold a NUL
/// character, so no backend takes one, and every backend answers alike.
/// `Err` names the field and the rule.
pub fn check_text(field: &str, value: &str) -> Result<(), String> {
    match value.contains('\0') {
        true => Err(format!("{field} must not contain a NUL character")),
        false => Ok(()),
    }
}
