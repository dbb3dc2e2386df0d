//! Turning wasm bytes into a servable [`WasmHandler`]: compose in the
//! component's dependencies, compile (or fetch from the compile cache), link
//! against what the [`Platform`] serves, and check that it exports the HTTP
//! handler. Used at start, by the file watcher and by the admin API alike, so
//! every version passes the same checks.
//!
//! Which compiler makes a version's code is the loader's choice, by the
//! host's [`Compiler`]: tiered, a version is first compiled by Winch (fast
//! to compile) unless Cranelift's code for it is already in the compile
//! cache, and hot swap then asks for Cranelift's in the background. Where
//! Winch cannot compile a component, Cranelift does, and the log says why.

use super::compile_cache::{sha256_hex, CompileCache};
use super::engine::{Compiler, Engines};
use super::instance::WasmHandler;
use super::worlds::{linker, HostInterface, Worlds};
use super::Runtime;
use crate::handler::{Mode, Tier, Version};
use crate::spin::compose::{compose, Dependency};
use crate::spin::manifest::ComponentSpec;
use crate::spin::Capabilities;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wasmtime::component::Component;

/// The first four bytes of every WebAssembly module and component.
const WASM_MAGIC: &[u8] = b"\0asm";

/// The custom section in which a component names the function it
/// implements (`newsfeed_guest::implements!`).
const IDENTITY_SECTION: &str = "newsfeed:function";

/// Which imports the host serves, and so how a component is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Our own host: the `newsfeed:feed` interfaces are served natively (the
    /// fast path), limited to the component's world, and dependencies on
    /// that package are skipped.
    Newsfeed,
    /// What Spin 4 serves: WASI, HTTP, Spin's SQLite, PostgreSQL and
    /// variables, nothing more. Every dependency is composed in, as `spin up`
    /// does (`newsfeed up --as-spin`).
    Spin,
}

pub struct Loader {
    runtime: Arc<Runtime>,
    cache: CompileCache,
    worlds: Worlds,
    specs: BTreeMap<String, ComponentSpec>,
    platform: Platform,
    compiler: Compiler,
}

/// A function just loaded, and what it took.
pub struct Loaded {
    pub version: Version,
    pub compile_time: Duration,
}

impl Loader {
    pub fn new(
        runtime: Arc<Runtime>,
        cache: CompileCache,
        specs: BTreeMap<String, ComponentSpec>,
        platform: Platform,
        compiler: Compiler,
    ) -> Result<Loader> {
        Ok(Loader { runtime, cache, worlds: Worlds::load()?, specs, platform, compiler })
    }

    /// The tier to compile a version with after `version` serves, if any:
    /// Cranelift after Winch, when tiered.
    pub fn follow_up(&self, version: &Version) -> Option<Tier> {
        match (self.compiler, version.tier) {
            (Compiler::Tiered, Some(Tier::Winch)) => Some(Tier::Cranelift),
            _ => None,
        }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub fn spec(&self, name: &str) -> Option<&ComponentSpec> {
        self.specs.get(name)
    }

    /// The component's wasm file, as the manifest names it.
    pub fn read_file(&self, name: &str) -> Result<Vec<u8>> {
        let spec = self.spec(name).with_context(|| format!("no component {name:?} in the manifest"))?;
        std::fs::read(&spec.source)
            .with_context(|| format!("reading {} (`newsfeed build` builds it)", spec.source.display()))
    }

    /// Reads the component's wasm file and loads it.
    pub fn load_file(&self, name: &str) -> Result<Loaded> {
        self.load(name, &self.read_file(name)?)
    }

    /// Compiles, links and checks `wasm` as a new version of `name`, with
    /// the first tier the host's compiler choice gives it. This is CPU
    /// work: call it off the request path.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<Loaded> {
        self.load_as(name, wasm, None)
    }

    /// As [`Self::load`], with `tier`'s compiler.
    pub fn load_tier(&self, name: &str, wasm: &[u8], tier: Tier) -> Result<Loaded> {
        self.load_as(name, wasm, Some(tier))
    }

