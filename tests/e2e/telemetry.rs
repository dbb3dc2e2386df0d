//! OpenTelemetry export, seen from a real OTLP/HTTP receiver: a hyper server
//! on 127.0.0.1 inside the test that decodes every export with the official
//! protobuf definitions (`opentelemetry-proto`), while a real `newsfeed up`,
//! configured only by the standard `OTEL_*` variables, serves real requests.
//!
//! Each test asserts the spans of one request, found by the trace id in the
//! answer's `traceparent` header: their names, attributes, status and
//! parent ids; or the per-function metrics.

use crate::common;

use common::{Host, HostBuilder};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, HistogramDataPoint, Metric};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything the receiver has decoded, as exported.
#[derive(Default)]
struct Received {
    /// Each span, with its resource's `service.name`.
    spans: Vec<(String, Span)>,
    metrics: Vec<Metric>,
}

/// An OTLP/HTTP receiver on a free loopback port, serving until dropped.
struct Receiver {
    endpoint: String,
    received: Arc<Mutex<Received>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Received::default()));
        let sink = received.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let sink = sink.clone();
                let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                    let sink = sink.clone();
                    async move {
                        let path = request.uri().path().to_string();
                        let body = request.into_body().collect().await?.to_bytes();
                        let status = decode(&path, &body, &sink);
                        let mut answer = hyper::Response::new(Full::new(bytes::Bytes::new()));
                        *answer.status_mut() = status;
                        Ok::<_, hyper::Error>(answer)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        Receiver { endpoint, received, _runtime: runtime }
    }

    /// The spans of `trace_id` (hex), once `enough` holds of them, or
    /// whatever came within 20 s.
    fn spans_of(&self, trace_id: &str, enough: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans: Vec<Span> = self
                .received
                .lock()
                .unwrap()
                .spans
                .iter()
                .filter(|(_, span)| hex(&span.trace_id) == trace_id)
                .map(|(_, span)| span.clone())
                .collect();
            if enough(&spans) || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The data points of the histogram `name` for function `faas_name`,
    /// with its unit, once some have come (or after 20 s).
    fn histogram(&self, name: &str, faas_name: &str) -> (String, Vec<HistogramDataPoint>) {
        self.histogram_until(name, faas_name, |points| !points.is_empty())
    }

    /// The histogram's points once `done` holds of them (or after 20 s):
    /// exports keep coming, each with the counts so far.
    fn histogram_until(
        &self,
        name: &str,
        faas_name: &str,
        done: impl Fn(&[HistogramDataPoint]) -> bool,
    ) -> (String, Vec<HistogramDataPoint>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut unit = String::new();
            let points: Vec<HistogramDataPoint> = self
                .received
                .lock()
                .unwrap()
                .metrics
                .iter()
                .filter(|metric| metric.name == name)
                .flat_map(|metric| {
                    unit = metric.unit.clone();
                    match &metric.data {
                        Some(metric::Data::Histogram(histogram)) => histogram.data_points.clone(),
                        _ => Vec::new(),
                    }
                })
                .filter(|point| string(&point.attributes, "faas.name").as_deref() == Some(faas_name))
                .collect();
            if done(&points) || Instant::now() > deadline {
                return (unit, points);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Decodes one export into `sink`; the HTTP status to answer.
fn decode(path: &str, body: &[u8], sink: &Mutex<Received>) -> hyper::StatusCode {
    let mut sink = sink.lock().unwrap();
    match path {
        "/v1/traces" => match ExportTraceServiceRequest::decode(body) {
            Ok(export) => {
                for resource in export.resource_spans {
                    let service = resource
                        .resource
                        .as_ref()
                        .and_then(|resource| string(&resource.attributes, "service.name"))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        sink.spans.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
                    }
                }
                hyper::StatusCode::OK
            }
            Err(_) => hyper::StatusCode::BAD_REQUEST,
        },
        "/v1/metrics" => match ExportMetricsServiceRequest::decode(body) {
            Ok(export) => {
                let metrics = export.resource_metrics.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics);
                sink.metrics.extend(metrics);
                hyper::StatusCode::OK
            }
            Err(_) => hyper::StatusCode::BAD_REQUEST,
        },
        _ => hyper::StatusCode::NOT_FOUND,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    match value(attributes, key)? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match value(attributes, key)? {
        any_value::Value::IntValue(number) => Some(*number),
        _ => None,
    }
}

/// The one span named `name` among `spans`.
fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|span| span.name == name).collect();
    assert_eq!(found.len(), 1, "one span {name:?} in {:#?}", names(spans));
    found[0]
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|span| span.name.as_str()).collect()
}

