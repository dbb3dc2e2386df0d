//! The inbound function: `GET /participant/{id}/inbound` reads `{id}`'s feed,
//! the posts of its friends, newest first. World: `inbound-function`.

use newsfeed_guest::request::{before, limit, participant_id};
use newsfeed_guest::{json, respond, ApiError, Method, Reply, Request, Response, Storage};

#[cfg(all(target_arch = "wasm32", feature = "component"))]
newsfeed_guest::http_entry!(|req| handle(req, &newsfeed_guest::Wit));

pub fn handle(req: &Request, backend: &impl Storage) -> Response {
    respond(match req.method() {
        Method::Get => feed(req, backend),
        _ => Err(ApiError::method_not_allowed("GET")),
    })
}

fn feed(req: &Request, backend: &impl Storage) -> Reply {
    let id = participant_id(req, "/inbound")?;
    let limit = limit(req, 100, 1000)?;
    let page = backend.list_inbound(id, limit, before(req).as_deref())?;
    Ok(json::page(req, limit, &page.items, page.next, json::inbound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsfeed_guest::fake::MemoryBackend;
    use newsfeed_guest::{Friendships, Participants, Post, Publishing};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn call(backend: &MemoryBackend, method: Method, uri: &str) -> (u16, Value) {
        let (status, body, _) = call_paged(backend, uri, method);
        (status, body)
    }

    /// The answer and the URL of its `Link: <...>; rel="next"`, if any.
    fn call_paged(backend: &MemoryBackend, uri: &str, method: Method) -> (u16, Value, Option<String>) {
        let req = Request::builder().method(method).uri(uri).build();
        let res = handle(&req, backend);
        let next = res.header("link").map(|link| {
            let link = link.as_str().unwrap();
            link.strip_prefix('<').and_then(|l| l.strip_suffix(">; rel=\"next\"")).unwrap().to_string()
        });
        (*res.status(), serde_json::from_slice(res.body()).unwrap(), next)
    }

    fn publish(backend: &MemoryBackend, author: i64, story: String) {
        backend.publish(&Post { author, occurred: "2026-12-03".into(), subject: "s".into(), story }).unwrap();
    }

    /// A backend where 2 reads 1's posts.
    fn two_friends() -> MemoryBackend {
        let backend = MemoryBackend::default();
        backend.create("a").unwrap();
        backend.create("b").unwrap();
        backend.befriend(1, 2).unwrap();
        backend
    }

    /// A walk under way: the list when it began, its pages so far (URL and
    /// items), and its next page's cursor (`None`: the first page).
    type Walk = (Value, Vec<(String, Value)>, Option<String>);

    /// Reads the next page of the walk under way, of `limit` items (a walk's
    /// pages may differ in size: the cursor does not hold the limit), or
    /// begins one. At the walk's end: it read each item there was when it
    /// began, once, newest first, and nothing else, and each page read by a
    /// cursor reads the same again.
    fn read_page(backend: &MemoryBackend, walk: &mut Option<Walk>, limit: u32) -> Result<(), TestCaseError> {
        let (began, pages, cursor) = walk.get_or_insert_with(|| {
            (call(backend, Method::Get, "/participant/2/inbound?limit=1000").1, Vec::new(), None)
        });
        let url = match cursor.take() {
            Some(cursor) => format!("/participant/2/inbound?limit={limit}&before={cursor}"),
            None => format!("/participant/2/inbound?limit={limit}"),
        };
        let (status, items, next) = call_paged(backend, &url, Method::Get);
        prop_assert_eq!(status, 200);
        prop_assert!(items.as_array().unwrap().len() <= limit as usize);
        pages.push((url, items));
        match next {
            Some(next) => *cursor = Some(next.split_once("before=").unwrap().1.to_string()),
            None => {
                let read: Vec<Value> = pages.iter().flat_map(|(_, p)| p.as_array().unwrap().clone()).collect();
                prop_assert_eq!(&read, began.as_array().unwrap());
                for (url, page) in &pages[1..] {
                    prop_assert_eq!(&call(backend, Method::Get, url).1, page);
                }
                *walk = None;
            }
        }
        Ok(())
    }

    proptest! {
        /// Any sequence of posts and page reads, of any sizes: every walk
        /// keeps [`read_page`]'s promise, and a fresh read starts with the
        /// newest post.
        #[test]
        fn any_posts_and_page_reads_keep_every_walk_whole(
            steps in proptest::collection::vec((proptest::bool::ANY, 1u32..6), 1..80)
        ) {
            let backend = two_friends();
            let (mut posted, mut walk) = (0u32, None);
            for (post, n) in steps {
                if post {
                    for _ in 0..n {
                        publish(&backend, 1, posted.to_string());
                        posted += 1;
                    }
                } else {
                    read_page(&backend, &mut walk, n)?;
                }
            }
            while walk.is_some() {
                read_page(&backend, &mut walk, 3)?;
            }
            let top = call(&backend, Method::Get, "/participant/2/inbound?limit=1").1;
            let newest = posted.checked_sub(1).map(|n| n.to_string());
            prop_assert_eq!(top[0]["story"].as_str().map(str::to_string), newest);
        }
    }

    #[test]
    fn a_page_links_to_the_next_with_its_path_limit_and_a_cursor() {
        let backend = two_friends();
        for n in 0..5 {
            publish(&backend, 1, n.to_string());
        }
        let (_, first, next) = call_paged(&backend, "/participant/2/inbound?limit=2", Method::Get);
        assert_eq!(first.as_array().unwrap().len(), 2);
        let next = next.unwrap();
        assert!(next.starts_with("/participant/2/inbound?limit=2&before="), "{next}");
        let (_, second, last) = call_paged(&backend, &next, Method::Get);
        assert_eq!(second[0]["story"], "2");
        let (_, third, end) = call_paged(&backend, &last.unwrap(), Method::Get);
        assert_eq!((third.as_array().unwrap().len(), end), (1, None));
        // The default limit is written into the link.
        assert_eq!(call_paged(&backend, "/participant/2/inbound", Method::Get).2, None);
    }

    #[test]
    fn a_foreign_or_broken_cursor_is_a_400() {
        let backend = two_friends();
        backend.create("c").unwrap();
        backend.befriend(1, 3).unwrap();
        for n in 0..3 {
            publish(&backend, 1, n.to_string());
        }
        let next = call_paged(&backend, "/participant/3/inbound?limit=1", Method::Get).2.unwrap();
        let cursor = next.split_once("before=").unwrap().1;
        assert_eq!(call(&backend, Method::Get, &format!("/participant/3/inbound?before={cursor}")).0, 200);
        for bad in [format!("/participant/2/inbound?before={cursor}"), "/participant/2/inbound?before=x".into()] {
            let (status, body) = call(&backend, Method::Get, &bad);
            assert_eq!(status, 400, "{bad}");
            assert!(body["error"].is_string());
        }
    }

    #[test]
    fn reads_friends_posts_newest_first_up_to_the_limit() {
        let backend = MemoryBackend::default();
        backend.create("a").unwrap();
        backend.create("b").unwrap();
        backend.befriend(1, 2).unwrap();
        for subject in ["first", "second"] {
            let post = Post { author: 2, occurred: "2026-11-24".into(), subject: subject.into(), story: "s".into() };
            backend.publish(&post).unwrap();
        }
        let (status, feed) = call(&backend, Method::Get, "/participant/1/inbound");
        assert_eq!(status, 200);
        assert_eq!(
            feed[0],
            json!({"from": "/participant/2", "to": "/participant/1", "occurred": "2026-11-24", "subject": "second", "story": "s"})
        );
        assert_eq!(feed[1]["subject"], "first");
        assert_eq!(call(&backend, Method::Get, "/participant/1/inbound?limit=1").1.as_array().unwrap().len(), 1);
        assert_eq!(call(&backend, Method::Get, "/participant/2/inbound").1, json!([]));
    }

    #[test]
    fn refuses_bad_requests() {
        let backend = MemoryBackend::default();
        assert_eq!(call(&backend, Method::Get, "/participant/1/inbound").0, 404);
        assert_eq!(call(&backend, Method::Get, "/participant/x/inbound").0, 400);
        assert_eq!(call(&backend, Method::Get, "/participant/1/inbound?limit=0").0, 400);
        assert_eq!(call(&backend, Method::Post, "/participant/1/inbound").0, 405);
    }
}
