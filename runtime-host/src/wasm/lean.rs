//! The lean entry on the host side: the bindings of world `lean-entry`
//! (`wit/feed.wit`), whose one export, `newsfeed:feed/handler`, takes a
//! request and returns its answer as plain records, and the turning of our
//! [`Request`] into one and of its answer into our [`Response`].
//!
//! A component that exports it is called through it (see `function.rs`);
//! no `wasi:http` resource, stream or poll is made for the request.

use crate::handler::{FunctionError, Request, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

wasmtime::component::bindgen!({
    path: "wit",
    world: "lean-entry",
    exports: { default: async },
});

pub use exports::newsfeed::feed::handler;

/// The export's name, by which the loader tells whether a component has it.
pub const EXPORT: &str = "newsfeed:feed/handler@0.1.0";

/// `request` as the lean entry's record. The server has read the body
/// already, within the limit (`http/server.rs`), so it is passed whole; the
/// headers are not passed (see the record's comment in `wit/feed.wit`).
pub async fn request(request: Request) -> handler::Request {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    handler::Request {
        method: parts.method.as_str().to_owned(),
        path_with_query: parts.uri.path_and_query().map_or("/", |path| path.as_str()).to_owned(),
        body: Vec::from(body),
    }
}

/// The function's answer as our response. A status or header that HTTP
/// does not allow is the function's fault, as a refused answer is on the
/// standard entry: it fails as a trap does.
pub fn response(answer: handler::Response) -> Result<Response, FunctionError> {
    let mut response = http::Response::builder().status(answer.status);
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    let body = Full::new(Bytes::from(answer.body)).map_err(|never| match never {}).boxed_unsync();
    response.body(body).map_err(|error| FunctionError::Trapped(format!("the function's answer was refused: {error}")))
}
