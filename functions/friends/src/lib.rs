//! The friends function: `POST /participant/{id}/friends` befriends,
//! `GET` lists the friendships of `{id}`. World: `friends-function`.

use newsfeed_guest::request::{before, limit, parse_link, participant_id, Body};
use newsfeed_guest::{json, respond, ApiError, Friendships, Method, Reply, Request, Response, Storage};

#[cfg(all(target_arch = "wasm32", feature = "component"))]
newsfeed_guest::http_entry!(|req| handle(req, &newsfeed_guest::Wit));

pub fn handle(req: &Request, backend: &(impl Storage + Friendships)) -> Response {
    respond(match req.method() {
        Method::Post => befriend(req, backend),
        Method::Get => list(req, backend),
        _ => Err(ApiError::method_not_allowed("GET, POST")),
    })
}

fn befriend(req: &Request, backend: &impl Friendships) -> Reply {
    let id = participant_id(req, "/friends")?;
    let body = Body::parse(req)?;
    body.from_matches(id)?;
    let to = parse_link(body.required_str("to")?)?;
    if to == id {
        return Err(ApiError::bad_request("a participant cannot befriend itself"));
    }
    Ok(json::friendship(&backend.befriend(id, to)?).into())
}

fn list(req: &Request, backend: &impl Storage) -> Reply {
    let id = participant_id(req, "/friends")?;
    let limit = limit(req, 100, 1000)?;
    let page = backend.list_friends(id, limit, before(req).as_deref())?;
    Ok(json::page(req, limit, &page.items, page.next, json::friendship))
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsfeed_guest::fake::MemoryBackend;
    use newsfeed_guest::Participants;
    use serde_json::{json, Value};

    fn call(backend: &MemoryBackend, method: Method, uri: &str, body: &str) -> (u16, Value) {
        let req = Request::builder().method(method).uri(uri).body(body.to_string()).build();
        let res = handle(&req, backend);
        (*res.status(), serde_json::from_slice(res.body()).unwrap())
    }

    fn three_participants() -> MemoryBackend {
        let backend = MemoryBackend::default();
        for name in ["a", "b", "c"] {
            backend.create(name).unwrap();
        }
        backend
    }

    #[test]
    fn friendship_is_symmetric_and_idempotent() {
        let backend = three_participants();
        let made = call(&backend, Method::Post, "/participant/1/friends", r#"{"to": "/participant/2"}"#);
        assert_eq!(made, (200, json!({"id": 1, "from": "/participant/1", "to": "/participant/2"})));
        let again = call(
            &backend,
            Method::Post,
            "/participant/2/friends",
            r#"{"from": "/participant/2", "to": "/participant/1"}"#,
        );
        assert_eq!(again, (200, json!({"id": 1, "from": "/participant/2", "to": "/participant/1"})));
        assert_eq!(call(&backend, Method::Get, "/participant/1/friends", "").1, json!([made.1]));
        assert_eq!(call(&backend, Method::Get, "/participant/2/friends", "").1, json!([again.1]));
    }

    #[test]
    fn refuses_bad_friendships() {
        let backend = three_participants();
        let post = |uri, body| call(&backend, Method::Post, uri, body).0;
        assert_eq!(post("/participant/1/friends", r#"{"to": "/participant/1"}"#), 400);
        assert_eq!(post("/participant/1/friends", r#"{"from": "/participant/2", "to": "/participant/3"}"#), 400);
        assert_eq!(post("/participant/1/friends", r#"{"to": "participant/2"}"#), 400);
        assert_eq!(post("/participant/1/friends", r#"{"to": "/participant/9"}"#), 404);
        assert_eq!(post("/participant/9/friends", r#"{"to": "/participant/1"}"#), 404);
        assert_eq!(post("/participant/1/friends", r#"{}"#), 400);
        assert_eq!(call(&backend, Method::Get, "/participant/1/friends", "").1, json!([]));
        assert_eq!(call(&backend, Method::Put, "/participant/1/friends", "").0, 405);
    }
}
