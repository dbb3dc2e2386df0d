//! Per-operation statistics, the JSON result of a run, and the text table.

use crate::resources::{Bandwidth, ServerUse};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One operation's latencies (µs) and errors, for one user or merged.
pub struct OpStats {
    latency: Histogram<u64>,
    errors: u64,
}

impl Default for OpStats {
    fn default() -> Self {
        // 1 µs to 10 min at 3 significant figures.
        OpStats { latency: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"), errors: 0 }
    }
}

impl OpStats {
    pub fn record(&mut self, elapsed: Duration, ok: bool) {
        if ok {
            self.latency.saturating_record(elapsed.as_micros() as u64);
        } else {
            self.errors += 1;
        }
    }
}

/// Every operation's stats, by name.
#[derive(Default)]
pub struct Ops(BTreeMap<&'static str, OpStats>);

impl Ops {
    pub fn op(&mut self, name: &'static str) -> &mut OpStats {
        self.0.entry(name).or_default()
    }

    pub fn merge(&mut self, other: Ops) {
        for (name, stats) in other.0 {
            let mine = self.op(name);
            mine.latency.add(&stats.latency).expect("same bounds");
            mine.errors += stats.errors;
        }
    }
}

#[derive(Serialize, Deserialize, Clone)]
pub struct OpResult {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub per_minute: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct RunResult {
    pub label: String,
    pub base_url: String,
    pub users: usize,
    pub searchers: usize,
    pub readers: usize,
    pub seconds: f64,
    pub operations: BTreeMap<String, OpResult>,
    /// The servers' CPU, with `--server-pid`.
    #[serde(default)]
    pub server: Option<ServerUse>,
    /// The HTTP traffic both ways.
    #[serde(default)]
    pub bandwidth: Bandwidth,
}

impl RunResult {
    pub fn new(
        label: &str,
        base_url: &str,
        users: usize,
        searchers: usize,
        readers: usize,
        measured: Duration,
        ops: &Ops,
    ) -> Self {
        let seconds = measured.as_secs_f64().max(1e-9);
        let ms = |stats: &OpStats, q: f64| stats.latency.value_at_quantile(q) as f64 / 1000.0;
        let operations = ops
            .0
            .iter()
            .map(|(name, stats)| {
                let requests = stats.latency.len() + stats.errors;
                let result = OpResult {
                    requests,
                    errors: stats.errors,
                    per_second: requests as f64 / seconds,
                    per_minute: requests as f64 / seconds * 60.0,
                    p50_ms: ms(stats, 0.50),
                    p95_ms: ms(stats, 0.95),
                    p99_ms: ms(stats, 0.99),
                };
                (name.to_string(), result)
            })
            .collect();
        RunResult {
            label: label.into(),
            base_url: base_url.into(),
            users,
            searchers,
            readers,
            seconds,
            operations,
            server: None,
            bandwidth: Bandwidth::default(),
        }
    }

    pub fn total_per_second(&self) -> f64 {
        self.operations.values().map(|op| op.per_second).sum()
    }
}

/// The runs side by side: one row per run and operation; with several runs,
/// each throughput also as a ratio to the first run's.
pub fn table(runs: &[&RunResult]) -> String {
    let mut out = format!(
        "{:<14} {:<20} {:>9} {:>10} {:>11} {:>9} {:>9} {:>9} {:>7} {:>7}\n",
        "run", "operation", "requests", "req/s", "req/min", "p50 ms", "p95 ms", "p99 ms", "errors", "ratio"
    );
    let first = runs.first();
    for run in runs {
        let mut rows: Vec<(&str, &OpResult)> = run.operations.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let total = run.total_per_second();
        let all = OpResult {
            requests: run.operations.values().map(|o| o.requests).sum(),
            errors: run.operations.values().map(|o| o.errors).sum(),
            per_second: total,
            per_minute: total * 60.0,
            p50_ms: f64::NAN,
            p95_ms: f64::NAN,
            p99_ms: f64::NAN,
        };
        rows.push(("all", &all));
        for (name, op) in rows {
            let base = first.and_then(|f| match name {
                "all" => Some(f.total_per_second()),
                _ => f.operations.get(name).map(|o| o.per_second),
            });
            let ratio = base.filter(|b| *b > 0.0).map(|b| format!("{:.2}x", op.per_second / b)).unwrap_or_default();
            out += &format!(
                "{:<14} {:<20} {:>9} {:>10.1} {:>11.0} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>7}\n",
                run.label,
                name,
                op.requests,
                op.per_second,
                op.per_minute,
                op.p50_ms,
                op.p95_ms,
                op.p99_ms,
                op.errors,
                ratio
            );
        }
    }
    out + &resources_table(runs)
}

/// The runs' CPU and bandwidth, with CPU per request as a ratio to the
/// first run's. CPU is blank for a run made without `--server-pid`.
fn resources_table(runs: &[&RunResult]) -> String {
    let mut out = format!(
        "\n{:<14} {:>12} {:>12} {:>7} {:>12} {:>14}\n",
        "run", "server cores", "CPU µs/req", "ratio", "sent kB/s", "received kB/s"
    );
    let first = runs.first().and_then(|run| run.server.as_ref()).map(|server| server.cpu_us_per_request);
    for run in runs {
        let (cores, per_request, ratio) = match &run.server {
            Some(server) => (
                format!("{:.2}", server.cores_busy),
                format!("{:.0}", server.cpu_us_per_request),
                first
                    .filter(|f| *f > 0.0)
                    .map(|f| format!("{:.2}x", server.cpu_us_per_request / f))
                    .unwrap_or_default(),
            ),
            None => Default::default(),
        };
        out += &format!(
            "{:<14} {:>12} {:>12} {:>7} {:>12.1} {:>14.1}\n",
            run.label,
            cores,
            per_request,
            ratio,
            run.bandwidth.sent_bytes_per_second / 1000.0,
            run.bandwidth.received_bytes_per_second / 1000.0
        );
    }
    out
}
