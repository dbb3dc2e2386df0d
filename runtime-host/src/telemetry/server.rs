//! The server span of one request, with the semantic conventions' HTTP
//! attributes: made when the request arrives, named by its method and the
//! manifest route it matches (by its method alone when none does), and
//! given the answer's status. Integers are recorded as `i64`:
//! tracing-opentelemetry would record a `u64` as a string.

use super::{continue_trace, traceparent, traces_on, TARGET};
use std::net::SocketAddr;
use tracing::field::Empty;
use tracing::Span;

/// The client's address, put in a request's extensions by the accept loop
/// while spans are exported.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub SocketAddr);

/// A new server span for `request`, continuing its caller's trace if it
/// carries a `traceparent`; `route` finds the manifest route of a path
/// (asked only while spans are exported).
pub fn span<B, R: std::fmt::Display>(request: &http::Request<B>, route: impl FnOnce(&str) -> Option<R>) -> Span {
    if !traces_on() {
        return Span::none();
    }
    let client = request.extensions().get::<ClientAddress>().map(|client| client.0);
    let method = request.method();
    let route = route(request.uri().path());
    // The name is the span's from the start: a started span keeps it.
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = name.as_str(),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        url.scheme = "http",
        http.route = route.as_ref().map(display),
        http.response.status_code = Empty,
        client.address = client.map(|client| display(client.ip())),
        client.port = client.map(|client| i64::from(client.port())),
        error.type = Empty,
    );
    continue_trace(&span, request.headers());
    span
}

/// Records the answer's status on `span` (a 5xx is an error, as the
/// conventions say of a server span; [`fail`](super::fail) tells its kind),
/// and gives the answer a `traceparent`
/// header naming the trace, so that a user can look the request up.
pub fn answered<B>(span: &Span, response: &mut http::Response<B>) {
    if !traces_on() {
        return;
    }
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    if let Some(header) = traceparent(span) {
        response.headers_mut().insert("traceparent", header);
    }
}
