//! What the host tells about itself: its log lines (plain text or JSON), and
//! OpenTelemetry traces and metrics exported over OTLP/HTTP when the standard
//! `OTEL_*` variables ask for them ([`config`]), the way Spin and every
//! OpenTelemetry SDK read them.
//!
//! Export is off unless an endpoint is configured. Off, no tracing layer
//! listens to the spans of the [`TARGET`] target: `tracing` then caches that
//! no one is interested in their call sites, and a span costs a load of that
//! cache, with nothing allocated. On, the sampler (`OTEL_TRACES_SAMPLER`)
//! decides for each request as it arrives; only a sampled request's spans
//! are made, and `tracing-opentelemetry` turns them into OpenTelemetry spans,
//! which the SDK exports in batches from its own thread.
//!
//! The spans are made where the work happens, with plain `tracing` macros on
//! this target: the server span (`http::server`), instantiation and execution
//! (`wasm::instance`, `handler::native`), host calls (`backend::traced`,
//! `spin::sqlite`, `spin::postgres`) and the group commit (`backend::sqlite`).
//! This module holds what they share: the sampler's decision and the
//! caller's trace ([`server`]), the answer's `traceparent`, marking a failure, linking a commit to its
//! requests, and the per-thread CPU clock ([`cpu`]).
//!
//! A leaf: depends on nothing else in the host.

pub mod config;
pub mod cpu;
mod json;
pub mod server;

use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::Sampler;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The `tracing` target of every span meant for OpenTelemetry. The log
/// output never shows these spans; the exporter sees nothing else.
pub const TARGET: &str = "otel";

/// The W3C header naming a request's trace, as the caller sends it and as
/// the answer gives it back. A constant: a header named by a string has its
/// name parsed on every lookup and insert.
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, with the trace and span ids when there are.
    Json,
}

static TRACES: AtomicBool = AtomicBool::new(false);
/// The sampler of `OTEL_TRACES_SAMPLER`, set once spans are exported.
static SAMPLER: OnceLock<Sampler> = OnceLock::new();

/// The sampler that decides, for each request, whether its trace is kept.
fn sampler() -> &'static Sampler {
    SAMPLER.get_or_init(|| Sampler::AlwaysOff)
}
static METRICS: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: the spans' helpers do nothing otherwise.
pub fn traces_on() -> bool {
    TRACES.load(Ordering::Relaxed)
}

/// Whether spans are exported and the current request's trace is sampled.
/// A span made inside an unsampled trace would be built, attributes and
/// all, only to be dropped: the request's spans below its server span are
/// made only when this holds.
pub fn sampled() -> bool {
    if !traces_on() {
        return false;
    }
    let current = Span::current();
    !current.is_none() && current.context().span().span_context().is_sampled()
}

/// Whether metrics are exported over OTLP (Prometheus has them either way).
pub fn metrics_on() -> bool {
    METRICS.load(Ordering::Relaxed)
}

/// The exporters, flushed and stopped by [`Telemetry::shutdown`].
#[must_use = "shut it down on exit, or the last spans and metrics are lost"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Exports what is left and stops the exporters' threads.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces {
            if let Err(error) = traces.shutdown() {
                eprintln!("OpenTelemetry: the last spans were not exported: {error}");
            }
        }
        if let Some(metrics) = self.metrics {
            if let Err(error) = metrics.shutdown() {
                eprintln!("OpenTelemetry: the last metrics were not exported: {error}");
            }
        }
    }
}

