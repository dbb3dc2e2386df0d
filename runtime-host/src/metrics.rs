//! Prometheus metrics, per function: requests by status class, latency,
//! instantiation time, traps and deadline kills, the version loaded (and
//! the compiler tier whose code serves it, and the switches), and what
//! each request cost: CPU time and peak linear memory. `http::metrics` serves
//! them; everything that serves a request counts here. When OTLP metrics are
//! exported ([`telemetry`](crate::telemetry)), the per-function histograms go
//! there too. A short window of recent requests per function ([`Summary`])
//! answers the admin API's "what does each function cost now".
//!
//! Depends on nothing else in the host but `telemetry` (a leaf).

use opentelemetry::metrics::BoundHistogram;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
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
struct TierLabels {
    function: String,
    /// `winch` or `cranelift`.
    tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SwitchLabels {
    function: String,
    /// `file`, `admin`, `rollback` or `tier-up`.
    origin: String,
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
    tiers: Family<TierLabels, Gauge>,
    switches: Family<SwitchLabels, Counter>,
    cpu: Family<FunctionLabel, Histogram>,
    memory: Family<FunctionLabel, Histogram>,
    /// The same histograms over OTLP, when exported.
    otel: Option<OtelInstruments>,
    /// Each function's series, resolved once: a request then records
    /// without building label strings or hashing them.
    functions: RwLock<HashMap<String, Arc<FunctionSeries>>>,
}

/// One function's per-request series, and its recent requests.
struct FunctionSeries {
    /// By status class: `1xx` at 1 to `5xx` at 5, made at first use.
    requests: [OnceLock<Counter>; 6],
    latency: Histogram,
    instantiation: Histogram,
    cpu: Histogram,
    memory: Histogram,
    recent: Mutex<Recent>,
    /// The same histograms over OTLP, when exported.
    otel: Option<OtelSeries>,
}

/// The per-function histograms, as OpenTelemetry instruments, named and
/// united by the semantic conventions' rules (`faas.name` the attribute).
struct OtelInstruments {
    duration: opentelemetry::metrics::Histogram<f64>,
    cpu: opentelemetry::metrics::Histogram<f64>,
    memory: opentelemetry::metrics::Histogram<u64>,
    instantiation: opentelemetry::metrics::Histogram<f64>,
}

impl OtelInstruments {
    fn new() -> Self {
        let meter = opentelemetry::global::meter("newsfeed");
        OtelInstruments {
            duration: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Time to the answer's headers")
                .build(),
            cpu: meter
                .f64_histogram("newsfeed.function.cpu_time")
                .with_unit("s")
                .with_description("CPU time per request: the guest's and its host calls', on the threads that ran them")
                .build(),
            memory: meter
                .u64_histogram("newsfeed.function.memory_used")
                .with_unit("By")
                .with_description("Peak linear memory of the instance that served the request")
                .build(),
            instantiation: meter
                .f64_histogram("newsfeed.function.instantiation.duration")
                .with_unit("s")
                .with_description("Time to instantiate a fresh instance")
                .build(),
        }
    }

    /// `function`'s histograms, bound to its `faas.name` once: a request
    /// then records without the SDK hashing and looking up its attributes,
    /// which, four records a request, cost 2.1k instructions (callgrind).
    fn bind(&self, function: &str) -> OtelSeries {
        let name = [opentelemetry::KeyValue::new("faas.name", function.to_string())];
        OtelSeries {
            duration: self.duration.bind(&name),
            cpu: self.cpu.bind(&name),
            memory: self.memory.bind(&name),
            instantiation: self.instantiation.bind(&name),
        }
    }
}

/// One function's [`OtelInstruments`].
struct OtelSeries {
    duration: BoundHistogram<f64>,
    cpu: BoundHistogram<f64>,
    memory: BoundHistogram<u64>,
    instantiation: BoundHistogram<f64>,
}

/// How many recent requests per function [`Metrics::summary`] looks at.
const RECENT: usize = 1000;

/// A function's recent requests: their latencies and CPU times, in µs, and
/// its failures by kind since start.
#[derive(Default)]
struct Recent {
    latency_us: VecDeque<u64>,
    cpu_us: VecDeque<u64>,
    failures: BTreeMap<String, u64>,
}

fn push_recent(window: &mut VecDeque<u64>, value: Duration) {
    if window.len() == RECENT {
        window.pop_front();
    }
    window.push_back(value.as_micros() as u64);
}

/// What a function costs now, over its last [`RECENT`] requests, for the
/// admin API.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    /// The median time to the answer's headers, in ms.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The mean CPU time of a request, in µs.
    pub cpu_us_per_request: Option<f64>,
    /// Failures since start, by kind (trap, deadline, capacity, overload, ...).
    pub failures: BTreeMap<String, u64>,
}

