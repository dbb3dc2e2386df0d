//! The functions' two entries, from the same code: `wasi:http/incoming-handler`
//! (what Spin calls) and the lean `newsfeed:feed/handler` (what our host
//! calls when a component has it). Each turns its input into the same
//! [`Request`], runs the same function, and hands back its [`Response`].
//!
//! spin-sdk's `#[http_component]` does the standard half through its async
//! executor: every read and write of a body is a subscribe, a poll and a
//! non-blocking call, and every value crosses into the SDK's own types. A
//! function here answers one small request with one small JSON body, so this
//! entry reads and writes with the blocking calls of `wasi:io/streams`: fewer
//! host calls, and less guest code, per request. The lean entry has no
//! streams at all: the request arrives as one record, the answer leaves as
//! one.
//!
//! Depends on `request` (the body limit) and `error` (the answer to a body
//! that cannot be read).

use crate::request::MAX_BODY_BYTES;
use crate::{respond, ApiError, Method, Request, Response};
use wasi::http::types::{ErrorCode, Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

#[doc(hidden)]
pub use wasi;

/// Bindings for the lean entry (world `lean-entry` of `wit/feed.wit`): the
/// `Guest` trait `http_entry!` implements, and the macro that exports it.
#[doc(hidden)]
pub mod lean {
    wit_bindgen::generate!({
        world: "lean-entry",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_lean",
        default_bindings_module: "newsfeed_guest::entry::lean",
    });
}

use lean::exports::newsfeed::feed::handler;

/// Exports `wasi:http/incoming-handler` and the lean `newsfeed:feed/handler`,
/// answering every request on either with `$handler`, a
/// `fn(&Request) -> Response` (or a closure that captures nothing).
#[macro_export]
macro_rules! http_entry {
    ($handler:expr) => {
        $crate::implements!(env!("CARGO_PKG_NAME"));

        struct HttpEntry;

        impl $crate::entry::wasi::exports::http::incoming_handler::Guest for HttpEntry {
            fn handle(
                request: $crate::entry::wasi::http::types::IncomingRequest,
                out: $crate::entry::wasi::http::types::ResponseOutparam,
            ) {
                $crate::entry::serve(request, out, $handler)
            }
        }

        impl $crate::entry::lean::exports::newsfeed::feed::handler::Guest for HttpEntry {
            fn handle(
                request: $crate::entry::lean::exports::newsfeed::feed::handler::Request,
            ) -> $crate::entry::lean::exports::newsfeed::feed::handler::Response {
                $crate::entry::serve_lean(request, $handler)
            }
        }

        $crate::entry::wasi::http::proxy::export!(HttpEntry with_types_in $crate::entry::wasi);
        $crate::entry::lean::export_lean!(HttpEntry with_types_in $crate::entry::lean);
    };
}

/// Reads `request`, answers it with `handler`, and writes the answer to `out`.
pub fn serve(request: IncomingRequest, out: ResponseOutparam, handler: fn(&Request) -> Response) {
    let response = match read(&request) {
        Ok(request) => handler(&request),
        Err(error) => respond(Err(error)),
    };
    drop(request);
    write(out, response);
}

/// Answers the lean entry's `request` with `handler`. The caller has read
/// the body, at most one byte past the limit (our host's server refuses
/// more itself); a longer one is cut there all the same, so that the body
/// parser answers 413 just as it does on the standard entry.
pub fn serve_lean(request: handler::Request, handler: fn(&Request) -> Response) -> handler::Response {
    let handler::Request { method, path_with_query, mut body } = request;
    body.truncate(MAX_BODY_BYTES + 1);
    let request = Request::builder().method(lean_method(method)).uri(path_with_query).body(body).build();
    let response = handler(&request);
    handler::Response {
        status: *response.status(),
        headers: response.headers().map(|(name, value)| (name.to_string(), value.as_bytes().to_vec())).collect(),
        body: response.into_body(),
    }
}

/// The method the lean entry names, as `wasi:http` would have given it.
fn lean_method(method: String) -> Method {
    match method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        "CONNECT" => Method::Connect,
        "TRACE" => Method::Trace,
        _ => Method::Other(method),
    }
}

/// The request as the functions see it: method, path and query, and body
/// (read up to one byte past the limit, so that the body parser can answer
/// 413 without the rest ever being held).
fn read(request: &IncomingRequest) -> Result<Request, ApiError> {
    use wasi::http::types::Method as Wasi;
    let method = match request.method() {
        Wasi::Get => Method::Get,
        Wasi::Post => Method::Post,
        Wasi::Put => Method::Put,
        Wasi::Delete => Method::Delete,
        Wasi::Patch => Method::Patch,
        Wasi::Head => Method::Head,
        Wasi::Options => Method::Options,
        Wasi::Connect => Method::Connect,
        Wasi::Trace => Method::Trace,
        Wasi::Other(other) => Method::Other(other),
    };
    let uri = request.path_with_query().unwrap_or_else(|| "/".into());
    let unreadable = |_| ApiError::bad_request("the request body could not be read");
    let incoming = request.consume().map_err(unreadable)?;
    let stream = incoming.stream().map_err(unreadable)?;
    let mut body = Vec::new();
    while body.len() <= MAX_BODY_BYTES {
        match stream.blocking_read((MAX_BODY_BYTES + 1 - body.len()) as u64) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(wasi::io::streams::StreamError::Closed) => break,
            Err(wasi::io::streams::StreamError::LastOperationFailed(_)) => {
                return Err(ApiError::bad_request("the request body could not be read"))
            }
        }
    }
    drop(stream);
    Ok(Request::builder().method(method).uri(uri).body(body).build())
}

/// Sends `response`: its status and headers, then its body in the chunks
/// `blocking-write-and-flush` takes (at most 4096 bytes each).
fn write(out: ResponseOutparam, response: Response) {
    let headers: Vec<(String, Vec<u8>)> =
        response.headers().map(|(name, value)| (name.to_string(), value.as_bytes().to_vec())).collect();
    let outgoing = match Fields::from_list(&headers) {
        Ok(fields) => OutgoingResponse::new(fields),
        Err(error) => return fail(out, format!("the response headers were refused: {error:?}")),
    };
    if outgoing.set_status_code(*response.status()).is_err() {
        return fail(out, format!("the status {} was refused", response.status()));
    }
    // Taken once, from a response just made: cannot fail.
    let Ok(body) = outgoing.body() else {
        return fail(out, "the response body was already taken".into());
    };
    ResponseOutparam::set(out, Ok(outgoing));
    let Ok(stream) = body.write() else {
        return;
    };
    for chunk in response.body().chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            // The client has gone: nothing more to say.
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}

/// Answers with an error instead of a response: the host turns it into a 500.
fn fail(out: ResponseOutparam, message: String) {
    ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(message))));
}
