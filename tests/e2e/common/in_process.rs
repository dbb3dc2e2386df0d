//! Functions loaded in this process, as `newsfeed up` loads them, to call
//! their handlers directly: for the benches, and for tests that must reach
//! a function past the server in front of it.

use newsfeed::assembly::{assemble, Options};
use newsfeed::backend::Backend;
use newsfeed::limits::Limits;
use newsfeed::spin::manifest::App;
use newsfeed::spin::variables::Values;
use newsfeed::wasm::engine::Compiler;
use newsfeed::wasm::instance::WasmHandler;
use newsfeed::wasm::loader::Platform;
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
) -> Vec<(String, WasmHandler)> {
    super::build_components();
    let app = App::load(&super::repo_root().join("spin.toml")).unwrap();
    let options = Options {
        platform,
        limits: Limits::default(),
        backend,
        spin_sqlite: database.to_path_buf(),
        postgres_pool: 1,
        variables: Values::default(),
        compile_cache: dir.join("compiled"),
        // The optimised code: what serves once a host has settled.
        compiler: Compiler::Cranelift,
        native: false,
        metrics: Arc::default(),
    };
    // The runtime `newsfeed up` would serve; its loader gives each function
    // as the wasm type itself, so that a bench may instantiate it alone.
    let loader = assemble(&app, options).unwrap().loader;
    names
        .iter()
        .map(|name| (name.to_string(), loader.function(name, &loader.read_file(name).unwrap(), None).unwrap().0))
        .collect()
}
