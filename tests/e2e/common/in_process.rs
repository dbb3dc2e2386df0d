//! Functions loaded in this process, as `newsfeed up` loads them, to call
//! their handlers directly: for the benches, and for tests that must reach
//! a function past the server in front of it.

use newsfeed::limits::Limits;
use newsfeed::metrics::Metrics;
use newsfeed::spin::manifest::App;
use newsfeed::spin::postgres::Pools;
use newsfeed::spin::sqlite::Databases;
use newsfeed::spin::variables::Values;
use newsfeed::store::Backend;
use newsfeed::wasm::compile_cache::CompileCache;
use newsfeed::wasm::engine::{new_engine, start_epoch_clock};
use newsfeed::wasm::function::Function;
use newsfeed::wasm::loader::{Loader, Platform};
use newsfeed::wasm::Runtime;
use std::path::Path;
use std::sync::Arc;

/// Loads each of `names` from `spin.toml` for `platform`, over `backend`
/// (`None` under Spin, whose functions reach `database` through the
/// adapter), compiling into `dir`, under the default limits.
pub fn load(
    dir: &Path,
    database: &Path,
    platform: Platform,
    backend: Option<Arc<dyn Backend>>,
    names: &[&str],
) -> Vec<(String, Function)> {
    super::build_components();
    let app = App::load(&super::repo_root().join("spin.toml")).unwrap();
    let limits = Limits::default();
    let engine = new_engine(&limits).unwrap();
    start_epoch_clock(&engine);
    let runtime = Arc::new(Runtime {
        engine,
        backend,
        databases: Databases::new(database),
        pg_pools: Pools::new(1),
        variables: Values::default(),
        limits,
        metrics: Arc::new(Metrics::default()),
    });
    let cache = CompileCache::new(dir.join("compiled")).unwrap();
    let loader = Loader::new(runtime, cache, app.components.clone(), platform).unwrap();
    names
        .iter()
        .map(|name| (name.to_string(), loader.function(name, &loader.read_file(name).unwrap()).unwrap()))
        .collect()
}
