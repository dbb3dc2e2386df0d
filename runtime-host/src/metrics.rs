//! Prometheus metrics, per function: requests by status class, latency,
//! instantiation time, traps and deadline kills, and the version loaded.
//! `http::metrics` serves them; everything that serves a request counts here.
//!
//! Depends on nothing else in the host.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

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
    /// `trap`, `deadline`, `capacity` or `instantiation`.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    function: String,
    version: String,
    /// `wasm` or `native`.
    mode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommitLabels {
    /// `ok` or `failed`.
    outcome: String,
}

pub struct Metrics {
    registry: Registry,
    batch_sizes: Histogram,
    commits: Family<CommitLabels, Counter>,
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
        let batch_sizes = Histogram::new(exponential_buckets(1.0, 2.0, 8));
        let commits = Family::default();
        registry.register("requests", "Requests answered, by function and status class", requests.clone());
        registry.register("request_duration_seconds", "Time to the answer's headers, by function", latency.clone());
        registry.register(
            "instantiation_seconds",
            "Time to instantiate a fresh instance, by function",
            instantiation.clone(),
        );
        registry.register(
            "failures",
            "Requests a function failed to answer: trap, deadline, capacity or instantiation",
            failures.clone(),
        );
        registry.register("function_version", "1 for the version (sha256) each function serves", versions.clone());
        registry.register(
            "write_batch_size",
            "Writes per commit of the embedded store's group commit",
            batch_sizes.clone(),
        );
        registry.register("commits", "Commits of the embedded store, by outcome (ok or failed)", commits.clone());
        Metrics { registry, batch_sizes, commits, requests, latency, instantiation, failures, versions }
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

    /// Records that `function` now serves `version`, run as `mode` (`wasm`
    /// or `native`), and no longer `old`.
    pub fn loaded(&self, function: &str, mode: impl std::fmt::Display, old: Option<&str>, version: &str) {
        let labels = |version: &str| VersionLabels {
            function: function.to_string(),
            version: version.to_string(),
            mode: mode.to_string(),
        };
        if let Some(old) = old {
            self.versions.remove(&labels(old));
        }
        self.versions.get_or_create(&labels(version)).set(1);
    }

    /// Counts one commit of the embedded store holding `writes` writes.
    pub fn batch(&self, writes: usize, ok: bool) {
        self.batch_sizes.observe(writes as f64);
        let outcome = if ok { "ok" } else { "failed" };
        self.commits.get_or_create(&CommitLabels { outcome: outcome.to_string() }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
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
        metrics.loaded("search", "wasm", None, "aaa");
        metrics.loaded("search", "wasm", Some("aaa"), "bbb");
        let text = metrics.render();
        assert!(text.contains(r#"newsfeed_requests_total{function="search",class="2xx"} 2"#), "{text}");
        assert!(text.contains(r#"newsfeed_requests_total{function="search",class="4xx"} 1"#), "{text}");
        assert!(text.contains(r#"newsfeed_failures_total{function="search",kind="trap"} 1"#), "{text}");
        assert!(text.contains(r#"newsfeed_request_duration_seconds_count{function="search"} 3"#), "{text}");
        assert!(text.contains(r#"newsfeed_function_version{function="search",version="bbb",mode="wasm"} 1"#), "{text}");
        assert!(!text.contains(r#"version="aaa""#), "{text}");
    }
}
