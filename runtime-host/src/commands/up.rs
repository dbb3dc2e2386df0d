//! `newsfeed up` and `newsfeed watch`: load the app from the manifest, open
//! the store, compile (or load from cache) every component, and serve HTTP
//! until Ctrl-C or SIGTERM, hot-swapping functions as their files change;
//! then drain (every accepted request answered) and exit.

use super::watch::{watch_sources, watch_wasm_files};
use crate::cli::{Database, UpArgs};
use crate::function::native::NativeFunction;
use crate::function::{FunctionSlot, Version};
use crate::http::admin::Admin;
use crate::http::metrics::serve_metrics;
use crate::http::server::Server;
use crate::metrics::Metrics;
use crate::spin::manifest::App;
use crate::spin::postgres::Pools;
use crate::spin::routing::Router;
use crate::spin::sqlite::Databases;
use crate::spin::variables::Values;
use crate::store::postgres::Postgres;
use crate::store::sqlite::Sqlite;
use crate::store::Backend;
use crate::wasm::compile_cache::CompileCache;
use crate::wasm::engine::{new_engine, start_epoch_clock};
use crate::wasm::hot_swap::HotSwap;
use crate::wasm::loader::{Loader, Platform};
use crate::wasm::Runtime;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

/// What to watch while serving.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The wasm files: a new file swaps its function.
    Up,
    /// The sources: a change rebuilds and swaps its function.
    Watch,
}

pub async fn run(args: UpArgs, mode: Mode) -> Result<()> {
    let admin_token = match (&args.admin_listen, &args.admin_token) {
        (Some(_), None) => {
            bail!("--admin-listen needs a token: --admin-token or NEWSFEED_ADMIN_TOKEN")
        }
        (Some(_), Some(token)) if token.trim().is_empty() => {
            bail!("the admin token must not be empty")
        }
        (_, token) => token.clone(),
    };
    if args.build {
        let manifest = args.manifest.clone();
        tokio::task::spawn_blocking(move || super::build::run(&manifest)).await??;
    }
    let app = App::load(&args.manifest)?;
    let limits = args.limits()?;
    std::fs::create_dir_all(&args.state_dir).with_context(|| format!("creating {}", args.state_dir.display()))?;
    let platform = if args.as_spin { Platform::Spin } else { Platform::Newsfeed };
    let metrics = Arc::new(Metrics::default());
    let database = args.database();
    // Under Spin the adapter creates and migrates the schema itself; opening
    // the backend here would do it first and hide a broken adapter.
    let backend: Option<Arc<dyn Backend>> = match (platform, &database) {
        (Platform::Newsfeed, database) => Some(traced(open_store(database, &args, &metrics).await?, database)),
        (Platform::Spin, Database::Sqlite(_)) => {
            tracing::info!("running as Spin would: functions composed with their dependencies, Spin's SQLite served");
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
    let spin_sqlite = match &database {
        Database::Sqlite(path) => path.clone(),
        Database::Postgres(_) => args.state_dir.join("newsfeed.db"),
    };
    let engine = new_engine(&limits)?;
    start_epoch_clock(&engine);
    // Application variables (SPIN_VARIABLE_*), as Spin resolves them; a
    // required one without a value stops the start here.
    let variables = match platform {
        Platform::Spin => Values::resolve(&app.variables, |key| std::env::var(key).ok())?,
        Platform::Newsfeed => Values::default(),
    };
    let runtime = Arc::new(Runtime {
        engine,
        backend: backend.clone(),
        databases: Databases::new(&spin_sqlite),
        pg_pools: Pools::new(args.database_pool),
        variables,
        limits: limits.clone(),
        metrics: metrics.clone(),
    });
    let cache = CompileCache::new(args.compile_cache.clone().unwrap_or_else(|| args.state_dir.join("compiled")))?;
    let loader = Arc::new(Loader::new(runtime, cache, app.components.clone(), platform)?);

    let mut functions = BTreeMap::new();
    for name in app.components.keys() {
        // The native baseline serves the functions that have a native
        // build; the rest (test-only components) run in wasm all the same.
        let native = match (&backend, args.native) {
            (Some(backend), true) => NativeFunction::new(name, backend.clone(), limits.request_timeout),
            _ => None,
        };
        let version = match native {
            Some(native) => Version {
                sha256: "native".into(),
                loaded_at: SystemTime::now(),
                mode: "native",
                handler: Box::new(native),
            },
            None => {
                let loaded = loader.load_file(name).with_context(|| format!("loading component {name}"))?;
                tracing::info!(function = %name, version = &loaded.version.sha256[..12], compile = ?loaded.compile_time, "loaded");
                loaded.version
            }
        };
        metrics.loaded(name, version.mode, None, &version.sha256);
        let routes =
            app.routes.iter().filter(|(_, target)| target == name).map(|(route, _)| route.to_string()).collect();
        functions.insert(name.clone(), Arc::new(FunctionSlot::new(name, version, routes)));
    }
    let routes = app.routes.iter().map(|(route, name)| (route.clone(), functions[name].clone())).collect();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight));
    let server =
        Arc::new(Server { router: Router::new(routes), limits, metrics: metrics.clone(), store: backend, in_flight });

    // Swapping wasm into a host that serves native code would be a lie.
    let hot_swap = match args.native {
        true => {
            tracing::info!("--native: hot swap is off (no file watching, admin PUT answers 409)");
            None
        }
        false => Some(Arc::new(HotSwap::new(loader, functions.clone(), metrics.clone()))),
    };
    let handle = tokio::runtime::Handle::current();
    // `watch` serves like `up`, a new wasm file swapping its function, and
    // also rebuilds a function whose sources change.
    let mut _watchers = Vec::new();
    if let Some(hot_swap) = &hot_swap {
        _watchers.push(watch_wasm_files(hot_swap.clone(), handle.clone())?);
        if mode == Mode::Watch {
            _watchers.push(watch_sources(hot_swap.clone(), &app, handle)?);
        }
    }
    if let (Some(address), Some(token)) = (args.admin_listen, admin_token) {
        let listener =
            tokio::net::TcpListener::bind(address).await.with_context(|| format!("admin API on {address}"))?;
        println!("Admin API on http://{}", listener.local_addr()?);
        tokio::spawn(Arc::new(Admin { functions, hot_swap, token, metrics: metrics.clone() }).run(listener));
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
    server.run(listener, stop_signal()).await;
    eprintln!("Stopped: every accepted request was answered");
    Ok(())
}

/// Opens the store the flags name.
async fn open_store(database: &Database, args: &UpArgs, metrics: &Arc<Metrics>) -> Result<Arc<dyn Backend>> {
    Ok(match database {
        Database::Sqlite(path) => Arc::new(
            Sqlite::open(path, args.max_write_batch, metrics.clone())
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        Database::Postgres(url) => {
            let store = Postgres::connect(url, args.database_pool).await.context("connecting to PostgreSQL")?;
            tracing::info!("storing in PostgreSQL");
            Arc::new(store)
        }
    })
}

/// `store`, with a span for every call when spans are exported.
fn traced(store: Arc<dyn Backend>, database: &Database) -> Arc<dyn Backend> {
    let system = match database {
        Database::Sqlite(_) => "sqlite",
        Database::Postgres(_) => "postgresql",
    };
    match crate::telemetry::traces_on() {
        true => Arc::new(crate::store::traced::Traced::new(store, system)),
        false => store,
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
