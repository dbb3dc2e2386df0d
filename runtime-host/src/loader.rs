//! Turning wasm bytes into a servable [`Function`]: compile (or fetch from the
//! compile cache), link against the component's world, and check that it
//! exports the HTTP handler. Used at start, by the file watcher and by the
//! admin API alike, so every version passes the same checks.

use crate::compile_cache::{sha256_hex, CompileCache};
use crate::function::Function;
use crate::manifest::ComponentSpec;
use crate::worlds::Worlds;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wasmtime::Engine;

pub struct Loader {
    pub engine: Engine,
    cache: CompileCache,
    worlds: Worlds,
    specs: BTreeMap<String, ComponentSpec>,
}

/// A function just loaded, and what it took.
pub struct Loaded {
    pub function: Function,
    pub compile_time: Duration,
}

impl Loader {
    pub fn new(engine: Engine, cache: CompileCache, specs: BTreeMap<String, ComponentSpec>) -> Result<Loader> {
        Ok(Loader { engine, cache, worlds: Worlds::load()?, specs })
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
        let component = self.cache.load(&self.engine, wasm).context("not a valid component")?;
        let compile_time = started.elapsed();
        let linker = self.worlds.linker(&self.engine, spec.world.as_deref())?;
        let function =
            Function::new(name, sha256_hex(wasm), &component, &linker).with_context(|| match &spec.world {
                Some(world) => format!(
                    "it does not fit world {world:?} (imports beyond it, or no wasi:http/incoming-handler export)"
                ),
                None => "it imports more than WASI, or exports no wasi:http/incoming-handler".to_string(),
            })?;
        Ok(Loaded { function, compile_time })
    }
}
