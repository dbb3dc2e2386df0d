//! `GET /metrics` (Prometheus text) on the `--metrics-listen` address; the
//! admin API serves the same text at `/admin/metrics` for its dashboard.

use super::answer::{error, text};
use super::listen::serve_http;
use crate::handler::Response;
use crate::metrics::Metrics;
use http::StatusCode;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves `GET /metrics` on `listener`, for as long as the process lives.
pub async fn serve_metrics(metrics: Arc<Metrics>, listener: TcpListener) {
    serve_http(listener, move |req| {
        let answer = match (req.method(), req.uri().path()) {
            (&http::Method::GET | &http::Method::HEAD, "/metrics") => exposition(&metrics),
            _ => error(StatusCode::NOT_FOUND, "only GET /metrics is served here"),
        };
        std::future::ready(answer)
    })
    .await
}

/// The Prometheus text exposition of `metrics`, as an answer.
pub fn exposition(metrics: &Metrics) -> Response {
    text(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", metrics.render())
}
