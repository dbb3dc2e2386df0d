//! `newsfeed up` and `newsfeed watch`: load the app from the manifest, open
//! the backend, compile (or load from cache) every component, and serve HTTP
//! until Ctrl-C or SIGTERM, hot-swapping functions as their files change;
//! then drain (every accepted request answered) and exit.

use super::readiness;
use super::watch::{watch_sources, watch_wasm_files};
use crate::assembly::{assemble, Assembly, Options};
use crate::backend::postgres::Postgres;
use crate::backend::sqlite::Sqlite;
use crate::backend::Backend;
use crate::cli::{Database, UpArgs};
use crate::http::admin::Admin;
use crate::http::metrics::serve_metrics;
use crate::http::server::{Readiness, Server};
use crate::metrics::Metrics;
use crate::spin::manifest::App;
use crate::spin::postgres::AllowedHost;
use crate::spin::routing::Router;
use crate::spin::variables::Values;
use crate::spin::Capabilities;
use crate::wasm::engine::Compiler;
use crate::wasm::hot_swap::HotSwap;
use crate::wasm::loader::Platform;
use crate::wasm::Runtime;
use anyhow::{bail, Context, Result};
use std::sync::Arc;

/// What to watch while serving.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Watching {
    /// The wasm files: a new file swaps its function (`newsfeed up`).
    WasmFiles,
    /// The wasm files, and the sources: a change rebuilds and swaps its
    /// function (`newsfeed watch`).
    WasmFilesAndSources,
}

/// Flags, then the runtime they describe, then serving it.
pub async fn run(args: UpArgs, watching: Watching) -> Result<()> {
    let admin_token = admin_token(&args)?;
    if args.build {
        let manifest = args.manifest.clone();
        tokio::task::spawn_blocking(move || super::build::run(&manifest)).await??;
    }
    let app = App::load(&args.manifest)?;
    std::fs::create_dir_all(&args.state_dir).with_context(|| format!("creating {}", args.state_dir.display()))?;
    let assembly = assemble(&app, options(&args, &app).await?)?;
    serve(args, &app, assembly, admin_token, watching).await
}

/// The admin API's token: required, and not blank, when the API listens;
/// and its address: loopback, unless the operator opts in to sending the
/// token over the network in clear text.
fn admin_token(args: &UpArgs) -> Result<Option<String>> {
    if let Some(address) = args.admin_listen.filter(|address| !address.ip().is_loopback()) {
        if !args.admin_allow_remote {
            bail!(
                "--admin-listen {address} is not a loopback address: the admin API is plain HTTP, and its token \
                 would cross the network in clear text; add --admin-allow-remote if a TLS proxy or a private \
                 network protects it"
            )
        }
        tracing::warn!("the admin API listens on {address}: its bearer token crosses the network in clear text");
    }
    match (&args.admin_listen, &args.admin_token) {
        (Some(_), None) => {
            bail!("--admin-listen needs a token: --admin-token or NEWSFEED_ADMIN_TOKEN")
        }
        (Some(_), Some(token)) if token.trim().is_empty() => {
            bail!("the admin token must not be empty")
        }
        (_, token) => Ok(token.clone()),
    }
}

