//! The load profile of `docs/api.md`: social-broadcast users, search
//! users and (optionally) readers, each in a loop until the run ends.

use crate::client::Client;
use crate::post::{self, DICTIONARY};
use crate::report::{Ops, RunResult};
use crate::resources::{self, Bandwidth, ServerUse, Traffic};
use anyhow::Result;
use http::Method;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Plan {
    pub users: usize,
    pub searchers: f64,
    pub readers: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub max_requests: Option<u64>,
    pub progress: bool,
    /// The server processes whose CPU time the run reports.
    pub server_pids: Vec<u32>,
}

#[derive(Clone, Copy)]
enum Role {
    Broadcaster,
    Searcher,
    Reader,
}

/// When measuring starts and stops, and how many measured requests so far.
struct Clock {
    measure_from: Instant,
    end: Instant,
    measured: AtomicU64,
    max_requests: u64,
}

impl Clock {
    fn running(&self) -> bool {
        Instant::now() < self.end && self.measured.load(Ordering::Relaxed) < self.max_requests
    }
}

/// The user's stats: the measured ones once warm-up is over.
fn stats<'a>(clock: &Clock, measured: &'a mut Ops, warmup: &'a mut Ops) -> &'a mut Ops {
    if Instant::now() >= clock.measure_from {
        clock.measured.fetch_add(1, Ordering::Relaxed);
        measured
    } else {
        warmup
    }
}

/// Participants that have friends, and so posts in their feeds: the
/// broadcasters add them, the readers read them.
type Social = Arc<Mutex<Vec<i64>>>;

async fn user(client: Client, role: Role, clock: Arc<Clock>, social: Social, seed: u64) -> Ops {
    let (mut measured, mut warmup) = (Ops::default(), Ops::default());
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut serial = 0u64;
    while clock.running() {
        match role {
            Role::Broadcaster => {
                let mut ids = Vec::new();
                for _ in 0..10 {
                    serial += 1;
                    let body = json!({ "name": format!("user {seed}-{serial}") });
                    let ops = stats(&clock, &mut measured, &mut warmup);
                    if let Some(p) =
                        client.call(ops.op("create_participant"), Method::POST, "/participant", Some(body)).await
                    {
                        ids.extend(p["id"].as_i64());
                    }
                }
                if ids.len() < 2 {
                    continue;
                }
                let mut befriended = Vec::new();
                for _ in 0..rng.usize(2..=4) {
                    // Two different participants: a pair drawn twice is drawn again.
                    let (a, b) = loop {
                        let (a, b) = (ids[rng.usize(..ids.len())], ids[rng.usize(..ids.len())]);
                        if a != b {
                            break (a, b);
                        }
                    };
                    let body = json!({ "to": format!("/participant/{b}") });
                    let ops = stats(&clock, &mut measured, &mut warmup);
                    client
                        .call(ops.op("befriend"), Method::POST, &format!("/participant/{a}/friends"), Some(body))
                        .await;
                    befriended.extend([a, b]);
                }
                befriended.sort();
                befriended.dedup();
                for author in &befriended {
                    for _ in 0..10 {
                        if !clock.running() {
                            break;
                        }
                        let (subject, story) = post::subject_and_story(&mut rng);
                        let body = json!({ "subject": subject, "story": story });
                        let ops = stats(&clock, &mut measured, &mut warmup);
                        client
                            .call(
                                ops.op("create_post"),
                                Method::POST,
                                &format!("/participant/{author}/outbound"),
                                Some(body),
                            )
                            .await;
                    }
                }
                if let Ok(mut social) = social.lock() {
                    social.extend(&befriended);
                }
            }
            Role::Searcher => {
                for _ in 0..5 {
                    let path = format!("/outbound?keywords={}", rng.u32(0..DICTIONARY));
                    let ops = stats(&clock, &mut measured, &mut warmup);
                    client.call(ops.op("search"), Method::GET, &path, None).await;
                }
            }
            Role::Reader => {
                // Read participants that have friends and posts.
                let picked = social
                    .lock()
                    .ok()
                    .and_then(|social| (!social.is_empty()).then(|| social[rng.usize(..social.len())]));
                let Some(id) = picked else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let ops = stats(&clock, &mut measured, &mut warmup);
                client.call(ops.op("get_inbound"), Method::GET, &format!("/participant/{id}/inbound"), None).await;
                let ops = stats(&clock, &mut measured, &mut warmup);
                client.call(ops.op("get_friends"), Method::GET, &format!("/participant/{id}/friends"), None).await;
            }
        }
    }
    measured
}