/// Installs the global `tracing` subscriber (logs in `format`, filtered by
/// `RUST_LOG`, `info` by default) and, as the environment configures them,
/// the OTLP exporters of traces and metrics.
///
/// Call it before any async runtime starts: the exporters' HTTP client is
/// a blocking one, which must not be built inside one.
pub fn init(format: LogFormat) -> anyhow::Result<Telemetry> {
    let settings = config::Settings::from_env(|name| std::env::var(name).ok())?;
    let resource = || resource(&settings);
    let traces = match &settings.traces {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint_from(endpoint)
                .build()
                .context("the OTLP span exporter")?;
            // OTEL_TRACES_SAMPLER decides at the server span
            // (`server::span`); what is made below it is kept.
            let _ = SAMPLER.set(settings.sampling.sampler());
            let provider = SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOn)
                .with_resource(resource())
                .with_batch_exporter(exporter)
                .build();
            Some(provider)
        }
        None => None,
    };
    let metrics = match &settings.metrics {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_endpoint_from(endpoint)
                .build()
                .context("the OTLP metric exporter")?;
            // Every OTEL_METRIC_EXPORT_INTERVAL (60 s by default).
            let reader = PeriodicReader::builder(exporter).build();
            let provider = SdkMeterProvider::builder().with_resource(resource()).with_reader(reader).build();
            opentelemetry::global::set_meter_provider(provider.clone());
            METRICS.store(true, Ordering::Relaxed);
            Some(provider)
        }
        None => None,
    };

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()).add_directive(
        format!("{TARGET}=off").parse::<tracing_subscriber::filter::Directive>().context("the log filter")?,
    );
    let logs = match format {
        // Colour codes only for a person at a terminal: a log file or a
        // collector gets plain lines.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .event_format(json::Json)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let spans = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("newsfeed"))
            // Only our spans, with our names: no code locations, thread
            // names, levels or targets as attributes.
            .with_location(false)
            .with_threads(false)
            .with_level(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            // Our code reads a span's context from the span itself, never
            // from OpenTelemetry's thread-local one: attaching it on every
            // poll's enter and exit cost more than making the spans did.
            .with_context_activation(false)
            // Our spans are all at INFO. A level above the logs' would lift
            // the `log` crate's maximum level with it: every `log::trace!`
            // in a dependency would then be turned into an event and
            // filtered, 29k instructions a request (callgrind).
            .with_filter(Targets::new().with_target(TARGET, tracing::Level::INFO))
    });
    tracing_subscriber::registry().with(logs).with(spans).try_init().context("installing the log subscriber")?;
    if traces.is_some() {
        TRACES.store(true, Ordering::Relaxed);
    }
    if let Some(endpoint) = &settings.traces {
        tracing::info!(%endpoint, "exporting traces over OTLP/HTTP");
    }
    if let Some(endpoint) = &settings.metrics {
        tracing::info!(%endpoint, "exporting metrics over OTLP/HTTP");
    }
    Ok(Telemetry { traces, metrics })
}

/// `service.name` is `newsfeed` unless OTEL_SERVICE_NAME or
/// OTEL_RESOURCE_ATTRIBUTES name it (the SDK reads both).
fn resource(settings: &config::Settings) -> Resource {
    let builder = Resource::builder();
    match settings.names_service {
        true => builder.build(),
        false => builder.with_service_name("newsfeed").build(),
    }
}

/// Where an exporter sends: the endpoint [`config`] resolved.
trait WithEndpointFrom {
    fn with_endpoint_from(self, endpoint: &str) -> Self;
}

impl<T: opentelemetry_otlp::WithExportConfig> WithEndpointFrom for T {
    fn with_endpoint_from(self, endpoint: &str) -> Self {
        self.with_protocol(opentelemetry_otlp::Protocol::HttpBinary).with_endpoint(endpoint)
    }
}