fn has(name: &'static str) -> impl Fn(&[Span]) -> bool {
    move |spans| spans.iter().any(|span| span.name == name)
}

fn status(span: &Span) -> StatusCode {
    span.status.as_ref().map(|status| status.code()).unwrap_or(StatusCode::Unset)
}

/// `newsfeed up` with `flags`, exporting to `receiver` by the standard
/// variables only; its stderr goes to `log`, when given.
fn host(receiver: &Receiver, flags: &[&str], log: Option<&std::path::Path>) -> Host {
    exporting(receiver, Host::builder().flags(flags), log).start()
}

/// `builder`, exporting to `receiver` by the standard variables only; its
/// stderr goes to `log`, when given.
fn exporting(receiver: &Receiver, builder: HostBuilder, log: Option<&std::path::Path>) -> HostBuilder {
    let endpoint = receiver.endpoint.clone();
    let log = log.map(|path| std::fs::File::create(path).unwrap());
    builder.adjust(move |command| {
        command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_SERVICE_NAME", "newsfeed-under-test")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "300");
        if let Some(log) = log {
            command.stderr(Stdio::from(log));
        }
    })
}

/// The trace id of an answer's `traceparent` header.
fn trace_of(answer: &common::Answer) -> String {
    let header = answer.headers.get("traceparent").expect("a traceparent header on the answer");
    let parts: Vec<&str> = header.to_str().unwrap().split('-').collect();
    assert_eq!((parts.len(), parts[0]), (4, "00"), "{header:?}");
    parts[1].to_string()
}

