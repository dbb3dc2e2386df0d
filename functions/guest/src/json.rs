//! The API's JSON shapes. Participants are referred to by link everywhere.

use crate::request::link;
use crate::{FeedItem, Friendship, Participant, Post};
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

/// A list answer: each item shaped by `shape`.
pub fn list<T>(items: &[T], shape: fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(shape).collect())
}
