//! `newsfeed up` and `newsfeed watch`: load the app from the manifest, open
//! the store, compile (or load from cache) every component, and serve HTTP
//! until Ctrl-C, hot-swapping functions as their files change.

use crate::admin::Admin;
use crate::backend::sqlite::Sqlite;
use crate::cli::UpArgs;
use crate::compile_cache::CompileCache;
use crate::engine::{new_engine, start_epoch_clock};
use crate::function::Shared;
use crate::hot_swap::FunctionSlot;
use crate::loader::{Loader, Platform};
use crate::manifest::App;
use crate::metrics::{serve_metrics, Metrics};
use crate::native::Native;
use crate::routing::Router;
use crate::server::Server;
use crate::spin_sqlite::Databases;
use crate::watch::{watch_sources, watch_wasm_files};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

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
    let database = args.state_dir.join("newsfeed.db");
    let platform = if args.as_spin { Platform::Spin } else { Platform::Newsfeed };
    if platform == Platform::Spin {
        tracing::info!("running as Spin would: functions composed with their dependencies, Spin's SQLite served");
    }
    // Under Spin the adapter creates and migrates the schema itself; opening
    // the backend here would do it first and hide a broken adapter.
    let backend: Option<Arc<dyn crate::backend::Backend>> = match platform {
        Platform::Newsfeed => {
            Some(Arc::new(Sqlite::open(&database).with_context(|| format!("opening {}", database.display()))?))
        }
        Platform::Spin => None,
    };
    let native = match (&backend, args.native) {
        (Some(backend), true) => Some(Native { backend: backend.clone() }),
        _ => None,
    };
    let engine = new_engine(&limits)?;
    start_epoch_clock(&engine);
    let cache = CompileCache::new(args.compile_cache.clone().unwrap_or_else(|| args.state_dir.join("compiled")))?;
    let loader = Arc::new(Loader::new(engine.clone(), cache, app.components.clone(), platform)?);

    let metrics = Metrics::default();
    let mut functions = BTreeMap::new();
    for name in app.components.keys() {
        let loaded = loader.load_file(name).with_context(|| format!("loading component {name}"))?;
        let function = loaded.function;
        tracing::info!(function = %name, version = &function.sha256[..12], compile = ?loaded.compile_time, "loaded");
        metrics.loaded(name, None, &function.sha256);
        let routes =
            app.routes.iter().filter(|(_, target)| target == name).map(|(route, _)| route.to_string()).collect();
        functions.insert(name.clone(), Arc::new(FunctionSlot::new(function, routes)));
    }
    let routes = app.routes.iter().map(|(route, name)| (route.clone(), functions[name].clone())).collect();
    let server = Arc::new(Server {
        shared: Shared { engine, backend, databases: Databases::new(&database), limits, metrics },
        router: Router::new(routes),
        functions,
        loader,
        native,
    });

    let runtime = tokio::runtime::Handle::current();
    let _watcher = match mode {
        Mode::Up => watch_wasm_files(server.clone(), runtime)?,
        Mode::Watch => watch_sources(server.clone(), &app, runtime)?,
    };
    if let (Some(address), Some(token)) = (args.admin_listen, admin_token) {
        let listener =
            tokio::net::TcpListener::bind(address).await.with_context(|| format!("admin API on {address}"))?;
        println!("Admin API on http://{}", listener.local_addr()?);
        tokio::spawn(Arc::new(Admin { server: server.clone(), token }).run(listener));
    }
    if let Some(address) = args.metrics_listen {
        let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("metrics on {address}"))?;
        println!("Metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(serve_metrics(server.clone(), listener));
    }
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    // The tests read this line to find the port.
    println!("Serving http://{}", listener.local_addr()?);
    tokio::select! {
        () = server.run(listener) => Ok(()),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Shutting down");
            Ok(())
        }
    }
}
