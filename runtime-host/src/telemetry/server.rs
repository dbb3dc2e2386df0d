//! The server span of one request, with the semantic conventions' HTTP
//! attributes: made when the request arrives, named by its method and the
//! manifest route it matches (by its method alone when none does), and
//! given the answer's status. Integers are recorded as `i64`:
//! tracing-opentelemetry would record a `u64` as a string.
//!
//! The sampler (`OTEL_TRACES_SAMPLER`) decides here, once, before any span
//! is made: a request whose trace is not sampled gets no span at all, so
//! it costs the ids of its answer's `traceparent` and nothing more. Every
//! span made below a sampled server span is kept (the SDK's own sampler is
//! always-on).

use super::{caller, sampler, traceparent, traces_on, TARGET, TRACEPARENT};
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SamplingDecision, ShouldSample};
use std::net::SocketAddr;
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The client's address, which the accept loop hands over with each request
/// while spans are exported.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub SocketAddr);

/// A request's place in a trace: its server span if the trace is sampled,
/// else only the ids its answer names.
pub struct ServerSpan {
    span: Span,
    unsampled: Option<SpanContext>,
}

impl ServerSpan {
    /// The span to run the request in ([`Span::none`] unless sampled).
    pub fn span(&self) -> &Span {
        &self.span
    }
}

/// The server span for `request`, continuing its caller's trace if it
/// carries a `traceparent`, if the sampler samples it; `route` finds the
/// manifest route of a path (asked only for a sampled request).
pub fn span<B, R: std::fmt::Display>(
    request: &http::Request<B>,
    client: Option<ClientAddress>,
    route: impl FnOnce(&str) -> Option<R>,
) -> ServerSpan {
    if !traces_on() {
        return ServerSpan { span: Span::none(), unsampled: None };
    }
    let caller = caller(request.headers());
    let ids = RandomIdGenerator::default();
    let trace_id = match caller.span().span_context() {
        parent if parent.is_valid() => parent.trace_id(),
        _ => ids.new_trace_id(),
    };
    if !is_sampled(&caller, trace_id) {
        let own = SpanContext::new(trace_id, ids.new_span_id(), TraceFlags::default(), false, TraceState::NONE);
        return ServerSpan { span: Span::none(), unsampled: Some(own) };
    }
    let client = client.map(|client| client.0);
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
    if caller.span().span_context().is_valid() {
        let _ = span.set_parent(caller);
    }
    ServerSpan { span, unsampled: None }
}

/// The sampler's decision for a new server span in `trace_id`, below
/// `caller` (an empty context when there is none). A sampled root span is
/// then given its trace id by the SDK: a ratio's share holds all the same,
/// since the id decided on is as random as the one used.
fn is_sampled(caller: &opentelemetry::Context, trace_id: TraceId) -> bool {
    let decision = sampler().should_sample(Some(caller), trace_id, "request", &SpanKind::Server, &[], &[]);
    decision.decision == SamplingDecision::RecordAndSample
}

/// Records the answer's status on `span` (a 5xx is an error, as the
/// conventions say of a server span; [`fail`](super::fail) tells its kind),
/// and gives the answer a `traceparent`
/// header naming the trace, so that a user can look the request up (its
/// flags say whether it was sampled).
pub fn answered<B>(server: &ServerSpan, response: &mut http::Response<B>) {
    if !traces_on() {
        return;
    }
    if let Some(ids) = &server.unsampled {
        if let Some(header) = super::traceparent_of(ids) {
            response.headers_mut().insert(TRACEPARENT, header);
        }
        return;
    }
    let span = &server.span;
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    if let Some(header) = traceparent(span) {
        response.headers_mut().insert(TRACEPARENT, header);
    }
}