#[test]
fn one_request_is_a_tree_server_execute_instantiate_and_host_calls() {
    let receiver = Receiver::start();
    let host = host(&receiver, &[], None);
    let id = host.participant("ada");
    let answer = host.get(&format!("/participant/{id}"));
    assert_eq!(answer.status, 200);
    let trace = trace_of(&answer);
    let spans = receiver.spans_of(&trace, |spans| spans.len() >= 4);

    let server = named(&spans, "GET /participant/:id");
    assert_eq!(server.kind(), SpanKind::Server);
    assert!(server.parent_span_id.is_empty(), "a root span");
    let attributes = &server.attributes;
    assert_eq!(string(attributes, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(string(attributes, "url.path"), Some(format!("/participant/{id}")));
    assert_eq!(string(attributes, "http.route").as_deref(), Some("/participant/:id"));
    assert_eq!(int(attributes, "http.response.status_code"), Some(200));
    assert_eq!(string(attributes, "client.address").as_deref(), Some("127.0.0.1"));
    assert_ne!(status(server), StatusCode::Error);

    let execute = named(&spans, "execute_wasm_component participant");
    assert_eq!(execute.parent_span_id, server.span_id, "execute is the server span's child");
    assert_eq!(string(&execute.attributes, "faas.name").as_deref(), Some("participant"));
    let version = string(&execute.attributes, "faas.version").expect("the version");
    assert_eq!(version.len(), 64, "the wasm's sha256: {version}");

    let instantiate = named(&spans, "instantiate_wasm_component participant");
    assert_eq!(instantiate.parent_span_id, execute.span_id);

    let call = named(&spans, "feed.get_participant");
    assert_eq!(call.parent_span_id, execute.span_id, "a host call is the execution's child");
    assert_eq!(call.kind(), SpanKind::Client);
    assert_eq!(string(&call.attributes, "db.system").as_deref(), Some("sqlite"));
    assert_eq!(string(&call.attributes, "db.operation.name").as_deref(), Some("get_participant"));
    assert_eq!(int(&call.attributes, "db.response.returned_rows"), Some(1));

    let service =
        receiver.received.lock().unwrap().spans.iter().find(|(_, s)| s.span_id == server.span_id).unwrap().0.clone();
    assert_eq!(service, "newsfeed-under-test", "OTEL_SERVICE_NAME names the service");
}

/// `GET path` as the child of the caller's sampled span `parent` in `trace`.
fn get_below(host: &Host, path: &str, trace: &str, parent: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .get(format!("{}{path}", host.base))
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .send()
        .unwrap()
}

#[test]
fn a_callers_traceparent_is_continued() {
    let receiver = Receiver::start();
    let host = host(&receiver, &[], None);
    let id = host.participant("grace");
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let response = get_below(&host, &format!("/participant/{id}"), trace, parent);
    assert_eq!(response.status(), 200);
    let answered = response.headers()["traceparent"].to_str().unwrap().to_string();
    assert!(answered.starts_with(&format!("00-{trace}-")), "the answer names the caller's trace: {answered}");
    let spans = receiver.spans_of(trace, has("GET /participant/:id"));
    let server = named(&spans, "GET /participant/:id");
    assert_eq!(hex(&server.parent_span_id), parent, "the server span is the caller's span's child");
    assert!(answered.contains(&hex(&server.span_id)), "the answer names the server span: {answered}");
}

/// The flags of an answer's `traceparent`: whether its trace was sampled.
fn sampled(answer: &common::Answer) -> bool {
    let header = answer.headers.get("traceparent").expect("a traceparent header on the answer");
    header.to_str().unwrap().ends_with("-01")
}

/// `host`, its sampler `OTEL_TRACES_SAMPLER=sampler` (with `argument`).
fn sampling(receiver: &Receiver, sampler: &'static str, argument: Option<&'static str>) -> Host {
    let builder = Host::builder().adjust(move |command| {
        command.env("OTEL_TRACES_SAMPLER", sampler);
        if let Some(argument) = argument {
            command.env("OTEL_TRACES_SAMPLER_ARG", argument);
        }
    });
    exporting(receiver, builder, None).start()
}

#[test]
fn an_unsampled_request_makes_no_span_and_its_answer_says_it_was_not_sampled() {
    let receiver = Receiver::start();
    let host = sampling(&receiver, "parentbased_always_off", None);
    // A write too: its group commit carries no sampled request, so it has
    // no span either.
    let created = host.post("/participant", r#"{"name": "ida"}"#);
    assert_eq!(created.status, 200);
    assert!(!sampled(&created), "{:?}", created.headers.get("traceparent"));
    let unsampled = trace_of(&created);

    // A caller's sampled trace is followed: its spans are exported after
    // any the first request could have had.
    let (trace, parent) = ("5bf92f3577b34da6a3ce929d0e0e4737", "00f067aa0ba902b8");
    let response = get_below(&host, "/participant/1", trace, parent);
    assert!(response.headers()["traceparent"].to_str().unwrap().ends_with("-01"));
    receiver.spans_of(trace, has("GET /participant/:id"));
    let received = receiver.received.lock().unwrap();
    let spans: Vec<&Span> = received.spans.iter().map(|(_, span)| span).collect();
    assert!(spans.iter().all(|span| hex(&span.trace_id) != unsampled), "spans of an unsampled trace were exported");
    assert!(spans.iter().all(|span| span.name != "sqlite.group_commit"), "a commit of unsampled writes had a span");
}

#[test]
fn a_ratio_sampler_samples_its_share_of_requests() {
    let receiver = Receiver::start();
    let host = sampling(&receiver, "traceidratio", Some("0.25"));
    let id = host.participant("ratio");
    let answers: Vec<bool> = (0..400).map(|_| sampled(&host.get(&format!("/participant/{id}")))).collect();
    let kept = answers.iter().filter(|sampled| **sampled).count();
    // 400 draws at 0.25: 100 expected, outside 60..=140 about once in 10^5.
    assert!((60..=140).contains(&kept), "{kept} of 400 sampled at 0.25");
}

#[test]
fn a_trap_marks_the_execution_and_the_server_span_failed_with_its_kind() {
    let receiver = Receiver::start();
    let host = host(&receiver, &[], None);
    let answer = host.send("GET", "/faults/trap", None);
    assert_eq!(answer.status, 500);
    let spans = receiver.spans_of(&trace_of(&answer), has("execute_wasm_component faults"));
    let server = named(&spans, "GET /faults/...");
    assert_eq!(status(server), StatusCode::Error);
    assert_eq!(int(&server.attributes, "http.response.status_code"), Some(500));
    assert_eq!(string(&server.attributes, "error.type").as_deref(), Some("trap"));
    let execute = named(&spans, "execute_wasm_component faults");
    assert_eq!(status(execute), StatusCode::Error);
    assert_eq!(string(&execute.attributes, "error.type").as_deref(), Some("trap"));
}

#[test]
fn the_group_commit_is_its_own_span_linked_to_the_writes_it_carried() {
    let receiver = Receiver::start();
    let host = host(&receiver, &[], None);
    let answer = host.post("/participant", r#"{"name": "linus"}"#);
    assert_eq!(answer.status, 200);
    let trace = trace_of(&answer);
    let spans = receiver.spans_of(&trace, has("feed.create_participant"));
    let write = named(&spans, "feed.create_participant");
    let deadline = Instant::now() + Duration::from_secs(20);
    let commit = loop {
        let commits: Vec<Span> = receiver
            .received
            .lock()
            .unwrap()
            .spans
            .iter()
            .map(|(_, span)| span.clone())
            .filter(|span| span.name == "sqlite.group_commit")
            .filter(|span| {
                span.links.iter().any(|link| link.span_id == write.span_id && link.trace_id == write.trace_id)
            })
            .collect();
        if let Some(commit) = commits.into_iter().next() {
            break commit;
        }
        assert!(Instant::now() < deadline, "no group commit span links the write {}", hex(&write.span_id));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_ne!(commit.trace_id, write.trace_id, "a commit is its own trace, shared by the requests it carries");
    assert_eq!(string(&commit.attributes, "db.system").as_deref(), Some("sqlite"));
    assert!(int(&commit.attributes, "db.operation.batch.size").is_some_and(|size| size >= 1));
}

#[test]
fn under_as_spin_each_spin_sqlite_statement_is_a_span() {
    let receiver = Receiver::start();
    let host = host(&receiver, &["--as-spin"], None);
    let id = host.participant("margaret");
    let answer = host.get(&format!("/participant/{id}"));
    assert_eq!(answer.status, 200);
    let spans = receiver.spans_of(&trace_of(&answer), has("spin_sqlite.execute"));
    let execute = named(&spans, "execute_wasm_component participant");
    let statements: Vec<&Span> = spans.iter().filter(|span| span.name == "spin_sqlite.execute").collect();
    assert!(!statements.is_empty(), "{:?}", names(&spans));
    for statement in statements {
        assert_eq!(statement.parent_span_id, execute.span_id);
        assert_eq!(string(&statement.attributes, "db.system").as_deref(), Some("sqlite"));
        assert!(string(&statement.attributes, "db.operation.name").is_some_and(|op| !op.is_empty()));
    }
}

#[test]
fn on_postgresql_the_host_calls_are_spans_of_db_system_postgresql() {
    let receiver = Receiver::start();
    let url = common::postgres::shared().new_database();
    let host = exporting(&receiver, Host::builder().flags(&["--database", &url]), None).start();
    let id = host.participant("grace");
    let answer = host.get(&format!("/participant/{id}"));
    assert_eq!(answer.status, 200);
    let spans = receiver.spans_of(&trace_of(&answer), has("feed.get_participant"));
    let execute = named(&spans, "execute_wasm_component participant");
    let call = named(&spans, "feed.get_participant");
    assert_eq!(call.parent_span_id, execute.span_id, "a host call is the execution's child");
    assert_eq!(string(&call.attributes, "db.system").as_deref(), Some("postgresql"));
    assert_eq!(int(&call.attributes, "db.response.returned_rows"), Some(1));
}

#[test]
fn under_as_spin_on_postgresql_each_statement_is_a_span() {
    let receiver = Receiver::start();
    let server = common::postgres::shared();
    let builder = common::postgres::spin_host_builder(&server.new_database(), &format!("127.0.0.1:{}", server.port));
    let host = exporting(&receiver, builder, None).start();
    let id = host.participant("frances");
    let answer = host.get(&format!("/participant/{id}"));
    assert_eq!(answer.status, 200);
    let spans = receiver.spans_of(&trace_of(&answer), has("spin_outbound_pg.query"));
    let execute = named(&spans, "execute_wasm_component participant");
    let statements: Vec<&Span> = spans.iter().filter(|span| span.name.starts_with("spin_outbound_pg.")).collect();
    assert!(!statements.is_empty(), "{:?}", names(&spans));
    for statement in &statements {
        assert_eq!(statement.parent_span_id, execute.span_id, "{:?}", names(&spans));
        assert_eq!(string(&statement.attributes, "db.system").as_deref(), Some("postgresql"));
        assert!(string(&statement.attributes, "db.operation.name").is_some_and(|op| !op.is_empty()));
    }
}

#[test]
fn under_native_each_functions_cpu_time_is_measured() {
    let receiver = Receiver::start();
    let host = host(&receiver, &["--native", "--metrics-listen", "127.0.0.1:0"], None);
    let id = host.participant("kathleen");
    for _ in 0..3 {
        assert_eq!(host.get(&format!("/participant/{id}")).status, 200);
    }
    let measured = |points: &[HistogramDataPoint]| points.iter().any(|point| point.count >= 4 && point.sum > Some(0.0));
    let (_, cpu) = receiver.histogram_until("newsfeed.function.cpu_time", "participant", measured);
    assert!(measured(&cpu), "{cpu:?}");
    let scraped = host.scrape();
    assert!(common::metric(&scraped, r#"newsfeed_function_cpu_time_seconds_count{function="participant"}"#) >= 4.0);
}

#[test]
fn under_native_the_host_calls_are_the_executions_children() {
    let receiver = Receiver::start();
    let host = host(&receiver, &["--native"], None);
    let id = host.participant("barbara");
    let answer = host.get(&format!("/participant/{id}"));
    let spans = receiver.spans_of(&trace_of(&answer), has("feed.get_participant"));
    let execute = named(&spans, "execute_native participant");
    assert_eq!(named(&spans, "feed.get_participant").parent_span_id, execute.span_id);
}

#[test]
fn each_functions_cost_is_exported_scraped_and_listed() {
    let receiver = Receiver::start();
    let flags = ["--metrics-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--admin-token", "secret"];
    let host = host(&receiver, &flags, None);
    let id = host.participant("edsger");
    for _ in 0..5 {
        assert_eq!(host.get(&format!("/participant/{id}")).status, 200);
    }
    assert_eq!(host.send("GET", "/faults/trap", None).status, 500);

    let (unit, cpu) = receiver.histogram("newsfeed.function.cpu_time", "participant");
    assert_eq!(unit, "s");
    assert!(cpu.iter().any(|point| point.count >= 5 && point.sum.unwrap_or(0.0) > 0.0), "{cpu:?}");
    let (unit, memory) = receiver.histogram("newsfeed.function.memory_used", "participant");
    assert_eq!(unit, "By");
    assert!(memory.iter().any(|point| point.sum.unwrap_or(0.0) >= 65536.0), "{memory:?}");
    let (unit, instantiation) = receiver.histogram("newsfeed.function.instantiation.duration", "participant");
    assert_eq!(unit, "s");
    assert!(!instantiation.is_empty());
    let (unit, duration) = receiver.histogram("http.server.request.duration", "participant");
    assert_eq!(unit, "s");
    assert!(duration.iter().any(|point| point.count >= 5), "{duration:?}");

    let scraped = host.scrape();
    assert!(common::metric(&scraped, r#"newsfeed_function_cpu_time_seconds_count{function="participant"}"#) >= 5.0);
    assert!(common::metric(&scraped, r#"newsfeed_function_memory_used_bytes_sum{function="participant"}"#) > 0.0);

    let listed: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/admin/functions", host.admin.as_ref().unwrap()))
        .bearer_auth("secret")
        .send()
        .and_then(|answer| answer.text())
        .map(|text| serde_json::from_str(&text).expect("the function list is JSON"))
        .unwrap();
    let function = |name: &str| listed.as_array().unwrap().iter().find(|f| f["name"] == name).unwrap().clone();
    let participant = function("participant");
    assert!(participant["p50_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{participant}");
    assert!(participant["p99_ms"].as_f64() >= participant["p50_ms"].as_f64(), "{participant}");
    assert!(participant["cpu_us_per_request"].as_f64().is_some_and(|us| us > 0.0), "{participant}");
    assert_eq!(function("faults")["failures"]["trap"], 1);
}

#[test]
fn json_logs_carry_the_trace_and_span_ids_of_the_request() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let host = host(&receiver, &["--log-format", "json"], Some(&log));
    let answer = host.send("GET", "/faults/trap", None);
    let trace = trace_of(&answer);
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        // The rest of stderr is the guest's own (its panic message).
        let ours: Vec<&str> = text.lines().filter(|line| line.starts_with('{')).collect();
        let lines: Vec<serde_json::Value> = ours.iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
        assert_eq!(lines.len(), ours.len(), "each log line is one JSON object:\n{text}");
        if let Some(line) = lines.into_iter().find(|line| line["trace_id"] == trace.as_str()) {
            break line;
        }
        assert!(Instant::now() < deadline, "no log line of trace {trace}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(line["level"], "WARN", "{line}");
    assert!(line["message"].as_str().unwrap().contains("trapped"), "{line}");
    assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
}

#[test]
fn without_an_endpoint_nothing_is_exported_and_no_traceparent_is_sent() {
    let host = Host::start();
    let id = host.participant("alan");
    assert!(host.get(&format!("/participant/{id}")).headers.get("traceparent").is_none());
}