/// The runtime the flags describe: its backend opened, and (as Spin) the
/// application variables resolved from the environment.
async fn options(args: &UpArgs, app: &App) -> Result<Options> {
    let limits = args.limits()?;
    let platform = if args.as_spin { Platform::Spin } else { Platform::Newsfeed };
    let metrics = Arc::new(Metrics::default());
    let database = args.database();
    // Under Spin the adapter creates and migrates the schema itself; opening
    // the backend here would do it first and hide a broken adapter.
    let backend: Option<Arc<dyn Backend>> = match (platform, &database) {
        (Platform::Newsfeed, database) => Some(traced(open_backend(database, args, &metrics).await?, database)),
        (Platform::Spin, Database::Sqlite(path)) => {
            tracing::info!(
                "running as Spin would: functions composed with their dependencies, serving {}",
                spin_interfaces_used(app, path)
            );
            None
        }
        (Platform::Spin, Database::Postgres(_)) => {
            bail!(
                "--as-spin takes the database from the manifest, as Spin does: for PostgreSQL use \
                 -f spin-postgres.toml with SPIN_VARIABLE_DB_URL and SPIN_VARIABLE_DB_HOST, not --database"
            )
        }
    };
    // The file Spin's SQLite interface opens for a component that imports it
    // (under --as-spin); with PostgreSQL no function imports it.
    let spin_sqlite = spin_sqlite_file(args);
    // Application variables (SPIN_VARIABLE_*), as Spin resolves them; a
    // required one without a value stops the start here.
    let variables = match platform {
        Platform::Spin => Values::resolve(&app.variables, |key| std::env::var(key).ok())?,
        Platform::Newsfeed => Values::default(),
    };
    Ok(Options {
        platform,
        limits,
        backend,
        spin_sqlite,
        postgres_pool: args.database_pool,
        variables,
        compile_cache: args.compile_cache.clone().unwrap_or_else(|| args.state_dir.join("compiled")),
        // Under --native nothing tiers up (hot swap is off), so the few
        // functions left in wasm get the optimised code at once.
        compiler: if args.native { Compiler::Cranelift } else { args.compiler },
        native: args.native,
        metrics,
    })
}

/// Serves the app until Ctrl-C or SIGTERM, swapping functions as their
/// files change, with the admin API and metrics where the flags ask.
async fn serve(
    args: UpArgs,
    app: &App,
    assembly: Assembly,
    admin_token: Option<String>,
    watching: Watching,
) -> Result<()> {
    let Assembly { loader, functions } = assembly;
    let runtime = loader.runtime().clone();
    let metrics = runtime.metrics.clone();
    let routes = app.routes.iter().map(|(route, name)| (route.clone(), functions[name].clone())).collect();
    let readiness = readiness_of(&args, app, &runtime)?;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(runtime.limits.max_in_flight));
    let server = Arc::new(Server {
        router: Router::new(routes),
        limits: runtime.limits.clone(),
        metrics: metrics.clone(),
        readiness,
        in_flight,
    });

    // Swapping wasm into a host that serves native code would be a lie.
    let hot_swap = match args.native {
        true => {
            tracing::info!("--native: hot swap is off (no file watching, admin PUT answers 409)");
            None
        }
        false => {
            let hot_swap = Arc::new(HotSwap::new(loader, functions.clone(), metrics.clone()));
            // The versions started on Winch get Cranelift's code in the
            // background, as a swapped-in one does.
            hot_swap.tier_up_all();
            Some(hot_swap)
        }
    };
    let handle = tokio::runtime::Handle::current();
    let mut _watchers = Vec::new();
    if let Some(hot_swap) = &hot_swap {
        _watchers.push(watch_wasm_files(hot_swap.clone(), handle.clone())?);
        if watching == Watching::WasmFilesAndSources {
            _watchers.push(watch_sources(hot_swap.clone(), app, handle)?);
        }
    }
    if let (Some(address), Some(token)) = (args.admin_listen, admin_token) {
        let listener =
            tokio::net::TcpListener::bind(address).await.with_context(|| format!("admin API on {address}"))?;
        println!("Admin API on http://{}", listener.local_addr()?);
        tokio::spawn(
            Arc::new(Admin { functions, hot_swap, token, server: server.clone(), metrics: metrics.clone() })
                .run(listener),
        );
    }
    if let Some(address) = args.metrics_listen {
        let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("metrics on {address}"))?;
        println!("Metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(serve_metrics(metrics, listener));
    }
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    // The tests read this line to find the port.
    println!("Serving http://{}", listener.local_addr()?);
    match server.run(listener, stop_signal()).await {
        true => eprintln!("Stopped: every accepted request was answered"),
        false => eprintln!("Stopped: the drain timed out; the requests still open were cut off"),
    }
    Ok(())
}

