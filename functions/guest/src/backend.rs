//! The store as the functions see it: one trait per WIT interface.
//!
//! A handler asks only for the traits it needs (`impl Storage + Publishing`),
//! so its least privilege shows in its signature as well as in its world.
//! [`Wit`] implements every trait over the component's WIT imports;
//! `fake::MemoryStore` implements them in memory for unit tests.

use crate::bindings::newsfeed::feed::{friendships, participants, publishing, search, storage};
use crate::{FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post, StoreError};

/// `newsfeed:feed/storage`: reads.
pub trait Storage {
    fn get_participant(&self, id: Id) -> Result<Participant, StoreError>;
    /// The lists, a page at a time: `before` is a page's `next` cursor.
    fn list_friends(&self, id: Id, limit: u32, before: Option<&str>) -> Result<FriendsPage, StoreError>;
    fn list_outbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<OutboundPage, StoreError>;
    fn list_inbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<InboundPage, StoreError>;
}

/// `newsfeed:feed/participants`.
pub trait Participants {
    fn create(&self, name: &str) -> Result<Participant, StoreError>;
}

/// `newsfeed:feed/friendships`.
pub trait Friendships {
    fn befriend(&self, a: Id, b: Id) -> Result<Friendship, StoreError>;
}

/// `newsfeed:feed/publishing`.
pub trait Publishing {
    fn publish(&self, post: &Post) -> Result<Post, StoreError>;
}

/// `newsfeed:feed/search`.
pub trait Search {
    fn find_posters(&self, keywords: &[String], limit: u32) -> Result<Vec<Id>, StoreError>;
}

/// The real store: the host (or the Spin adapter) behind the WIT imports.
pub struct Wit;

impl Storage for Wit {
    fn get_participant(&self, id: Id) -> Result<Participant, StoreError> {
        storage::get_participant(id)
    }
    fn list_friends(&self, id: Id, limit: u32, before: Option<&str>) -> Result<FriendsPage, StoreError> {
        storage::list_friends(id, limit, before)
    }
    fn list_outbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<OutboundPage, StoreError> {
        storage::list_outbound(id, limit, before)
    }
    fn list_inbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<InboundPage, StoreError> {
        storage::list_inbound(id, limit, before)
    }
}

impl Participants for Wit {
    fn create(&self, name: &str) -> Result<Participant, StoreError> {
        participants::create(name)
    }
}

impl Friendships for Wit {
    fn befriend(&self, a: Id, b: Id) -> Result<Friendship, StoreError> {
        friendships::befriend(a, b)
    }
}

impl Publishing for Wit {
    fn publish(&self, post: &Post) -> Result<Post, StoreError> {
        publishing::publish(post)
    }
}

impl Search for Wit {
    fn find_posters(&self, keywords: &[String], limit: u32) -> Result<Vec<Id>, StoreError> {
        search::find_posters(keywords, limit)
    }
}
