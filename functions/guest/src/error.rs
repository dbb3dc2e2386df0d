//! The API's error answers: a status and a message for a person, always sent
//! as `{"error": "..."}` with `Content-Type: application/json`.

use crate::{BackendError, Response};
use serde_json::{json, Value};

/// What a handler returns: the 200 answer, or what went wrong.
pub type Reply = Result<Answer, ApiError>;

/// A 200 answer: its JSON, and for a page of a list that has more, the
/// `Link` to the next page (RFC 8288, `<...>; rel="next"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub body: Value,
    pub link: Option<String>,
}

impl From<Value> for Answer {
    fn from(body: Value) -> Self {
        Answer { body, link: None }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// For 405: the methods the path does accept.
    pub allow: Option<&'static str>,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), allow: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub fn no_route(path: &str) -> Self {
        Self::new(404, format!("no route for {path}"))
    }

    /// 405, naming the methods that the path accepts (`"GET, POST"`).
    pub fn method_not_allowed(allow: &'static str) -> Self {
        ApiError { allow: Some(allow), ..Self::new(405, format!("method not allowed; use {allow}")) }
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(413, format!("request body is over the {limit}-byte limit"))
    }
}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::NotFound(message) => Self::new(404, message),
            BackendError::Invalid(message) => Self::new(400, message),
            // The backend's own words may name internals: keep them in the log.
            BackendError::Unavailable(detail) => {
                eprintln!("storage unavailable: {detail}");
                Self::new(503, "storage is unavailable, try again")
            }
        }
    }
}

/// Turns a handler's reply into the HTTP answer.
pub fn respond(reply: Reply) -> Response {
    let (status, body, header) = match reply {
        Ok(Answer { body, link }) => (200, body, link.map(|link| ("link", link))),
        Err(error) => {
            (error.status, json!({ "error": error.message }), error.allow.map(|allow| ("allow", allow.into())))
        }
    };
    let mut builder = Response::builder();
    builder.status(status).header("content-type", "application/json");
    if let Some((name, value)) = header {
        builder.header(name, value);
    }
    builder.body(body.to_string()).build()
}
