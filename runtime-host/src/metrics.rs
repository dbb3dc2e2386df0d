//! Prometheus metrics, per function, served as text at `GET /metrics` on the
//! `--metrics-listen` address: requests by status class, latency,
//! instantiation time, traps and deadline kills, and the version loaded.

use crate::listen::serve_http;
use crate::server::{error, text, Server};
use http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabel {
    function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    function: String,
    /// `2xx`, `4xx`, `5xx`, ...
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    function: String,
    /// `trap`, `deadline` or `capacity`.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    function: String,
    version: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<StatusLabels, Counter>,
    latency: Family<FunctionLabel, Histogram>,
    instantiation: Family<FunctionLabel, Histogram>,
    failures: Family<FailureLabels, Counter>,
    versions: Family<VersionLabels, Gauge>,
}

/// Buckets from 10 µs to about 10 s, in seconds.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-5, 4.0, 11))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("newsfeed");
        let requests = Family::default();
        let latency = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let instantiation = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let failures = Family::default();
        let versions = Family::default();
        registry.register("requests", "Requests answered, by function and status class", requests.clone());
        registry.register("request_duration_seconds", "Time to the answer's headers, by function", latency.clone());
        registry.register(
            "instantiation_seconds",
            "Time to instantiate a fresh instance, by function",
            instantiation.clone(),
        );
        registry.register(
            "failures",
            "Requests a function failed to answer: trap, deadline or capacity",
            failures.clone(),
        );
        registry.register("function_version", "1 for the version (sha256) each function serves", versions.clone());
        Metrics { registry, requests, latency, instantiation, failures, versions }
    }
}

fn label(function: &str) -> FunctionLabel {
    FunctionLabel { function: function.to_string() }
}

impl Metrics {
    pub fn answered(&self, function: &str, status: u16, elapsed: Duration) {
        let class = format!("{}xx", status / 100);
        self.requests.get_or_create(&StatusLabels { function: function.to_string(), class }).inc();
        self.latency.get_or_create(&label(function)).observe(elapsed.as_secs_f64());
    }

    pub fn instantiated(&self, function: &str, elapsed: Duration) {
        self.instantiation.get_or_create(&label(function)).observe(elapsed.as_secs_f64());
    }

    pub fn failed(&self, function: &str, kind: &str) {
        self.failures.get_or_create(&FailureLabels { function: function.to_string(), kind: kind.to_string() }).inc();
    }

    /// Records that `function` now serves `version`, and no longer `old`.
    pub fn loaded(&self, function: &str, old: Option<&str>, version: &str) {
        if let Some(old) = old {
            self.versions.remove(&VersionLabels { function: function.to_string(), version: old.to_string() });
        }
        self.versions
            .get_or_create(&VersionLabels { function: function.to_string(), version: version.to_string() })
            .set(1);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}

/// Serves `GET /metrics` on `listener`, for as long as the process lives.
pub async fn serve_metrics(server: Arc<Server>, listener: TcpListener) {
    serve_http(listener, move |req| {
        let answer = match (req.method(), req.uri().path()) {
            (&http::Method::GET, "/metrics") => {
                text(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", server.shared.metrics.render())
            }
            _ => error(StatusCode::NOT_FOUND, "only GET /metrics is served here"),
        };
        std::future::ready(answer)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_function_and_class_and_tracks_the_version() {
        let metrics = Metrics::default();
        metrics.answered("search", 200, Duration::from_millis(2));
        metrics.answered("search", 404, Duration::from_millis(1));
        metrics.answered("search", 200, Duration::from_millis(1));
        metrics.failed("search", "trap");
        metrics.loaded("search", None, "aaa");
        metrics.loaded("search", Some("aaa"), "bbb");
        let text = metrics.render();
        assert!(text.contains(r#"newsfeed_requests_total{function="search",class="2xx"} 2"#), "{text}");
        assert!(text.contains(r#"newsfeed_requests_total{function="search",class="4xx"} 1"#), "{text}");
        assert!(text.contains(r#"newsfeed_failures_total{function="search",kind="trap"} 1"#), "{text}");
        assert!(text.contains(r#"newsfeed_request_duration_seconds_count{function="search"} 3"#), "{text}");
        assert!(text.contains(r#"newsfeed_function_version{function="search",version="bbb"} 1"#), "{text}");
        assert!(!text.contains(r#"version="aaa""#), "{text}");
    }
}
