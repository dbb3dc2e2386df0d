//! The one place the runtime is put together from its [`Options`]: the
//! engines (one per compiler tier) and their epoch clocks, the compile cache, the loader, and each
//! function's first version (wasm, or the native build where asked for).
//! `newsfeed up`, the tests and the benches all call [`assemble`], so they
//! run what the product runs.
//!
//! Depends on `wasm`, `handler`, `spin`, `backend` and the leaves; knows
//! nothing of HTTP or of the command line.

use crate::backend::Backend;
use crate::handler::native::NativeHandler;
use crate::handler::FunctionSlot;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::spin::manifest::App;
use crate::spin::postgres::Pools;
use crate::spin::sqlite::Databases;
use crate::spin::variables::Values;
use crate::wasm::compile_cache::CompileCache;
use crate::wasm::engine::{start_epoch_clock, Compiler, Engines};
use crate::wasm::loader::{Loader, Platform};
use crate::wasm::Runtime;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the runtime is made of.
pub struct Options {
    /// What the host serves a component: our own interfaces, or only Spin's.
    pub platform: Platform,
    pub limits: Limits,
    /// The feed imports' backend; `None` under Spin, whose functions reach
    /// the database through their adapter.
    pub backend: Option<Arc<dyn Backend>>,
    /// The file Spin's SQLite interface opens for a component that imports
    /// it.
    pub spin_sqlite: PathBuf,
    /// Connections in each pool of Spin's PostgreSQL interface.
    pub postgres_pool: usize,
    /// The application variables' values (Spin's; empty on our own host).
    pub variables: Values,
    /// Where compiled components are kept between runs.
    pub compile_cache: PathBuf,
    /// Which compilers make the functions' code.
    pub compiler: Compiler,
    /// Serve natively every function that has a native build (the
    /// baseline); the others, and every function without a backend, run in
    /// wasm.
    pub native: bool,
    pub metrics: Arc<Metrics>,
}

/// The runtime, ready to serve.
pub struct Assembly {
    /// Loads new versions (hot swap) exactly as the first ones were loaded.
    pub loader: Arc<Loader>,
    /// Each component of the app in its slot, serving its first version.
    pub functions: BTreeMap<String, Arc<FunctionSlot>>,
}

/// Builds the runtime of `app` and loads every one of its components.
pub fn assemble(app: &App, options: Options) -> Result<Assembly> {
    let engines = Engines::new(&options.limits, options.compiler)?;
    engines.all().for_each(start_epoch_clock);
    let deadline = options.limits.request_timeout;
    let runtime = Arc::new(Runtime {
        engines,
        backend: options.backend.clone(),
        databases: Databases::new(&options.spin_sqlite),
        pg_pools: Pools::new(options.postgres_pool),
        variables: options.variables,
        limits: options.limits,
        metrics: options.metrics.clone(),
    });
    let cache = CompileCache::new(options.compile_cache)?;
    let loader = Arc::new(Loader::new(runtime, cache, app.components.clone(), options.platform, options.compiler)?);
    let mut functions = BTreeMap::new();
    for name in app.components.keys() {
        let native = match (&options.backend, options.native) {
            (Some(backend), true) => NativeHandler::new(name, backend.clone(), options.metrics.clone(), deadline),
            _ => None,
        };
        let version = match native {
            Some(native) => native.into_version(),
            None => {
                let loaded = loader.load_file(name).with_context(|| format!("loading component {name}"))?;
                tracing::info!(
                    function = %name,
                    version = &loaded.version.sha256[..12],
                    tier = loaded.version.tier.map_or("none", |tier| tier.as_str()),
                    entry = loaded.version.entry.map_or("none", |entry| entry.as_str()),
                    compile = ?loaded.compile_time,
                    "loaded"
                );
                loaded.version
            }
        };
        options.metrics.loaded(name, version.mode, None, &version.sha256);
        options.metrics.tier(name, version.tier.map(|tier| tier.as_str()));
        let routes =
            app.routes.iter().filter(|(_, target)| target == name).map(|(route, _)| route.to_string()).collect();
        functions.insert(name.clone(), Arc::new(FunctionSlot::new(name, version, routes)));
    }
    Ok(Assembly { loader, functions })
}