    fn load_as(&self, name: &str, wasm: &[u8], tier: Option<Tier>) -> Result<Loaded> {
        let started = Instant::now();
        let (function, tier) = self.function(name, wasm, tier)?;
        let compile_time = started.elapsed();
        let version = Version {
            sha256: sha256_hex(wasm),
            loaded_at: SystemTime::now(),
            mode: Mode::Wasm,
            tier: Some(tier),
            entry: Some(function.entry()),
            wasm: Some(Arc::from(wasm)),
            handler: Box::new(function),
        };
        Ok(Loaded { version, compile_time })
    }

    /// `wasm` compiled (by `tier`, or the first tier the compiler choice
    /// gives), linked and checked as `name`, and the tier that compiled it.
    pub fn function(&self, name: &str, wasm: &[u8], tier: Option<Tier>) -> Result<(WasmHandler, Tier)> {
        let spec = self.spec(name).with_context(|| format!("no component {name:?} in the manifest"))?;
        // Said plainly here: the parser's own message prints both headers
        // as byte arrays.
        if !wasm.starts_with(WASM_MAGIC) {
            bail!("not a valid component: not WebAssembly at all (it does not start with \\0asm)");
        }
        let composed = self.with_dependencies(spec, wasm)?;
        let (component, tier) = self.compile(name, &composed, tier)?;
        let engine = self.runtime.engines.get(tier).context("no engine for the tier that compiled it")?;
        let world = match self.platform {
            Platform::Newsfeed => spec.world.as_deref(),
            Platform::Spin => None,
        };
        let mut interfaces = match world {
            Some(world) => self.worlds.interfaces(world)?,
            None => Vec::new(),
        };
        let spin_sqlite = !spec.sqlite_databases.is_empty();
        if spin_sqlite {
            interfaces.push(HostInterface::SpinSqlite);
        }
        let capabilities = match self.platform {
            Platform::Newsfeed => Capabilities::sqlite_only(spec),
            Platform::Spin => {
                interfaces.extend([HostInterface::SpinPostgres, HostInterface::SpinVariables]);
                Capabilities::of(spec, &self.runtime.variables)?
            }
        };
        let linker = linker(engine, &interfaces)?;
        let function = WasmHandler::new(name, self.runtime.clone(), &component, &linker, capabilities);
        let function = function.with_context(|| match (world, spin_sqlite) {
            (Some(world), _) => {
                format!("it does not fit world {world:?} (imports beyond it, or no wasi:http/incoming-handler export)")
            }
            (None, true) => "it imports more than WASI and Spin's SQLite, PostgreSQL and variables, or \
                                 exports no wasi:http/incoming-handler"
                .to_string(),
            (None, false) => "it imports more than WASI, or exports no wasi:http/incoming-handler".to_string(),
        })?;
        // After the world's check, which words a component that reaches
        // beyond its world more precisely; a component that fits the world
        // may still be another function's.
        if let Some(implements) = implements(wasm).filter(|implements| implements != name) {
            bail!(
                "this component is the {implements:?} function (its {IDENTITY_SECTION} section says so), not {name:?}"
            );
        }
        Ok((function, tier))
    }

    /// `composed` compiled (or read from the cache) by `tier`, or by the
    /// first tier the compiler choice gives it; Cranelift where Winch
    /// cannot compile it.
    fn compile(&self, name: &str, composed: &[u8], tier: Option<Tier>) -> Result<(Component, Tier)> {
        compile(&self.runtime.engines, &self.cache, self.compiler, name, composed, tier)
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
                format!(
                    "reading dependency {} from {} (`newsfeed build` builds it)",
                    dependency.name,
                    dependency.path.display()
                )
            })?;
            dependencies.push(Dependency {
                name: dependency.name.clone(),
                wasm: bytes,
                export: dependency.export.clone(),
                inherits: dependency.inherits.clone(),
            });
        }
        compose(wasm, dependencies)
    }
}