/// For the start-up line under `--as-spin`: the Spin interfaces the
/// manifest grants its components (a SQLite database, a PostgreSQL address,
/// variables), which are what the composed app reaches its data through.
fn spin_interfaces_used(app: &App, sqlite: &std::path::Path) -> String {
    let components = || app.components.values();
    let mut served = Vec::new();
    if components().any(|c| !c.sqlite_databases.is_empty()) {
        served.push(format!("Spin's SQLite over {}", sqlite.display()));
    }
    if components().any(|c| c.allowed_outbound_hosts.iter().any(|host| host.starts_with("postgres://"))) {
        served.push("Spin's PostgreSQL".to_string());
    }
    if !app.variables.is_empty() {
        served.push("Spin's variables".to_string());
    }
    if served.is_empty() {
        return "no Spin storage interface".to_string();
    }
    served.join(", ")
}

/// The file Spin's SQLite interface opens for a component that imports it
/// (under --as-spin); with PostgreSQL no function imports it.
fn spin_sqlite_file(args: &UpArgs) -> std::path::PathBuf {
    match args.database() {
        Database::Sqlite(path) => path,
        Database::Postgres(_) => args.state_dir.join("newsfeed.db"),
    }
}

/// How `/readyz` tells the truth in this mode: the host's backend answers, or
/// under `--as-spin` the database the manifest grants does.
fn readiness_of(args: &UpArgs, app: &App, runtime: &Runtime) -> Result<Arc<dyn Readiness>> {
    if let Some(backend) = &runtime.backend {
        return Ok(Arc::new(readiness::HostBackend(backend.clone())));
    }
    let targets = spin_postgres_targets(app, &runtime.variables)?;
    Ok(match targets.is_empty() {
        true => Arc::new(readiness::SpinSqlite { path: spin_sqlite_file(args) }),
        false => Arc::new(readiness::SpinPostgres { targets }),
    })
}

/// Under `--as-spin`: the PostgreSQL address each component's adapter is
/// configured with, and what that component may reach; readiness checks
/// each distinct pair.
fn spin_postgres_targets(app: &App, variables: &Values) -> Result<Vec<(String, Arc<[AllowedHost]>)>> {
    let mut targets: Vec<(String, Arc<[AllowedHost]>)> = Vec::new();
    for spec in app.components.values() {
        let capabilities = Capabilities::of(spec, variables)?;
        let Some(address) = capabilities.variables.get(readiness::DB_URL_VARIABLE) else {
            continue;
        };
        if !targets.iter().any(|(known, allowed)| known == address && allowed[..] == capabilities.postgres_hosts[..]) {
            targets.push((address.clone(), capabilities.postgres_hosts.clone()));
        }
    }
    Ok(targets)
}

/// Opens the backend the flags name.
async fn open_backend(database: &Database, args: &UpArgs, metrics: &Arc<Metrics>) -> Result<Arc<dyn Backend>> {
    Ok(match database {
        Database::Sqlite(path) => Arc::new(
            Sqlite::open(path, args.max_write_batch, metrics.clone())
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        Database::Postgres(url) => {
            // Half the request deadline: a function stopped by a hung
            // database still answers its 503 in time.
            let call_timeout = args.limits()?.request_timeout / 2;
            let backend =
                Postgres::connect(url, args.database_pool, call_timeout).await.context("connecting to PostgreSQL")?;
            tracing::info!("storing in PostgreSQL");
            Arc::new(backend)
        }
    })
}

/// `backend`, with a span for every call when spans are exported.
fn traced(backend: Arc<dyn Backend>, database: &Database) -> Arc<dyn Backend> {
    let system = match database {
        Database::Sqlite(_) => "sqlite",
        Database::Postgres(_) => "postgresql",
    };
    match crate::telemetry::traces_on() {
        true => Arc::new(crate::backend::traced::Traced::new(backend, system)),
        false => backend,
    }
}

/// Completes on Ctrl-C or SIGTERM (what a rolling restart sends).
async fn stop_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::warn!("cannot listen for SIGTERM: {error}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("Shutting down: no new connections; answering the requests accepted");
}
