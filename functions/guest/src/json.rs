//! The API's JSON shapes. Participants are referred to by link everywhere.

use crate::request::{link, next_link};
use crate::{Answer, FeedItem, Friendship, Participant, Post, Request};
use serde_json::{json, Value};

pub fn participant(p: &Participant) -> Value {
    json!({ "id": p.id, "name": p.name, "link": link(p.id) })
}

pub fn friendship(f: &Friendship) -> Value {
    json!({ "id": f.id, "from": link(f.from), "to": link(f.to) })
}

pub fn outbound(post: &Post) -> Value {
    json!({
        "from": link(post.author),
        "occurred": post.occurred,
        "subject": post.subject,
        "story": post.story,
    })
}

pub fn inbound(item: &FeedItem) -> Value {
    let post = &item.post;
    json!({
        "from": link(post.author),
        "to": link(item.reader),
        "occurred": post.occurred,
        "subject": post.subject,
        "story": post.story,
    })
}

/// A page of a list, answering `req`: a JSON array of the items, each
/// shaped by `shape`, and the link to the page after it when there is one
/// (`next`, the cursor the backend gave).
pub fn page<T>(req: &Request, limit: u32, items: &[T], next: Option<String>, shape: fn(&T) -> Value) -> Answer {
    Answer {
        body: Value::Array(items.iter().map(shape).collect()),
        link: next.map(|next| next_link(req, limit, &next)),
    }
}
