//! The backend as the functions see it: one trait per WIT interface.
//!
//! A handler asks only for the traits it needs (`impl Storage + Publishing`),
//! so its least privilege shows in its signature as well as in its world.
//! [`Wit`] implements every trait over the component's WIT imports;
//! `fake::MemoryBackend` implements them in memory for unit tests.

use crate::bindings::newsfeed::feed::{friendships, participants, publishing, search, storage};
use crate::{BackendError, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};

/// `newsfeed:feed/storage`: reads.
pub trait Storage {
    fn get_participant(&self, id: Id) -> Result<Participant, BackendError>;
    /// The lists, a page at a time: `before` is a page's `next` cursor.
    fn list_friends(&self, id: Id, limit: u32, before: Option<&str>) -> Result<FriendsPage, BackendError>;
    fn list_outbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<OutboundPage, BackendError>;
    fn list_inbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<InboundPage, BackendError>;
}

/// `newsfeed:feed/participants`.
pub trait Participants {
    fn create(&self, name: &str) -> Result<Participant, BackendError>;
}

/// `newsfeed:feed/friendships`.
pub trait Friendships {
    fn befriend(&self, a: Id, b: Id) -> Result<Friendship, BackendError>;
}

/// `newsfeed:feed/publishing`.
pub trait Publishing {
    fn publish(&self, post: &Post) -> Result<Post, BackendError>;
}

/// `newsfeed:feed/search`.
pub trait Search {
    fn find_posters(&self, keywords: &[String], limit: u32) -> Result<Vec<Id>, BackendError>;
}

/// The real backend: the host (or the Spin adapter) behind the WIT imports.
pub struct Wit;

impl Storage for Wit {
    fn get_participant(&self, id: Id) -> Result<Participant, BackendError> {
        storage::get_participant(id)
    }
    fn list_friends(&self, id: Id, limit: u32, before: Option<&str>) -> Result<FriendsPage, BackendError> {
        storage::list_friends(id, limit, before)
    }
    fn list_outbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<OutboundPage, BackendError> {
        storage::list_outbound(id, limit, before)
    }
    fn list_inbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<InboundPage, BackendError> {
        storage::list_inbound(id, limit, before)
    }
}

impl Participants for Wit {
    fn create(&self, name: &str) -> Result<Participant, BackendError> {
        participants::create(name)
    }
}

impl Friendships for Wit {
    fn befriend(&self, a: Id, b: Id) -> Result<Friendship, BackendError> {
        friendships::befriend(a, b)
    }
}

impl Publishing for Wit {
    fn publish(&self, post: &Post) -> Result<Post, BackendError> {
        publishing::publish(post)
    }
}

impl Search for Wit {
    fn find_posters(&self, keywords: &[String], limit: u32) -> Result<Vec<Id>, BackendError> {
        search::find_posters(keywords, limit)
    }
}
