//! `newsfeed up`: loads the app from the manifest, opens the store, compiles
//! (or loads from cache) every component, and serves HTTP until Ctrl-C.

use crate::backend::sqlite::Sqlite;
use crate::cli::UpArgs;
use crate::compile_cache::{sha256_hex, CompileCache};
use crate::engine::{new_engine, start_epoch_clock};
use crate::function::{Function, Shared};
use crate::manifest::App;
use crate::routing::Router;
use crate::server::{FunctionSlot, Server};
use crate::worlds::Worlds;
use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: UpArgs) -> Result<()> {
    if args.build {
        let manifest = args.manifest.clone();
        tokio::task::spawn_blocking(move || super::build::run(&manifest)).await??;
    }
    let app = App::load(&args.manifest)?;
    let limits = args.limits()?;
    std::fs::create_dir_all(&args.state_dir).with_context(|| format!("creating {}", args.state_dir.display()))?;
    let database = args.state_dir.join("newsfeed.db");
    let backend = Sqlite::open(&database).with_context(|| format!("opening {}", database.display()))?;

    let engine = new_engine(&limits)?;
    start_epoch_clock(&engine);
    let cache = CompileCache::new(args.compile_cache.clone().unwrap_or_else(|| args.state_dir.join("compiled")))?;
    let worlds = Worlds::load()?;

    let mut functions = BTreeMap::new();
    for (name, spec) in &app.components {
        let started = Instant::now();
        let wasm = std::fs::read(&spec.source)
            .with_context(|| format!("reading component {name} from {} (run `newsfeed build`?)", spec.source.display()))?;
        let component = cache.load(&engine, &wasm).with_context(|| format!("compiling component {name}"))?;
        let linker = worlds.linker(&engine, spec.world.as_deref())?;
        let function = Function::new(name, sha256_hex(&wasm), &component, &linker)
            .with_context(|| format!("component {name} does not fit its world {:?}", spec.world))?;
        tracing::info!(function = %name, version = &function.sha256[..12], elapsed = ?started.elapsed(), "loaded");
        functions.insert(name.clone(), FunctionSlot::new(ArcSwap::from_pointee(function)));
    }
    let routes = app.routes.iter().map(|(route, name)| (route.clone(), functions[name].clone())).collect();
    let server = Arc::new(Server {
        shared: Shared { engine, backend: Arc::new(backend), limits },
        router: Router::new(routes),
        functions,
    });

    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    // The tests read this line to find the port.
    println!("Serving http://{}", listener.local_addr()?);
    tokio::select! {
        result = server.run(listener) => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Shutting down");
            Ok(())
        }
    }
}