/// What the measured window cost: the servers' CPU time and the bytes both
/// ways, read at its start and at its end.
struct Spent {
    cpu: std::time::Duration,
    traffic: (u64, u64),
}

impl Spent {
    fn now(plan: &Plan, traffic: &Traffic) -> Result<Self> {
        Ok(Spent { cpu: resources::cpu_time(&plan.server_pids)?, traffic: traffic.snapshot() })
    }
}

/// Runs the plan against `base_urls`, user `n` talking to URL `n mod N`.
pub async fn run(base_urls: &[String], label: &str, plan: &Plan) -> Result<RunResult> {
    let traffic = Arc::new(Traffic::default());
    let clients: Vec<Client> = base_urls.iter().map(|url| Client::new(url, traffic.clone())).collect();
    // A wrong pid fails now, not after the whole run.
    Spent::now(plan, &traffic)?;
    let started = Instant::now();
    let clock = Arc::new(Clock {
        measure_from: started + plan.warmup,
        end: started + plan.warmup + plan.duration,
        measured: AtomicU64::new(0),
        max_requests: plan.max_requests.unwrap_or(u64::MAX),
    });
    let social = Social::default();
    let searchers = (plan.users as f64 * plan.searchers).round() as usize;
    let readers = (plan.users as f64 * plan.readers).round() as usize;
    let tasks: Vec<_> = (0..plan.users)
        .map(|n| {
            let role = match n {
                _ if n < searchers => Role::Searcher,
                _ if n < searchers + readers => Role::Reader,
                _ => Role::Broadcaster,
            };
            tokio::spawn(user(clients[n % clients.len()].clone(), role, clock.clone(), social.clone(), n as u64 + 1))
        })
        .collect();

    let bar = plan.progress.then(|| {
        let total = (plan.warmup + plan.duration).as_secs();
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} s  {msg}")
                .expect("a valid template"),
        );
        bar
    });
    let mut at_start = None;
    while clock.running() && !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if at_start.is_none() && Instant::now() >= clock.measure_from {
            at_start = Some((Instant::now(), Spent::now(plan, &traffic)?));
        }
        if let Some(bar) = &bar {
            bar.set_position(started.elapsed().as_secs());
            let phase = if Instant::now() < clock.measure_from { "warming up" } else { "measuring" };
            bar.set_message(format!("{phase}, {} requests", clock.measured.load(Ordering::Relaxed)));
        }
    }
    let at_end = (Instant::now(), Spent::now(plan, &traffic)?);
    let mut total = Ops::default();
    for task in tasks {
        total.merge(task.await?);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let measured_for = Instant::now().saturating_duration_since(clock.measure_from).min(plan.duration);
    let mut result = RunResult::new(label, &base_urls.join(","), plan.users, searchers, readers, measured_for, &total);
    // Checked every 250 ms: the window the figures cover starts up to that
    // much late, and is timed on its own.
    if let Some((started, start)) = at_start {
        let (ended, end) = at_end;
        let seconds = ended.duration_since(started).as_secs_f64().max(1e-9);
        result.bandwidth = Bandwidth {
            sent_bytes_per_second: (end.traffic.0 - start.traffic.0) as f64 / seconds,
            received_bytes_per_second: (end.traffic.1 - start.traffic.1) as f64 / seconds,
        };
        if !plan.server_pids.is_empty() {
            let cpu = (end.cpu - start.cpu).as_secs_f64();
            let requests = result.total_per_second() * seconds;
            result.server =
                Some(ServerUse { cores_busy: cpu / seconds, cpu_us_per_request: cpu * 1e6 / requests.max(1.0) });
        }
    }
    Ok(result)
}
