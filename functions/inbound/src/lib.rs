//! The inbound function: `GET /participant/{id}/inbound` reads `{id}`'s feed,
//! the posts of its friends, newest first. World: `inbound-function`.

use newsfeed_guest::request::{limit, participant_id};
use newsfeed_guest::{json, respond, ApiError, Method, Reply, Request, Response, Storage};

#[cfg(all(target_arch = "wasm32", feature = "component"))]
newsfeed_guest::http_entry!(|req| handle(req, &newsfeed_guest::Wit));

pub fn handle(req: &Request, store: &impl Storage) -> Response {
    respond(match req.method() {
        Method::Get => feed(req, store),
        _ => Err(ApiError::method_not_allowed("GET")),
    })
}

fn feed(req: &Request, store: &impl Storage) -> Reply {
    let id = participant_id(req, "/inbound")?;
    let items = store.list_inbound(id, limit(req, 100, 1000)?)?;
    Ok(json::list(&items, json::inbound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsfeed_guest::fake::MemoryStore;
    use newsfeed_guest::{Friendships, Participants, Post, Publishing};
    use serde_json::{json, Value};

    fn call(store: &MemoryStore, method: Method, uri: &str) -> (u16, Value) {
        let req = Request::builder().method(method).uri(uri).build();
        let res = handle(&req, store);
        (*res.status(), serde_json::from_slice(res.body()).unwrap())
    }

    #[test]
    fn reads_friends_posts_newest_first_up_to_the_limit() {
        let store = MemoryStore::default();
        store.create("a").unwrap();
        store.create("b").unwrap();
        store.befriend(1, 2).unwrap();
        for subject in ["first", "second"] {
            let post = Post { author: 2, occurred: "2026-11-24".into(), subject: subject.into(), story: "s".into() };
            store.publish(&post).unwrap();
        }
        let (status, feed) = call(&store, Method::Get, "/participant/1/inbound");
        assert_eq!(status, 200);
        assert_eq!(
            feed[0],
            json!({"from": "/participant/2", "to": "/participant/1", "occurred": "2026-11-24", "subject": "second", "story": "s"})
        );
        assert_eq!(feed[1]["subject"], "first");
        assert_eq!(call(&store, Method::Get, "/participant/1/inbound?limit=1").1.as_array().unwrap().len(), 1);
        assert_eq!(call(&store, Method::Get, "/participant/2/inbound").1, json!([]));
    }

    #[test]
    fn refuses_bad_requests() {
        let store = MemoryStore::default();
        assert_eq!(call(&store, Method::Get, "/participant/1/inbound").0, 404);
        assert_eq!(call(&store, Method::Get, "/participant/x/inbound").0, 400);
        assert_eq!(call(&store, Method::Get, "/participant/1/inbound?limit=0").0, 400);
        assert_eq!(call(&store, Method::Post, "/participant/1/inbound").0, 405);
    }
}
