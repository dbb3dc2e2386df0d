//! Turning wasm bytes into a servable [`Function`]: compose in the
//! component's dependencies, compile (or fetch from the compile cache), link
//! against what the [`Platform`] serves, and check that it exports the HTTP
//! handler. Used at start, by the file watcher and by the admin API alike, so
//! every version passes the same checks.

use crate::compile_cache::{sha256_hex, CompileCache};
use crate::compose::{compose, Dependency};
use crate::function::Function;
use crate::manifest::ComponentSpec;
use crate::worlds::Worlds;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wasmtime::Engine;

/// Which imports the host serves, and so how a component is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Our own host: the `newsfeed:feed` interfaces are served natively (the
    /// fast path), limited to the component's world, and dependencies on
    /// that package are skipped.
    Newsfeed,
    /// What Spin 4 serves: WASI, HTTP and Spin's SQLite, nothing more. Every
    /// dependency is composed in, as `spin up` does (`newsfeed up --as-spin`).
    Spin,
}

pub struct Loader {
    pub engine: Engine,
    cache: CompileCache,
    worlds: Worlds,
    specs: BTreeMap<String, ComponentSpec>,
    platform: Platform,
}

/// A function just loaded, and what it took.
pub struct Loaded {
    pub function: Function,
    pub compile_time: Duration,
}

impl Loader {
    pub fn new(
        engine: Engine,
        cache: CompileCache,
        specs: BTreeMap<String, ComponentSpec>,
        platform: Platform,
    ) -> Result<Loader> {
        Ok(Loader { engine, cache, worlds: Worlds::load()?, specs, platform })
    }

    pub fn spec(&self, name: &str) -> Option<&ComponentSpec> {
        self.specs.get(name)
    }

    /// Reads the component's wasm file and loads it.
    pub fn load_file(&self, name: &str) -> Result<Loaded> {
        let spec = self.spec(name).with_context(|| format!("no component {name:?} in the manifest"))?;
        let wasm = std::fs::read(&spec.source)
            .with_context(|| format!("reading {} (run `newsfeed build`?)", spec.source.display()))?;
        self.load(name, &wasm)
    }

    /// Compiles, links and checks `wasm` as a new version of `name`. This is
    /// CPU work: call it off the request path.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<Loaded> {
        let spec = self.spec(name).with_context(|| format!("no component {name:?} in the manifest"))?;
        let started = Instant::now();
        let composed = self.with_dependencies(spec, wasm)?;
        let component = self.cache.load(&self.engine, &composed).context("not a valid component")?;
        let compile_time = started.elapsed();
        let world = match self.platform {
            Platform::Newsfeed => spec.world.as_deref(),
            Platform::Spin => None,
        };
        let spin_sqlite = !spec.sqlite_databases.is_empty();
        let linker = self.worlds.linker(&self.engine, world, spin_sqlite)?;
        let function = Function::new(name, sha256_hex(wasm), &component, &linker, &spec.sqlite_databases)
            .with_context(|| match (world, spin_sqlite) {
                (Some(world), _) => format!(
                    "it does not fit world {world:?} (imports beyond it, or no wasi:http/incoming-handler export)"
                ),
                (None, true) => "it imports more than WASI and Spin's SQLite, or exports no \
                                 wasi:http/incoming-handler"
                    .to_string(),
                (None, false) => "it imports more than WASI, or exports no wasi:http/incoming-handler".to_string(),
            })?;
        Ok(Loaded { function, compile_time })
    }

    /// `wasm` composed with the dependencies the platform does not serve
    /// itself, read from their files.
    fn with_dependencies(&self, spec: &ComponentSpec, wasm: &[u8]) -> Result<Vec<u8>> {
        let served = self.worlds.package_name();
        let mut dependencies = Vec::new();
        for dependency in &spec.dependencies {
            if self.platform == Platform::Newsfeed && dependency.name.package == served {
                continue;
            }
            let bytes = std::fs::read(&dependency.path).with_context(|| {
                format!("reading dependency {} from {}", dependency.name, dependency.path.display())
            })?;
            dependencies.push(Dependency {
                name: dependency.name.clone(),
                wasm: bytes,
                export: dependency.export.clone(),
                inherits_sqlite: dependency.inherits_sqlite,
            });
        }
        compose(wasm, dependencies)
    }
}
