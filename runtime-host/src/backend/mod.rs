//! Where the news feed's data lives: one trait, [`Backend`], and its
//! implementations. SQLite in one file is the embedded default; another
//! database plugs in behind the same trait without touching the functions.
//!
//! Both ways of serving a function reach the data through this trait: the
//! wasm functions' WIT imports (`wasm::feed`) and the native baseline
//! (`handler::native`). The trait speaks the WIT's own types ([`wit`]).
//!
//! Depends on nothing else in the host but `metrics` (the group commit's
//! batches are counted) and `telemetry` (the group commit's span links the
//! requests it carries; [`traced`] spans every call).
//!
//! Every method keeps the guarantees written in `wit/feed.wit`: a write is
//! durable and visible to every later call when it returns, and a failed call
//! writes nothing.

pub mod postgres;
pub mod sqlite;
pub mod traced;
pub mod wit;

use newsfeed_sql::cursor::{List, PageRequest};
use types::{FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};
pub use wit::types;

/// What a backend call can fail with. Callers branch on the case: the WIT
/// error variant has the same three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl BackendError {
    /// The error's kind, as a span's `error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::NotFound(_) => "not_found",
            BackendError::Invalid(_) => "invalid",
            BackendError::Unavailable(_) => "unavailable",
        }
    }

    pub fn unknown_participant(id: Id) -> Self {
        BackendError::NotFound(newsfeed_sql::unknown_participant(id))
    }
}

pub type StoreResult<T> = Result<T, BackendError>;

/// A post's text fields obey [`newsfeed_sql::check_text`].
pub fn check_post(post: &Post) -> StoreResult<()> {
    newsfeed_sql::check_text("subject", &post.subject)
        .and_then(|()| newsfeed_sql::check_text("story", &post.story))
        .map_err(BackendError::Invalid)
}

/// The request for a page of `list`, its cursor `before` well formed (its
/// tag is checked once the backend has read the key).
pub fn page_request(list: List, id: Id, limit: u32, before: Option<&str>) -> StoreResult<PageRequest> {
    PageRequest::new(list, id, limit, before).map_err(BackendError::Invalid)
}

/// The bytes of post text a post holds, spent against a list's
/// [`ListBudget`](newsfeed_sql::ListBudget).
pub fn post_text(post: &Post) -> usize {
    post.subject.len() + post.story.len()
}

/// The storage and search operations of the `newsfeed:feed` interfaces.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn get_participant(&self, id: Id) -> StoreResult<Participant>;
    /// The lists, a page at a time, as `storage` in `wit/feed.wit` says:
    /// `before` is the cursor a previous page gave out, checked with
    /// `newsfeed_sql::cursor`.
    async fn list_friends(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<FriendsPage>;
    async fn list_outbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<OutboundPage>;
    async fn list_inbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<InboundPage>;
    async fn create_participant(&self, name: String) -> StoreResult<Participant>;
    async fn befriend(&self, a: Id, b: Id) -> StoreResult<Friendship>;
    /// Stores the post, fans it out to every current friend's feed and
    /// indexes it for search, in one transaction.
    async fn publish(&self, post: Post) -> StoreResult<Post>;
    async fn find_posters(&self, keywords: Vec<String>, limit: u32) -> StoreResult<Vec<Id>>;
    /// Whether the backend answers now (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
}