/// The context of the caller's trace, from an incoming W3C `traceparent`
/// (and `tracestate`); an empty context when there is none.
fn caller(headers: &http::HeaderMap) -> opentelemetry::Context {
    match headers.contains_key(TRACEPARENT) {
        true => TraceContextPropagator::new().extract(&Headers(headers)),
        false => opentelemetry::Context::new(),
    }
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The W3C `traceparent` of `span`, for the answer, so that a user can look
/// the request up by its trace id; `None` when spans are not exported.
pub fn traceparent(span: &Span) -> Option<http::HeaderValue> {
    if !traces_on() {
        return None;
    }
    traceparent_of(span.context().span().span_context())
}

/// The W3C `traceparent` naming `ids`, if they are valid.
fn traceparent_of(ids: &SpanContext) -> Option<http::HeaderValue> {
    if !ids.is_valid() {
        return None;
    }
    // `00-{trace id}-{span id}-{flags}`, in hex, written straight into the
    // bytes: through `format!` it cost more than the rest of an unsampled
    // request's tracing (3k instructions, callgrind).
    let mut value = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex(&ids.trace_id().to_bytes(), &mut value[3..35]);
    hex(&ids.span_id().to_bytes(), &mut value[36..52]);
    hex(&[ids.trace_flags().to_u8()], &mut value[53..55]);
    http::HeaderValue::from_bytes(&value).ok()
}

/// Writes `bytes` into `out` as lowercase hex, two digits a byte.
fn hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
}

/// The span of a function's execution: a child of the server span, parent
/// of the instantiation and of every host call the guest makes. Named as
/// Spin names it, for a wasm function.
pub fn execution_span(function: &str, version: &str, mode: &'static str) -> Span {
    if !sampled() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "execute",
        otel.name = %format_args!("execute_{} {function}", if mode == "wasm" { "wasm_component" } else { mode }),
        faas.name = function,
        faas.version = version,
        newsfeed.mode = mode,
    )
}

/// The span of a fresh instance's instantiation.
pub fn instantiation_span(function: &str) -> Span {
    if !sampled() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "instantiate",
        otel.name = %format_args!("instantiate_wasm_component {function}"),
        faas.name = function,
    )
}

/// The span of one SQL statement a guest runs through a Spin interface
/// (`spin_sqlite.execute`, `spin_outbound_pg.query`, as Spin names them);
/// its operation is the statement's first word. The rows are recorded with
/// [`returned_rows`], a failure with [`fail`].
pub fn statement_span(name: &'static str, system: &'static str, statement: &str) -> Span {
    if !sampled() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "host call",
        otel.name = name,
        otel.kind = "client",
        db.system = system,
        db.operation.name = statement.split_whitespace().next().unwrap_or_default().trim_end_matches(';'),
        db.response.returned_rows = tracing::field::Empty,
    )
}

/// Records on the current span how many rows a host call returned.
pub fn returned_rows(rows: usize) {
    if traces_on() {
        Span::current().record("db.response.returned_rows", rows as i64);
    }
}

/// Marks `span` failed, with the failure's kind as `error.type` (semantic
/// conventions): trap, deadline, capacity, overload, ...
pub fn fail(span: &Span, kind: &'static str, description: &str) {
    if !traces_on() {
        return;
    }
    span.set_attribute("error.type", kind);
    span.set_status(opentelemetry::trace::Status::error(description.to_string()));
}

/// The span context of the current span, for a link from work done on its
/// behalf elsewhere (a group commit); `None` unless the current trace is
/// sampled.
pub fn current_span_context() -> Option<SpanContext> {
    if !sampled() {
        return None;
    }
    let ids = Span::current().context().span().span_context().clone();
    ids.is_valid().then_some(ids)
}

/// Links `span` to the spans of the requests it served (see
/// [`current_span_context`]).
pub fn link(span: &Span, requesters: Vec<SpanContext>) {
    for requester in requesters {
        span.add_link(requester);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn a_traceparent_is_the_w3c_form_of_the_ids() {
        let ids = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let header = traceparent_of(&ids).unwrap();
        assert_eq!(header, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let unsampled = SpanContext::new(ids.trace_id(), ids.span_id(), TraceFlags::default(), false, TraceState::NONE);
        assert!(traceparent_of(&unsampled).unwrap().to_str().unwrap().ends_with("-00"));
        assert_eq!(traceparent_of(&SpanContext::empty_context()), None);
    }
}
