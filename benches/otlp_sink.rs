//! A real OTLP/HTTP receiver for the overhead benchmark
//! (`benches/scripts/otel-overhead.sh`): listens on 127.0.0.1, decodes every
//! trace and metric export with the official protobuf definitions, as a
//! collector would, and counts what it received. On SIGINT or SIGTERM it
//! prints the counts and exits.
//!
//!   cargo run --release --example otlp-sink -- 127.0.0.1:4318

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Counts {
    exports: AtomicU64,
    spans: AtomicU64,
    metric_points: AtomicU64,
    undecodable: AtomicU64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4318".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("OTLP sink on http://{}", listener.local_addr()?);
    let counts = Arc::new(Counts::default());
    let serving = serve(listener, counts.clone());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = serving => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    println!(
        "exports {} spans {} metrics {} undecodable {}",
        counts.exports.load(Ordering::Relaxed),
        counts.spans.load(Ordering::Relaxed),
        counts.metric_points.load(Ordering::Relaxed),
        counts.undecodable.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn serve(listener: tokio::net::TcpListener, counts: Arc<Counts>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let counts = counts.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let counts = counts.clone();
            async move {
                let path = request.uri().path().to_string();
                let body = request.into_body().collect().await?.to_bytes();
                counts.exports.fetch_add(1, Ordering::Relaxed);
                let decoded = match path.as_str() {
                    "/v1/traces" => ExportTraceServiceRequest::decode(body).map(|export| {
                        let spans = export.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len());
                        counts.spans.fetch_add(spans.sum::<usize>() as u64, Ordering::Relaxed);
                    }),
                    _ => ExportMetricsServiceRequest::decode(body).map(|export| {
                        let points = export
                            .resource_metrics
                            .iter()
                            .flat_map(|r| &r.scope_metrics)
                            .map(|s| s.metrics.len())
                            .sum::<usize>();
                        counts.metric_points.fetch_add(points as u64, Ordering::Relaxed);
                    }),
                };
                if decoded.is_err() {
                    counts.undecodable.fetch_add(1, Ordering::Relaxed);
                }
                let mut answer = hyper::Response::new(Full::new(bytes::Bytes::new()));
                if decoded.is_err() {
                    *answer.status_mut() = hyper::StatusCode::BAD_REQUEST;
                }
                Ok::<_, hyper::Error>(answer)
            }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service),
        );
    }
}
