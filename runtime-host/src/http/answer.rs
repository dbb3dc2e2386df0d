//! The answers the host gives itself, rather than a function: JSON (the
//! contract's error shape among them) and plain text.

use crate::handler::Response;
use bytes::Bytes;
use http::{header, StatusCode};
use http_body_util::{BodyExt, Full};

/// A JSON answer.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    text(status, "application/json", value.to_string())
}

pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let body = Full::new(body.into()).map_err(|never| match never {}).boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}

/// The contract's error answer: `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// `answer`, with the connection closed after it: for an answer sent before
/// the request's body was read, which leaves the connection's next bytes
/// unknown. Saying so lets a client that reuses connections open a fresh
/// one instead of finding this one reset under its next request.
pub fn closing(mut answer: Response) -> Response {
    answer.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    answer
}

/// Whether a request carries a body: one that an answer sent without
/// reading it leaves unread on the connection.
pub fn has_body<B>(req: &http::Request<B>) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.to_str().map_or(true, |length| length.trim() != "0"))
}
