//! The outbound function: `POST /participant/{id}/outbound` publishes a post
//! (stored, fanned out to every friend's feed and made searchable, atomically,
//! by the one `publish` call); `GET` lists `{id}`'s posts, newest first.
//! World: `outbound-function`.

use newsfeed_guest::request::{before, limit, participant_id, Body};
use newsfeed_guest::{json, occurred, respond, ApiError, Method, Post, Publishing, Reply, Request, Response, Storage};

#[cfg(all(target_arch = "wasm32", feature = "component"))]
newsfeed_guest::http_entry!(|req| handle(req, &newsfeed_guest::Wit));

pub fn handle(req: &Request, backend: &(impl Storage + Publishing)) -> Response {
    respond(match req.method() {
        Method::Post => publish(req, backend),
        Method::Get => list(req, backend),
        _ => Err(ApiError::method_not_allowed("GET, POST")),
    })
}

fn publish(req: &Request, backend: &impl Publishing) -> Reply {
    let author = participant_id(req, "/outbound")?;
    let body = Body::parse(req)?;
    body.from_matches(author)?;
    let post = Post {
        author,
        occurred: match body.optional_str("occurred")? {
            Some(given) => occurred::check(given)?.to_string(),
            None => occurred::now(),
        },
        subject: body.required_str("subject")?.to_string(),
        story: body.required_str("story")?.to_string(),
    };
    Ok(json::outbound(&backend.publish(&post)?).into())
}

fn list(req: &Request, backend: &impl Storage) -> Reply {
    let id = participant_id(req, "/outbound")?;
    let limit = limit(req, 100, 1000)?;
    let page = backend.list_outbound(id, limit, before(req).as_deref())?;
    Ok(json::page(req, limit, &page.items, page.next, json::outbound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsfeed_guest::fake::MemoryBackend;
    use newsfeed_guest::{Friendships, Participants};
    use serde_json::{json, Value};

    fn call(backend: &MemoryBackend, method: Method, uri: &str, body: &str) -> (u16, Value) {
        let req = Request::builder().method(method).uri(uri).body(body.to_string()).build();
        let res = handle(&req, backend);
        (*res.status(), serde_json::from_slice(res.body()).unwrap())
    }

    proptest::proptest! {
        /// Any body: the post stored (200) or a 4xx of the contract, never
        /// a panic or a 5xx.
        #[test]
        fn any_body_gets_200_or_a_4xx(body in "\\PC*|\\{(\"(subject|story|occurred|from)\": ?(null|1|\"\\PC{0,20}\"), ?){0,4}\"story\": \"\\PC{0,20}\"\\}") {
            let backend = MemoryBackend::default();
            let author = backend.create("a").unwrap().id;
            let (status, answer) = call(&backend, Method::Post, &format!("/participant/{author}/outbound"), &body);
            proptest::prop_assert!(status == 200 || (400..500).contains(&status), "{} {}", status, answer);
        }
    }

    #[test]
    fn publishes_to_the_outbound_list_and_every_friends_feed() {
        let backend = MemoryBackend::default();
        for name in ["a", "b", "c"] {
            backend.create(name).unwrap();
        }
        backend.befriend(1, 2).unwrap();
        backend.befriend(3, 1).unwrap();
        let body = r#"{"from": "/participant/1", "occurred": "2026-11-24", "subject": "hi", "story": "a story"}"#;
        let expected = json!({"from": "/participant/1", "occurred": "2026-11-24", "subject": "hi", "story": "a story"});
        assert_eq!(call(&backend, Method::Post, "/participant/1/outbound", body), (200, expected.clone()));
        assert_eq!(call(&backend, Method::Get, "/participant/1/outbound", "").1, json!([expected]));
        assert_eq!(backend.list_inbound(2, 10, None).unwrap().items.len(), 1);
        assert_eq!(backend.list_inbound(3, 10, None).unwrap().items.len(), 1);
        assert_eq!(backend.list_inbound(1, 10, None).unwrap().items.len(), 0);
    }

    #[test]
    fn fills_in_occurred_when_left_out() {
        let backend = MemoryBackend::default();
        backend.create("a").unwrap();
        let (status, post) =
            call(&backend, Method::Post, "/participant/1/outbound", r#"{"subject": "s", "story": "t"}"#);
        assert_eq!(status, 200);
        assert!(occurred::check(post["occurred"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn refuses_bad_posts_without_writing() {
        let backend = MemoryBackend::default();
        backend.create("a").unwrap();
        for bad in [
            r#"{"subject": "s"}"#,
            r#"{"subject": "s", "story": ""}"#,
            r#"{"subject": "s", "story": "t", "occurred": "today"}"#,
            r#"{"subject": "s", "story": "t", "occurred": null}"#,
            r#"{"subject": "s", "story": "t", "from": "/participant/2"}"#,
        ] {
            assert_eq!(call(&backend, Method::Post, "/participant/1/outbound", bad).0, 400, "{bad}");
        }
        assert_eq!(call(&backend, Method::Post, "/participant/2/outbound", r#"{"subject": "s", "story": "t"}"#).0, 404);
        assert_eq!(backend.list_outbound(1, 10, None).unwrap().items, vec![]);
    }
}
