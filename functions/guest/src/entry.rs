//! The functions' HTTP entry: the `wasi:http/incoming-handler` export that
//! turns the incoming request into a [`Request`], runs the function, and
//! writes its [`Response`].
//!
//! spin-sdk's `#[http_component]` does the same through its async executor:
//! every read and write of a body is a subscribe, a poll and a non-blocking
//! call, and every value crosses into the SDK's own types. A function here
//! answers one small request with one small JSON body, so this entry reads
//! and writes with the blocking calls of `wasi:io/streams`: fewer host
//! calls, and less guest code, per request. It exports the same interface,
//! so the component runs on Spin and on our host alike.
//!
//! Depends on `request` (the body limit) and `error` (the answer to a body
//! that cannot be read).

use crate::request::MAX_BODY_BYTES;
use crate::{respond, ApiError, Method, Request, Response};
use wasi::http::types::{ErrorCode, Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

#[doc(hidden)]
pub use wasi;

/// Exports `wasi:http/incoming-handler`, answering every request with
/// `$handler`, a `fn(&Request) -> Response` (or a closure that captures
/// nothing).
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

        $crate::entry::wasi::http::proxy::export!(HttpEntry with_types_in $crate::entry::wasi);
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