/// The function `wasm` says it implements, if it says. A component without
/// the section is taken as it is: what it implements is then the operator's
/// responsibility. One that cannot be parsed says nothing here; compiling
/// it says what is wrong.
fn implements(wasm: &[u8]) -> Option<String> {
    wasmparser::Parser::new(0).parse_all(wasm).map_while(Result::ok).find_map(|payload| match payload {
        wasmparser::Payload::CustomSection(section) if section.name() == IDENTITY_SECTION => {
            Some(String::from_utf8_lossy(section.data()).into_owned())
        }
        _ => None,
    })
}

/// `composed` compiled (or read from `cache`) by `tier`, or by the first
/// tier `compiler` gives it; Cranelift where Winch cannot compile it.
fn compile(
    engines: &Engines,
    cache: &CompileCache,
    compiler: Compiler,
    name: &str,
    composed: &[u8],
    tier: Option<Tier>,
) -> Result<(Component, Tier)> {
    let tier = tier.unwrap_or(match compiler {
        Compiler::Cranelift => Tier::Cranelift,
        Compiler::Winch => Tier::Winch,
        // The optimised code, when a start or a swap back finds it cached.
        Compiler::Tiered if cache.holds(&engines.cranelift, Tier::Cranelift, composed) => Tier::Cranelift,
        Compiler::Tiered => Tier::Winch,
    });
    let Some(winch) = engines.get(Tier::Winch).filter(|_| tier == Tier::Winch) else {
        return Ok((cache.load(&engines.cranelift, Tier::Cranelift, composed)?, Tier::Cranelift));
    };
    match cache.load(winch, Tier::Winch, composed) {
        Ok(component) => Ok((component, Tier::Winch)),
        Err(winch_error) => {
            // Bytes that are no component fail both ways: say Cranelift's
            // error only, and nothing of Winch.
            let component = cache.load(&engines.cranelift, Tier::Cranelift, composed)?;
            tracing::warn!(
                function = name,
                "Winch cannot compile this component, so Cranelift did (this version will not tier up): \
                 {winch_error:#}"
            );
            Ok((component, Tier::Cranelift))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    #[test]
    fn a_component_names_its_function_from_its_core_module() {
        let marked = wat::parse_str(r#"(component (core module (@custom "newsfeed:function" "inbound")))"#).unwrap();
        assert_eq!(implements(&marked).as_deref(), Some("inbound"));
        assert_eq!(implements(&wat::parse_str("(component)").unwrap()), None);
        assert_eq!(implements(b"\0asm garbage"), None);
    }

    fn setup() -> (Engines, CompileCache, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().to_path_buf()).unwrap();
        (Engines::new(&Limits::default(), Compiler::Tiered).unwrap(), cache, dir)
    }

    #[test]
    fn tiered_compiles_with_winch_first_and_starts_on_cached_cranelift_code() {
        let (engines, cache, _dir) = setup();
        let plain = wat::parse_str("(component (core module (func (export \"f\") (result i32) i32.const 1)))").unwrap();
        assert_eq!(compile(&engines, &cache, Compiler::Tiered, "f", &plain, None).unwrap().1, Tier::Winch);
        assert_eq!(
            compile(&engines, &cache, Compiler::Tiered, "f", &plain, Some(Tier::Cranelift)).unwrap().1,
            Tier::Cranelift
        );
        // Cranelift's code is cached now: the next load starts on it.
        assert_eq!(compile(&engines, &cache, Compiler::Tiered, "f", &plain, None).unwrap().1, Tier::Cranelift);
    }

    #[test]
    fn what_winch_cannot_compile_cranelift_does() {
        let (engines, cache, _dir) = setup();
        // A tail call: a proposal wasmtime 48's Winch does not support.
        let tail_call = wat::parse_str(
            "(component (core module (func $f (export \"f\") (result i32) (return_call $g)) (func $g (result i32) i32.const 1)))",
        )
        .unwrap();
        assert!(engines.winch.as_ref().unwrap().precompile_component(&tail_call).is_err(), "Winch compiled it");
        assert_eq!(compile(&engines, &cache, Compiler::Tiered, "f", &tail_call, None).unwrap().1, Tier::Cranelift);
        // Bytes that are no component fail either way.
        assert!(compile(&engines, &cache, Compiler::Tiered, "f", b"\0asm junk", None).is_err());
    }
}
