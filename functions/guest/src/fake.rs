//! An in-memory store behind the same traits as the real one, for the
//! functions' unit tests. It keeps the contract's rules (not-found, symmetric
//! and idempotent friendships, fan-out, newest first) but none of the real
//! store's durability; search matches whole lowercase words only.

use crate::store::{Friendships, Participants, Publishing, Search, Storage};
use crate::{FeedItem, Friendship, Id, Participant, Post, StoreError};
use std::cell::RefCell;

#[derive(Default)]
pub struct MemoryStore {
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
    fn known(&self, id: Id) -> Result<(), StoreError> {
        match self.participants.iter().any(|p| p.id == id) {
            true => Ok(()),
            false => Err(StoreError::NotFound(format!("participant {id} not found"))),
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

fn newest<T>(items: impl DoubleEndedIterator<Item = T>, limit: u32) -> Vec<T> {
    items.rev().take(limit as usize).collect()
}

impl Storage for MemoryStore {
    fn get_participant(&self, id: Id) -> Result<Participant, StoreError> {
        let state = self.state.borrow();
        state.known(id)?;
        Ok(state.participants.iter().find(|p| p.id == id).cloned().expect("known"))
    }

    fn list_friends(&self, id: Id, limit: u32) -> Result<Vec<Friendship>, StoreError> {
        let state = self.state.borrow();
        state.known(id)?;
        Ok(newest(state.friends_of(id), limit))
    }

    fn list_outbound(&self, id: Id, limit: u32) -> Result<Vec<Post>, StoreError> {
        let state = self.state.borrow();
        state.known(id)?;
        Ok(newest(state.posts.iter().filter(|p| p.author == id).cloned(), limit))
    }

    fn list_inbound(&self, id: Id, limit: u32) -> Result<Vec<FeedItem>, StoreError> {
        let state = self.state.borrow();
        state.known(id)?;
        let items = state.inbound.iter().filter(|(reader, _)| *reader == id);
        Ok(newest(items.map(|&(reader, i)| FeedItem { reader, post: state.posts[i].clone() }), limit))
    }
}

impl Participants for MemoryStore {
    fn create(&self, name: &str) -> Result<Participant, StoreError> {
        let mut state = self.state.borrow_mut();
        let participant = Participant { id: state.participants.len() as Id + 1, name: name.to_string() };
        state.participants.push(participant.clone());
        Ok(participant)
    }
}

impl Friendships for MemoryStore {
    fn befriend(&self, a: Id, b: Id) -> Result<Friendship, StoreError> {
        let mut state = self.state.borrow_mut();
        state.known(a)?;
        state.known(b)?;
        if a == b {
            return Err(StoreError::Invalid("a participant cannot befriend itself".into()));
        }
        if let Some(existing) = state.friends_of(a).find(|f| f.to == b) {
            return Ok(existing);
        }
        let id = state.friendships.len() as Id + 1;
        state.friendships.push((id, a, b));
        Ok(Friendship { id, from: a, to: b })
    }
}

impl Publishing for MemoryStore {
    fn publish(&self, post: &Post) -> Result<Post, StoreError> {
        let mut state = self.state.borrow_mut();
        state.known(post.author)?;
        let index = state.posts.len();
        state.posts.push(post.clone());
        let readers: Vec<Id> = state.friends_of(post.author).map(|f| f.to).collect();
        state.inbound.extend(readers.into_iter().map(|reader| (reader, index)));
        Ok(post.clone())
    }
}

impl Search for MemoryStore {
    fn find_posters(&self, keywords: &[String], limit: u32) -> Result<Vec<Id>, StoreError> {
        let state = self.state.borrow();
        let wanted: Vec<String> = keywords.iter().map(|k| k.to_lowercase()).collect();
        // (hits, post index, author), best first.
        let mut scored: Vec<(usize, usize, Id)> = state
            .posts
            .iter()
            .enumerate()
            .filter_map(|(i, post)| {
                let text = format!("{} {}", post.subject, post.story).to_lowercase();
                let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
                let hits = wanted.iter().filter(|k| words.contains(&k.as_str())).count();
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
