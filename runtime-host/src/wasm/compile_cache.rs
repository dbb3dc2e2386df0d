//! Compiled components on disk, keyed by the sha256 of the wasm, the tier
//! (compiler) and the engine's settings, so that a restart skips compiling
//! entirely. Both tiers of one wasm are kept side by side: the engine
//! settings' hash does differ between Winch and Cranelift (wasmtime hashes
//! its tunables, `winch_callable` among them), but the tier is also in the
//! name so the files say what they are.

use crate::function::Tier;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use wasmtime::component::Component;
use wasmtime::Engine;

pub struct CompileCache {
    dir: PathBuf,
}

/// The sha256 of a wasm file, in hex: the function's version.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl CompileCache {
    pub fn new(dir: PathBuf) -> Result<CompileCache> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(CompileCache { dir })
    }

    /// Where the code `engine` (of `tier`) compiles from `wasm` is kept.
    fn path(&self, engine: &Engine, tier: Tier, wasm: &[u8]) -> PathBuf {
        let mut engine_hash = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hash);
        self.dir.join(format!("{}-{tier}-{:016x}.cwasm", sha256_hex(wasm), engine_hash.finish()))
    }

    /// Whether the cache holds `tier`'s code for `wasm`.
    pub fn holds(&self, engine: &Engine, tier: Tier, wasm: &[u8]) -> bool {
        self.path(engine, tier, wasm).exists()
    }

    /// The compiled component for `wasm`: from the cache when it holds one,
    /// else compiled now by `engine` (of `tier`) and stored for next time.
    pub fn load(&self, engine: &Engine, tier: Tier, wasm: &[u8]) -> Result<Component> {
        let path = self.path(engine, tier, wasm);
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same settings (the hash in its name), into our
            // own state dir.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => tracing::warn!("ignoring unreadable compile cache {}: {error}", path.display()),
            }
        }
        let compiled =
            engine.precompile_component(wasm).map_err(anyhow::Error::from).context("not a valid component")?;
        // A name of its own: several hosts may share one cache dir.
        let partial = path.with_extension(format!("{}.{:?}.partial", std::process::id(), std::thread::current().id()));
        if let Err(error) = std::fs::write(&partial, &compiled).and_then(|()| std::fs::rename(&partial, &path)) {
            // The cache only saves the next start a compile: serve anyway.
            tracing::warn!("not caching the compiled component in {}: {error}", path.display());
            let _ = std::fs::remove_file(&partial);
        }
        // SAFETY: as above, just written by this engine.
        Ok(unsafe { Component::deserialize(engine, &compiled)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::wasm::engine::new_engine;

    fn engine_hash(engine: &Engine) -> u64 {
        let mut hash = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hash);
        hash.finish()
    }

    #[test]
    fn the_two_tiers_are_kept_side_by_side() {
        let limits = Limits::default();
        let (winch, cranelift) =
            (new_engine(&limits, Tier::Winch).unwrap(), new_engine(&limits, Tier::Cranelift).unwrap());
        // wasmtime's own hash tells the strategies apart ...
        assert_ne!(engine_hash(&winch), engine_hash(&cranelift));
        // ... and the file names say the tier besides.
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().to_path_buf()).unwrap();
        let (by_winch, by_cranelift) =
            (cache.path(&winch, Tier::Winch, b"x"), cache.path(&cranelift, Tier::Cranelift, b"x"));
        assert!(by_winch.to_string_lossy().contains("-winch-"), "{}", by_winch.display());
        assert!(by_cranelift.to_string_lossy().contains("-cranelift-"), "{}", by_cranelift.display());
    }
}
