//! The catch-all: every path that no other route matches (`/...`) gets the
//! contract's `404 {"error": ...}`. Spin answers an unmatched path with a
//! bare 404 of its own; this route keeps the answer the contract's under
//! Spin, and our host answers the same way. World: none (WASI and HTTP only).

use newsfeed_guest::{respond, ApiError, Request, Response};

#[cfg(all(target_arch = "wasm32", feature = "component"))]
newsfeed_guest::http_entry!(handle);

pub fn handle(req: &Request) -> Response {
    respond(Err(ApiError::no_route(req.path())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsfeed_guest::Method;

    #[test]
    fn every_path_is_a_json_404() {
        for path in ["/", "/nothing", "/participant/1/unknown/deeper"] {
            let req = Request::builder().method(Method::Get).uri(path).build();
            let response = handle(&req);
            assert_eq!(*response.status(), 404, "{path}");
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert!(body["error"].as_str().unwrap().contains(path), "{body}");
        }
    }
}
