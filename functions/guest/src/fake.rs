//! An in-memory backend behind the same traits as the real one, for the
//! functions' unit tests. It keeps the contract's rules (not-found, symmetric
//! and idempotent friendships, fan-out, newest first, pages and their
//! cursors, made by the real backends' `newsfeed_sql::cursor`), with the real
//! backends' rules and messages from `newsfeed_sql` (the words search matches,
//! the keyword limit, the text rule), but none of their durability.

use crate::backend::{Friendships, Participants, Publishing, Search, Storage};
use crate::{BackendError, FeedItem, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};
use newsfeed_sql::cursor::{List, PageRequest};
use std::cell::RefCell;

#[derive(Default)]
pub struct MemoryBackend {
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    participants: Vec<Participant>,
    /// (friendship id, a, b): one row per friendship, in creation order.
    friendships: Vec<(Id, Id, Id)>,
    /// Every post, in the order stored.
    posts: Vec<Post>,
    /// (reader, index into `posts`), in the order stored.
    inbound: Vec<(Id, usize)>,
}

impl State {
    fn known(&self, id: Id) -> Result<(), BackendError> {
        match self.participants.iter().any(|p| p.id == id) {
            true => Ok(()),
            false => Err(BackendError::NotFound(newsfeed_sql::unknown_participant(id))),
        }
    }

    fn friends_of(&self, id: Id) -> impl DoubleEndedIterator<Item = Friendship> + '_ {
        self.friendships.iter().filter_map(move |&(fid, a, b)| match id {
            _ if id == a => Some(Friendship { id: fid, from: a, to: b }),
            _ if id == b => Some(Friendship { id: fid, from: b, to: a }),
            _ => None,
        })
    }
}

/// The fake's cursor key, as a real backend's database holds one.
const KEY: &[u8] = b"the in-memory backend's cursor key";

fn page_request(list: List, id: Id, limit: u32, before: Option<&str>) -> Result<PageRequest, BackendError> {
    PageRequest::new(list, id, limit, before).map_err(BackendError::Invalid)
}

/// A page of `items` (each with its id, oldest first) for `request`, ended
/// by its limit or its byte budget (`text`), as a real backend's.
fn page<T>(
    request: &PageRequest,
    items: impl DoubleEndedIterator<Item = (Id, T)>,
    text: fn(&T) -> usize,
) -> Result<(Vec<T>, Option<String>), BackendError> {
    let seek = request.seek(KEY).map_err(BackendError::Invalid)?;
    let rows = items.rev().filter(|(id, _)| *id < seek).take(request.rows() as usize);
    request.page_from(KEY, rows, Ok, text)
}

/// The bytes of post text a post holds, against the list's byte budget.
fn post_text(post: &Post) -> usize {
    post.subject.len() + post.story.len()
}

impl Storage for MemoryBackend {
    fn get_participant(&self, id: Id) -> Result<Participant, BackendError> {
        let state = self.state.borrow();
        state.known(id)?;
        Ok(state.participants.iter().find(|p| p.id == id).cloned().expect("known"))
    }

    fn list_friends(&self, id: Id, limit: u32, before: Option<&str>) -> Result<FriendsPage, BackendError> {
        let request = page_request(List::Friends, id, limit, before)?;
        let state = self.state.borrow();
        state.known(id)?;
        let (items, next) = page(&request, state.friends_of(id).map(|f| (f.id, f)), |_| 0)?;
        Ok(FriendsPage { items, next })
    }

    fn list_outbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<OutboundPage, BackendError> {
        let request = page_request(List::Outbound, id, limit, before)?;
        let state = self.state.borrow();
        state.known(id)?;
        // A post's id: its place in `posts`, from 1.
        let posts = state.posts.iter().enumerate().filter(|(_, p)| p.author == id);
        let (items, next) = page(&request, posts.map(|(i, p)| (i as Id + 1, p.clone())), post_text)?;
        Ok(OutboundPage { items, next })
    }

    fn list_inbound(&self, id: Id, limit: u32, before: Option<&str>) -> Result<InboundPage, BackendError> {
        let request = page_request(List::Inbound, id, limit, before)?;
        let state = self.state.borrow();
        state.known(id)?;
        // An item's id: its place in `inbound`, from 1.
        let items = state.inbound.iter().enumerate().filter(|(_, (reader, _))| *reader == id);
        let items =
            items.map(|(i, &(reader, post))| (i as Id + 1, FeedItem { reader, post: state.posts[post].clone() }));
        let (items, next) = page(&request, items, |item| post_text(&item.post))?;
        Ok(InboundPage { items, next })
    }
}

impl Participants for MemoryBackend {
    fn create(&self, name: &str) -> Result<Participant, BackendError> {
        newsfeed_sql::check_text("name", name).map_err(BackendError::Invalid)?;
        let mut state = self.state.borrow_mut();
        let participant = Participant { id: state.participants.len() as Id + 1, name: name.to_string() };
        state.participants.push(participant.clone());
        Ok(participant)
    }
}

impl Friendships for MemoryBackend {
    fn befriend(&self, a: Id, b: Id) -> Result<Friendship, BackendError> {
        let mut state = self.state.borrow_mut();
        state.known(a)?;
        state.known(b)?;
        if a == b {
            return Err(BackendError::Invalid(newsfeed_sql::SELF_FRIENDSHIP.into()));
        }
        if let Some(existing) = state.friends_of(a).find(|f| f.to == b) {
            return Ok(existing);
        }
        let id = state.friendships.len() as Id + 1;
        state.friendships.push((id, a, b));
        Ok(Friendship { id, from: a, to: b })
    }
}

impl Publishing for MemoryBackend {
    fn publish(&self, post: &Post) -> Result<Post, BackendError> {
        for (field, text) in [("subject", &post.subject), ("story", &post.story)] {
            newsfeed_sql::check_text(field, text).map_err(BackendError::Invalid)?;
        }
        let mut state = self.state.borrow_mut();
        state.known(post.author)?;
        let index = state.posts.len();
        state.posts.push(post.clone());
        let readers: Vec<Id> = state.friends_of(post.author).map(|f| f.to).collect();
        state.inbound.extend(readers.into_iter().map(|reader| (reader, index)));
        Ok(post.clone())
    }
}

impl Search for MemoryBackend {
    fn find_posters(&self, keywords: &[String], limit: u32) -> Result<Vec<Id>, BackendError> {
        let state = self.state.borrow();
        let wanted = newsfeed_sql::search::keywords(keywords).map_err(BackendError::Invalid)?;
        // (hits, post index, author), best first.
        let mut scored: Vec<(usize, usize, Id)> = state
            .posts
            .iter()
            .enumerate()
            .filter_map(|(i, post)| {
                let words = newsfeed_sql::search::words(&format!("{} {}", post.subject, post.story));
                let hits = wanted.iter().filter(|k| words.contains(k)).count();
                (hits > 0).then_some((hits, i, post.author))
            })
            .collect();
        scored.sort_by(|x, y| y.cmp(x));
        let mut posters = Vec::new();
        for (_, _, author) in scored {
            if !posters.contains(&author) && posters.len() < limit as usize {
                posters.push(author);
            }
        }
        Ok(posters)
    }
}
