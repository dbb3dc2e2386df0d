//! The web pages: the feed app at `/`, the API reference at `/docs`, their
//! scripts and styles under `/static/`, and `/favicon.ico`. Every byte is
//! embedded at build time (`build.rs`); the pages call the public API from
//! the browser, so this component reads no storage. World: none (WASI and
//! HTTP only).
//!
//! Each asset carries an ETag, a hash of its bytes: a browser revalidates
//! (`Cache-Control: no-cache`) and gets a 304 while the bytes are unchanged,
//! and the new bytes at once after a new version is swapped in.

use newsfeed_guest::{respond, ApiError, Method, Request, Response};

/// One embedded file, as served.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

newsfeed_guest::implements!("web");

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn entry(req: Request) -> Response {
    handle(&req)
}

pub fn handle(req: &Request) -> Response {
    // HEAD is GET without the body; the HTTP server leaves the body out.
    if !matches!(req.method(), Method::Get | Method::Head) {
        return respond(Err(ApiError::method_not_allowed("GET, HEAD")));
    }
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == req.path()) else {
        return respond(Err(ApiError::no_route(req.path())));
    };
    let fresh = req
        .header("if-none-match")
        .and_then(|value| value.as_str())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag || tag.trim() == "*"));
    let mut builder = Response::builder();
    builder.header("etag", asset.etag).header("cache-control", "no-cache");
    if fresh {
        return builder.status(304).build();
    }
    builder
        .status(200)
        .header("content-type", asset.content_type)
        .header("x-content-type-options", "nosniff")
        .body(asset.body.to_vec())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut builder = Request::builder();
        builder.method(Method::Get).uri(path);
        if let Some(tag) = if_none_match {
            builder.header("if-none-match", tag);
        }
        handle(&builder.build())
    }

    fn header<'a>(response: &'a Response, name: &str) -> &'a str {
        response.header(name).and_then(|value| value.as_str()).unwrap_or_default()
    }

    #[test]
    fn every_page_is_served_with_its_type_and_tag() {
        for (path, content_type) in [
            ("/", "text/html; charset=utf-8"),
            ("/docs", "text/html; charset=utf-8"),
            ("/static/app.js", "text/javascript; charset=utf-8"),
            ("/static/openapi.json", "application/json"),
            ("/favicon.ico", "image/x-icon"),
        ] {
            let response = get(path, None);
            assert_eq!(*response.status(), 200, "{path}");
            assert_eq!(header(&response, "content-type"), content_type, "{path}");
            assert!(header(&response, "etag").starts_with('"'), "{path}");
            assert!(!response.body().is_empty(), "{path}");
        }
    }

    #[test]
    fn a_matching_tag_is_a_304_and_another_the_page() {
        let etag = header(&get("/", None), "etag").to_string();
        assert_eq!(*get("/", Some(&etag)).status(), 304);
        assert!(get("/", Some(&etag)).body().is_empty());
        assert_eq!(*get("/", Some("\"other\"")).status(), 200);
        assert_eq!(*get("/", Some(&format!("\"x\", {etag}"))).status(), 304);
    }

    #[test]
    fn unknown_paths_and_other_methods_are_json_errors() {
        let response = get("/static/nothing.js", None);
        assert_eq!(*response.status(), 404);
        assert_eq!(header(&response, "content-type"), "application/json");
        let post = handle(&Request::builder().method(Method::Post).uri("/").build());
        assert_eq!(*post.status(), 405);
        assert_eq!(header(&post, "allow"), "GET, HEAD");
    }

    #[test]
    fn the_whole_site_stays_under_100_kb() {
        let total: usize = ASSETS.iter().map(|asset| asset.body.len()).sum();
        assert!(total <= 100 * 1024, "{total} bytes");
    }

    #[test]
    fn the_docs_spec_is_the_repo_openapi_yaml() {
        let spec = ASSETS.iter().find(|asset| asset.path == "/static/openapi.json").unwrap();
        let text = std::str::from_utf8(spec.body).unwrap();
        assert!(text.contains("\"createParticipant\"") && text.contains("\"searchPosters\""));
    }
}
