//! The search function: `GET /outbound?keywords=a b&limit=10` lists the links
//! of posters whose stories hold any keyword, best match first.
//! World: `search-function` (search only: it can neither read feeds nor write).

use newsfeed_guest::request::{limit, link, query_param};
use newsfeed_guest::{respond, ApiError, Method, Reply, Request, Response, Search};
use serde_json::json;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
newsfeed_guest::http_entry!(|req| handle(req, &newsfeed_guest::Wit));

pub fn handle(req: &Request, backend: &impl Search) -> Response {
    respond(match (req.path(), req.method()) {
        ("/outbound", Method::Get) => search(req, backend),
        ("/outbound", _) => Err(ApiError::method_not_allowed("GET")),
        (path, _) => Err(ApiError::no_route(path)),
    })
}

fn search(req: &Request, backend: &impl Search) -> Reply {
    let text = query_param(req, "keywords").unwrap_or_default();
    let keywords: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if keywords.is_empty() {
        return Err(ApiError::bad_request("keywords is required: one or more words separated by spaces"));
    }
    let posters = backend.find_posters(&keywords, limit(req, 10, 100)?)?;
    Ok(json!(posters.into_iter().map(link).collect::<Vec<_>>()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsfeed_guest::fake::MemoryBackend;
    use newsfeed_guest::{Participants, Post, Publishing};
    use serde_json::Value;

    fn call(backend: &MemoryBackend, uri: &str) -> (u16, Value) {
        let req = Request::builder().method(Method::Get).uri(uri).build();
        let res = handle(&req, backend);
        (*res.status(), serde_json::from_slice(res.body()).unwrap())
    }

    proptest::proptest! {
        /// Any keywords and limit: an answer of the contract, 200 or 400,
        /// never a panic or a 5xx.
        #[test]
        fn any_query_gets_200_or_400(keywords in "\\PC{0,60}", limit in "\\PC{0,6}") {
            let backend = MemoryBackend::default();
            let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            let (status, body) = call(&backend, &format!("/outbound?keywords={}&limit={}", encode(&keywords), encode(&limit)));
            proptest::prop_assert!(status == 200 || status == 400, "{} {}", status, body);
        }
    }

    #[test]
    fn ranks_posters_by_their_best_post() {
        let backend = MemoryBackend::default();
        for (author, story) in [(1, "the quick fox"), (2, "a quick brown fox"), (3, "nothing here")] {
            backend.create("p").unwrap();
            let post = Post { author, occurred: "2026-11-24".into(), subject: "s".into(), story: story.into() };
            backend.publish(&post).unwrap();
        }
        assert_eq!(call(&backend, "/outbound?keywords=brown+fox").1, json!(["/participant/2", "/participant/1"]));
        assert_eq!(call(&backend, "/outbound?keywords=FOX").1, json!(["/participant/2", "/participant/1"]));
        assert_eq!(call(&backend, "/outbound?keywords=fox&limit=1").1, json!(["/participant/2"]));
        assert_eq!(call(&backend, "/outbound?keywords=zebra").1, json!([]));
    }

    #[test]
    fn refuses_missing_keywords_and_bad_limits() {
        let backend = MemoryBackend::default();
        assert_eq!(call(&backend, "/outbound").0, 400);
        assert_eq!(call(&backend, "/outbound?keywords=%20%20").0, 400);
        assert_eq!(call(&backend, "/outbound?keywords=a&limit=101").0, 400);
    }
}