/// Buckets from 10 µs to about 10 s, in seconds.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-5, 4.0, 11))
}

/// Buckets from 64 KiB to 4 GiB, in bytes.
fn bytes_histogram() -> Histogram {
    Histogram::new(exponential_buckets(65536.0, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("newsfeed");
        let requests = Family::default();
        let latency = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let instantiation = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let failures = Family::default();
        let versions = Family::default();
        let tiers = Family::default();
        let switches = Family::default();
        let batch_sizes = Histogram::new(exponential_buckets(1.0, 2.0, 8));
        let commits = Family::default();
        let cpu = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let memory = Family::new_with_constructor(bytes_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "function_cpu_time",
            "CPU time per request, the guest's and its host calls', on the threads that ran them, by function",
            Unit::Seconds,
            cpu.clone(),
        );
        registry.register_with_unit(
            "function_memory_used",
            "Peak linear memory of the instance that served a request, by function",
            Unit::Bytes,
            memory.clone(),
        );
        let otel = crate::telemetry::metrics_on().then(OtelInstruments::new);
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
        // A series of its own, not a label of function_version: a tier-up
        // changes the code, not the version.
        registry.register(
            "function_tier",
            "1 for the compiler (winch or cranelift) whose code serves each wasm function",
            tiers.clone(),
        );
        registry.register(
            "function_switches",
            "Versions switched in since start, by function and origin (file, admin, rollback, tier-up)",
            switches.clone(),
        );
        registry.register(
            "write_batch_size",
            "Writes per commit of the embedded backend's group commit",
            batch_sizes.clone(),
        );
        registry.register("commits", "Commits of the embedded backend, by outcome (ok or failed)", commits.clone());
        Metrics {
            registry,
            batch_sizes,
            commits,
            requests,
            latency,
            instantiation,
            failures,
            versions,
            tiers,
            switches,
            cpu,
            memory,
            otel,
            functions: RwLock::default(),
        }
    }
}

fn label(function: &str) -> FunctionLabel {
    FunctionLabel { function: function.to_string() }
}

impl Metrics {
    /// `function`'s series, made at its first use.
    fn series(&self, function: &str) -> Option<Arc<FunctionSeries>> {
        if let Some(series) = self.functions.read().ok()?.get(function) {
            return Some(series.clone());
        }
        let label = label(function);
        let series = Arc::new(FunctionSeries {
            requests: Default::default(),
            latency: self.latency.get_or_create(&label).clone(),
            instantiation: self.instantiation.get_or_create(&label).clone(),
            cpu: self.cpu.get_or_create(&label).clone(),
            memory: self.memory.get_or_create(&label).clone(),
            recent: Mutex::default(),
            otel: self.otel.as_ref().map(|instruments| instruments.bind(function)),
        });
        Some(self.functions.write().ok()?.entry(function.to_string()).or_insert(series).clone())
    }

    pub fn answered(&self, function: &str, status: u16, elapsed: Duration) {
        let Some(series) = self.series(function) else { return };
        let class = usize::from(status / 100).min(5);
        let requests = series.requests[class].get_or_init(|| {
            let labels = StatusLabels { function: function.to_string(), class: format!("{class}xx") };
            self.requests.get_or_create(&labels).clone()
        });
        requests.inc();
        series.latency.observe(elapsed.as_secs_f64());
        if let Some(otel) = &series.otel {
            otel.duration.record(elapsed.as_secs_f64());
        }
        if let Ok(mut recent) = series.recent.lock() {
            push_recent(&mut recent.latency_us, elapsed);
        };
    }

    pub fn instantiated(&self, function: &str, elapsed: Duration) {
        let Some(series) = self.series(function) else { return };
        series.instantiation.observe(elapsed.as_secs_f64());
        if let Some(otel) = &series.otel {
            otel.instantiation.record(elapsed.as_secs_f64());
        }
    }

    pub fn failed(&self, function: &str, kind: &str) {
        self.failures.get_or_create(&FailureLabels { function: function.to_string(), kind: kind.to_string() }).inc();
        let Some(series) = self.series(function) else { return };
        if let Ok(mut recent) = series.recent.lock() {
            *recent.failures.entry(kind.to_string()).or_default() += 1;
        };
    }

    /// What one request of `function` cost: CPU time, and the peak linear
    /// memory of its instance (none for the native baseline).
    pub fn cost(&self, function: &str, cpu: Duration, memory: Option<usize>) {
        let Some(series) = self.series(function) else { return };
        series.cpu.observe(cpu.as_secs_f64());
        if let Some(memory) = memory {
            series.memory.observe(memory as f64);
        }
        if let Some(otel) = &series.otel {
            otel.cpu.record(cpu.as_secs_f64());
            if let Some(memory) = memory {
                otel.memory.record(memory as u64);
            }
        }
        if let Ok(mut recent) = series.recent.lock() {
            push_recent(&mut recent.cpu_us, cpu);
        };
    }

    /// `function`'s recent latency percentiles, CPU per request and failures.
    pub fn summary(&self, function: &str) -> Summary {
        let Some(series) = self.functions.read().ok().and_then(|functions| functions.get(function).cloned()) else {
            return Summary::default();
        };
        let Ok(recent) = series.recent.lock() else { return Summary::default() };
        let mut latency: Vec<u64> = recent.latency_us.iter().copied().collect();
        latency.sort_unstable();
        let percentile = |p: f64| {
            let last = latency.len().checked_sub(1)?;
            Some(latency[(last as f64 * p).round() as usize] as f64 / 1000.0)
        };
        let cpu = &recent.cpu_us;
        Summary {
            p50_ms: percentile(0.5),
            p99_ms: percentile(0.99),
            cpu_us_per_request: (!cpu.is_empty()).then(|| cpu.iter().sum::<u64>() as f64 / cpu.len() as f64),
            failures: recent.failures.clone(),
        }
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

    /// Records which compiler's code serves `function` now (`None`: native
    /// code, no tier).
    pub fn tier(&self, function: &str, tier: Option<&str>) {
        for other in ["winch", "cranelift"] {
            if Some(other) != tier {
                self.tiers.remove(&TierLabels { function: function.to_string(), tier: other.to_string() });
            }
        }
        if let Some(tier) = tier {
            self.tiers.get_or_create(&TierLabels { function: function.to_string(), tier: tier.to_string() }).set(1);
        }
    }

    /// Counts a version switched in for `function`, and how it came.
    pub fn switched(&self, function: &str, origin: &str) {
        self.switches.get_or_create(&SwitchLabels { function: function.to_string(), origin: origin.to_string() }).inc();
    }

    /// Counts one commit of the embedded backend holding `writes` writes.
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
        metrics.tier("search", Some("winch"));
        metrics.tier("search", Some("cranelift"));
        metrics.switched("search", "tier-up");
        let text = metrics.render();
        assert!(text.contains(r#"newsfeed_function_tier{function="search",tier="cranelift"} 1"#), "{text}");
        assert!(!text.contains(r#"tier="winch""#), "{text}");
        assert!(text.contains(r#"newsfeed_function_switches_total{function="search",origin="tier-up"} 1"#), "{text}");
        assert!(text.contains(r#"newsfeed_requests_total{function="search",class="2xx"} 2"#), "{text}");
        assert!(text.contains(r#"newsfeed_requests_total{function="search",class="4xx"} 1"#), "{text}");
        assert!(text.contains(r#"newsfeed_failures_total{function="search",kind="trap"} 1"#), "{text}");
        assert!(text.contains(r#"newsfeed_request_duration_seconds_count{function="search"} 3"#), "{text}");
        assert!(text.contains(r#"newsfeed_function_version{function="search",version="bbb",mode="wasm"} 1"#), "{text}");
        assert!(!text.contains(r#"version="aaa""#), "{text}");
    }

    #[test]
    fn a_functions_cost_shows_in_the_histograms_and_its_summary() {
        let metrics = Metrics::default();
        for ms in 1..=100 {
            metrics.answered("search", 200, Duration::from_millis(ms));
        }
        metrics.cost("search", Duration::from_micros(300), Some(2 << 20));
        metrics.cost("search", Duration::from_micros(100), None);
        metrics.failed("search", "deadline");
        let text = metrics.render();
        assert!(text.contains(r#"newsfeed_function_cpu_time_seconds_count{function="search"} 2"#), "{text}");
        assert!(text.contains(r#"newsfeed_function_memory_used_bytes_count{function="search"} 1"#), "{text}");
        let summary = metrics.summary("search");
        assert_eq!(summary.p50_ms, Some(51.0));
        assert_eq!(summary.p99_ms, Some(99.0));
        assert_eq!(summary.cpu_us_per_request, Some(200.0));
        assert_eq!(summary.failures.get("deadline"), Some(&1));
        assert_eq!(metrics.summary("friends").p50_ms, None);
    }
}
