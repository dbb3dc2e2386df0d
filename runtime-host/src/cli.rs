//! The `newsfeed` command line, following Spin's conventions
//! (`newsfeed build`, `newsfeed up [--build]`).

use crate::limits::Limits;
use crate::telemetry::LogFormat;
use crate::wasm::engine::Compiler;
use clap::{Args, Parser, Subcommand};
use newsfeed_guest::request::MAX_BODY_BYTES;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "newsfeed", version, about = "Runs the newsfeed WebAssembly functions on a wasmtime host")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written: `text`, or `json` (one object per line,
    /// with the trace and span ids when traces are exported).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Subcommand)]
pub enum Command {
    /// Build every component that has a build command, like `spin build`.
    Build(BuildArgs),
    /// Serve the app, like `spin up`; a changed wasm file hot-swaps its function.
    Up(UpArgs),
    /// Serve the app and, when a function's sources change, rebuild and
    /// hot-swap only that function.
    Watch(UpArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// The app manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    pub manifest: PathBuf,
}

#[derive(Args)]
pub struct UpArgs {
    /// The app manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    pub manifest: PathBuf,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Where the embedded database and the compiled components live.
    #[arg(long, default_value = ".newsfeed")]
    pub state_dir: PathBuf,
    /// The database: `postgres://USER@HOST:PORT/DB` for a PostgreSQL server
    /// that several hosts may share, or `sqlite:PATH` for an embedded file.
    /// Default: the file `newsfeed.db` in the state dir.
    #[arg(long, env = "NEWSFEED_DATABASE_URL", hide_env_values = true, value_parser = Database::parse)]
    pub database: Option<Database>,
    /// Connections to PostgreSQL this host keeps at most.
    #[arg(long, default_value_t = crate::backend::postgres::DEFAULT_POOL, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub database_pool: usize,
    /// Where compiled components are cached; default: `<state-dir>/compiled`.
    #[arg(long)]
    pub compile_cache: Option<PathBuf>,
    /// Build the components first.
    #[arg(long)]
    pub build: bool,
    /// Which compilers make the functions' code: `tiered` (Winch first, so a
    /// new version serves at once, then Cranelift's faster code swapped in
    /// from the background), `cranelift` (wait for the optimised code), or
    /// `winch` (the baseline compiler only).
    #[arg(long, default_value = "tiered", value_parser = clap::value_parser!(Compiler))]
    pub compiler: Compiler,
    /// Seconds a request may run before it is answered with a 500.
    #[arg(long, default_value_t = 10.0)]
    pub request_timeout: f64,
    /// MiB of linear memory an instance may use.
    #[arg(long, default_value_t = 64)]
    pub memory_limit: usize,
    /// The largest request body, in bytes; past it the answer is 413. At
    /// most the functions' own limit (1 MiB), which they keep under Spin too:
    /// the flag can lower the limit, not raise it.
    #[arg(
        long,
        default_value_t = MAX_BODY_BYTES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_BODY_BYTES as u64)
    )]
    pub max_body: usize,
    /// Seconds a connection may take to send a request's head, from the
    /// request's first byte (from the connection's opening, for its first
    /// request); past it the connection is closed.
    #[arg(long, default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Seconds a request's body may take to arrive once its head has; past
    /// it the answer is 408 and the connection is closed.
    #[arg(long, default_value_t = 10.0)]
    pub body_timeout: f64,
    /// Seconds a keep-alive connection may stay idle between an answer and
    /// the next request; past it the connection is closed.
    #[arg(long, default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// API requests answered at once; past it the answer is an immediate
    /// 503 with `Retry-After` (the health endpoints are not counted).
    #[arg(long, default_value_t = 1000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_in_flight: usize,
    /// Instances alive at once; past it the answer is 503.
    #[arg(long, default_value_t = 1000)]
    pub max_instances: u32,
    /// Requests one instance may serve, one after another (Spin's
    /// `--max-instance-reuse-count`). 1, the default, gives every request a
    /// fresh instance; above 1 a request may see memory that an earlier
    /// request of the same function left behind.
    #[arg(long, default_value_t = 1)]
    pub instance_reuse: u32,
    /// The most writes the embedded SQLite backend commits at once (group commit);
    /// 1 commits every write on its own.
    #[arg(
        long,
        default_value_t = crate::backend::sqlite::DEFAULT_MAX_BATCH,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_write_batch: usize,
    /// Run the functions' logic natively, without wasm: the baseline that
    /// measures what the sandbox costs. Not for production.
    #[arg(long, conflicts_with = "as_spin")]
    pub native: bool,
    /// Run the app as Spin would: each function composed with its
    /// `spin.toml` dependencies (the Spin SQLite adapter), and only what Spin
    /// serves (WASI, HTTP, Spin's SQLite, over the same database file).
    #[arg(long)]
    pub as_spin: bool,
    /// Serve Prometheus metrics at `/metrics` on this address (off by default).
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve the admin API on this address (off by default). A loopback
    /// address only, unless --admin-allow-remote.
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// Let --admin-listen take a non-loopback address. The admin API speaks
    /// plain HTTP, so its token then crosses the network in clear text: put
    /// a TLS proxy or a private network in front of it.
    #[arg(long, requires = "admin_listen")]
    pub admin_allow_remote: bool,
    /// The admin API's bearer token; required with --admin-listen.
    #[arg(long, env = "NEWSFEED_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server, by its connection URL.
    Postgres(String),
}

