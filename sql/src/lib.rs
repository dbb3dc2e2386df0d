//! The news feed's schemas, statements and search rules, one source for every
//! program that stores the feed:
//!
//! - [`sqlite`]: the embedded SQLite schema, run by the host's embedded
//!   backend (`runtime-host/src/backend/sqlite.rs`, over rusqlite) and by the
//!   Spin SQLite adapter (`adapters/spin-sqlite/`, over Spin's SQLite);
//! - [`postgres`]: the PostgreSQL schema, run by the host's PostgreSQL
//!   backend (`runtime-host/src/backend/postgres.rs`);
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

/// The most post text one list read gathers: a list of posts stops after
/// the item whose subject and story bring the list's total (in UTF-8 bytes)
/// to this, even short of its `limit`. It bounds one request's memory, in
/// the host and in the function, whatever the posts weigh; a post is at most
/// 1 MiB, so a list holds at most 5 MiB of text. Every backend and adapter
/// applies it, so that a page ends at the same item on each.
pub const LIST_BYTES: usize = 4 << 20;

/// What a list read has gathered so far, against [`LIST_BYTES`].
#[derive(Debug, Default)]
pub struct ListBudget {
    spent: usize,
}

impl ListBudget {
    /// Whether the list may take another item.
    pub fn has_room(&self) -> bool {
        self.spent < LIST_BYTES
    }

    /// Counts an item holding `bytes` of text.
    pub fn spend(&mut self, bytes: usize) {
        self.spent = self.spent.saturating_add(bytes);
    }
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
