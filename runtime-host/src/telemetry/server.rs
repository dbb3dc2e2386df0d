//! The server span of one request, with the semantic conventions' HTTP
//! attributes: made when the request arrives (named by its method), named
//! by its route once routed, and given the answer's status.

use super::{continue_trace, traceparent, traces_on, TARGET};
use std::net::SocketAddr;
use tracing::field::{display, Empty};
use tracing::Span;

/// The client's address, put in a request's extensions by the accept loop
/// while spans are exported.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub SocketAddr);

/// A new server span for `request`, continuing its caller's trace if it
/// carries a `traceparent`.
pub fn span<B>(request: &http::Request<B>) -> Span {
    if !traces_on() {
        return Span::none();
    }
    let client = request.extensions().get::<ClientAddress>().map(|client| client.0);
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = %request.method(),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        url.scheme = "http",
        http.route = Empty,
        http.response.status_code = Empty,
        client.address = client.map(|client| display(client.ip())),
        client.port = client.map(|client| client.port()),
        error.type = Empty,
    );
    continue_trace(&span, request.headers());
    span
}

/// Names the current server span by the manifest `route` that matched.
pub fn routed(method: &http::Method, route: &impl std::fmt::Display) {
    if !traces_on() {
        return;
    }
    let span = Span::current();
    span.record("http.route", display(route));
    span.record("otel.name", format!("{method} {route}").as_str());
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
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    if let Some(header) = traceparent(span) {
        response.headers_mut().insert("traceparent", header);
    }
}
