//! `newsfeed-load`: the classic news feed load test (`docs/api.md`,
//! "The load profile") against any base URL: our host, Spin, or any other
//! implementation of the API.
//!
//! ```sh
//! newsfeed-load run --base-url http://127.0.0.1:3000 --users 32 --searchers 0.2 --duration 30 --out run.json --chart run.svg
//! newsfeed-load compare wasm.json native.json --chart compare.svg
//! ```
//!
//! `--base-url` given more than once spreads the users over several hosts
//! (user `n` talks to URL `n mod N`), as a load balancer would.

mod chart;
mod client;
mod post;
mod profile;
mod report;
mod resources;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "newsfeed-load", about = "The classic news feed load test, for any implementation of the API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive a server with social-broadcast, search and reader users.
    Run(RunArgs),
    /// Put saved results side by side, as a table and one chart.
    Compare {
        results: Vec<PathBuf>,
        #[arg(long)]
        chart: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct RunArgs {
    /// A host to load; give it again to spread the users over several.
    #[arg(long = "base-url", default_value = "http://127.0.0.1:3000")]
    base_urls: Vec<String>,
    /// Concurrent users.
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Share of the users that search (0 to 1).
    #[arg(long, default_value_t = 0.2)]
    searchers: f64,
    /// Share of the users that read feeds and friend lists (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    readers: f64,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Stop after this many measured requests, if sooner.
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// A name for this run in reports.
    #[arg(long, default_value = "run")]
    label: String,
    /// Write the result as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write throughput and latency charts (SVG) here.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Allow a base URL that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// No progress bar (for scripts and tests).
    #[arg(long)]
    quiet: bool,
    /// A server process on this machine whose CPU to report (as cores busy
    /// and CPU time per request); give it again for several.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
}

fn refuse_remote(base_url: &str) -> Result<()> {
    let uri: http::Uri = base_url.parse().context("--base-url is not a URL")?;
    let host = uri.host().context("--base-url has no host")?.trim_matches(['[', ']']);
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("{host} is not a loopback address; pass --allow-remote to load it anyway");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(args) => {
            if !args.allow_remote {
                args.base_urls.iter().try_for_each(|url| refuse_remote(url))?;
            }
            let plan = profile::Plan {
                users: args.users,
                searchers: args.searchers,
                readers: args.readers,
                warmup: Duration::from_secs_f64(args.warmup),
                duration: Duration::from_secs_f64(args.duration),
                max_requests: args.requests,
                progress: !args.quiet,
                server_pids: args.server_pids,
            };
            let result = profile::run(&args.base_urls, &args.label, &plan).await?;
            println!("{}", report::table(&[&result]));
            if let Some(path) = &args.out {
                std::fs::write(path, serde_json::to_string_pretty(&result)?)?;
            }
            if let Some(path) = &args.chart {
                chart::draw(&[&result], path)?;
            }
        }
        Command::Compare { results, chart } => {
            let loaded: Vec<report::RunResult> = results
                .iter()
                .map(|path| Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?))
                .collect::<Result<_>>()?;
            let refs: Vec<&report::RunResult> = loaded.iter().collect();
            println!("{}", report::table(&refs));
            if let Some(path) = &chart {
                chart::draw(&refs, path)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_unless_allowed() {
        for ok in ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000", "http://127.1.2.3"] {
            assert!(refuse_remote(ok).is_ok(), "{ok}");
        }
        for remote in ["http://10.0.0.1:3000", "http://example.com", "http://192.168.1.1"] {
            assert!(refuse_remote(remote).is_err(), "{remote}");
        }
    }
}
