//! The `newsfeed:feed` WIT imports on the host side.
//!
//! [`FeedCtx`] is the per-request state behind them: a handle on the shared
//! [`Backend`]. Each generated `Host` trait is implemented by forwarding to
//! the backend, turning its [`BackendError`] into the WIT `error` variant.
//! Under `--as-spin` there is no backend, and these imports are not linked:
//! the Spin adapter composed into each function serves them instead.

use crate::backend::types::{
    self, Cursor, Error, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post,
};
use crate::backend::wit::{friendships, participants, publishing, search, storage};
use crate::backend::{Backend, BackendError};
use std::sync::Arc;

/// What one instance's feed imports reach.
pub struct FeedCtx {
    pub backend: Option<Arc<dyn Backend>>,
}

impl FeedCtx {
    fn backend(&self) -> Result<&dyn Backend, Error> {
        self.backend.as_deref().ok_or_else(|| Error::Unavailable("this host serves no feed backend".into()))
    }
}

impl From<BackendError> for Error {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::NotFound(message) => Error::NotFound(message),
            BackendError::Invalid(message) => Error::Invalid(message),
            BackendError::Unavailable(message) => Error::Unavailable(message),
        }
    }
}

impl types::Host for FeedCtx {}

impl storage::Host for FeedCtx {
    async fn get_participant(&mut self, id: Id) -> Result<Participant, Error> {
        Ok(self.backend()?.get_participant(id).await?)
    }
    async fn list_friends(&mut self, id: Id, limit: u32, before: Option<Cursor>) -> Result<FriendsPage, Error> {
        Ok(self.backend()?.list_friends(id, limit, before).await?)
    }
    async fn list_outbound(&mut self, id: Id, limit: u32, before: Option<Cursor>) -> Result<OutboundPage, Error> {
        Ok(self.backend()?.list_outbound(id, limit, before).await?)
    }
    async fn list_inbound(&mut self, id: Id, limit: u32, before: Option<Cursor>) -> Result<InboundPage, Error> {
        Ok(self.backend()?.list_inbound(id, limit, before).await?)
    }
}

impl participants::Host for FeedCtx {
    async fn create(&mut self, name: String) -> Result<Participant, Error> {
        Ok(self.backend()?.create_participant(name).await?)
    }
}

impl friendships::Host for FeedCtx {
    async fn befriend(&mut self, a: Id, b: Id) -> Result<Friendship, Error> {
        Ok(self.backend()?.befriend(a, b).await?)
    }
}

impl publishing::Host for FeedCtx {
    async fn publish(&mut self, post: Post) -> Result<Post, Error> {
        Ok(self.backend()?.publish(post).await?)
    }
}

impl search::Host for FeedCtx {
    async fn find_posters(&mut self, keywords: Vec<String>, limit: u32) -> Result<Vec<Id>, Error> {
        Ok(self.backend()?.find_posters(keywords, limit).await?)
    }
}