impl Database {
    fn parse(given: &str) -> Result<Database, String> {
        if given.starts_with("postgres://") || given.starts_with("postgresql://") {
            return Ok(Database::Postgres(given.to_string()));
        }
        match given.strip_prefix("sqlite:") {
            Some(path) if !path.is_empty() => Ok(Database::Sqlite(PathBuf::from(path))),
            _ => Err("expected postgres://USER@HOST:PORT/DB or sqlite:PATH".into()),
        }
    }
}

impl UpArgs {
    /// The database the flags name, the state dir's file by default.
    pub fn database(&self) -> Database {
        self.database.clone().unwrap_or_else(|| Database::Sqlite(self.state_dir.join("newsfeed.db")))
    }

    /// The limits the flags ask for, refused with a clear error when out of
    /// range.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        let request_timeout = positive_seconds(self.request_timeout, "--request-timeout")?;
        // wasm32 addresses 4 GiB at most.
        if !(1..=4096).contains(&self.memory_limit) {
            anyhow::bail!("--memory-limit must be between 1 and 4096 MiB");
        }
        // The pool reserves address space for every slot up front.
        if !(1..=100_000).contains(&self.max_instances) {
            anyhow::bail!("--max-instances must be between 1 and 100000");
        }
        let header_timeout = positive_seconds(self.header_timeout, "--header-timeout")?;
        let idle_timeout = positive_seconds(self.idle_timeout, "--idle-timeout")?;
        let body_timeout = positive_seconds(self.body_timeout, "--body-timeout")?;
        if self.instance_reuse == 0 {
            anyhow::bail!("--instance-reuse must be at least 1");
        }
        Ok(Limits {
            instance_reuse: self.instance_reuse,
            request_timeout,
            memory: self.memory_limit << 20,
            max_body: self.max_body,
            max_instances: self.max_instances,
            max_in_flight: self.max_in_flight,
            header_timeout,
            body_timeout,
            idle_timeout,
        })
    }
}

/// A flag given in seconds, as a positive [`Duration`].
fn positive_seconds(seconds: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| anyhow::anyhow!("{flag} must be a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_named_by_its_scheme() {
        assert_eq!(Database::parse("sqlite:feed.db"), Ok(Database::Sqlite("feed.db".into())));
        let url = "postgres://me@127.0.0.1:5432/feed";
        assert_eq!(Database::parse(url), Ok(Database::Postgres(url.into())));
        for bad in ["feed.db", "sqlite:", "mysql://x/y"] {
            assert!(Database::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_body_limit_can_be_lowered_but_not_raised_past_the_functions_own() {
        let up = |flag: &str| Cli::try_parse_from(["newsfeed", "up", "--max-body", flag]);
        assert!(up("1024").is_ok());
        assert!(up(&MAX_BODY_BYTES.to_string()).is_ok());
        let refused = up(&(MAX_BODY_BYTES + 1).to_string()).err().expect("a limit the functions would not keep");
        assert!(refused.to_string().contains("1048576"), "{refused}");
        assert!(up("0").is_err());
    }
}
