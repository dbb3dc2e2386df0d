//! Compiled components on disk, keyed by the sha256 of the wasm, the tier
//! (compiler) and the engine's settings, so that a restart skips compiling
//! entirely. Both tiers of one wasm are kept side by side: the engine
//! settings' hash does differ between Winch and Cranelift (wasmtime hashes
//! its tunables, `winch_callable` among them), but the tier is also in the
//! name so the files say what they are.
//!
//! What is in the cache is native code that the host runs unchecked, so
//! the cache is trusted only as far as who can write to it: as ssh does
//! for its keys, the host refuses a cache folder that another user owns or
//! that its group or others may write, and ignores any such file in it.

use crate::handler::Tier;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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
        if let Some(why) = untrusted(&dir)? {
            bail!(
                "refusing the compile cache {}: it {why}, so another user could put native code in it that this \
                 host would run; use a folder of your own with `chmod go-w`",
                dir.display()
            );
        }
        Ok(CompileCache { dir })
    }

    /// Where the code `engine` (of `tier`) compiles from `wasm` is kept.
    fn path(&self, engine: &Engine, tier: Tier, wasm: &[u8]) -> PathBuf {
        let mut engine_hash = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hash);
        self.dir.join(format!("{}-{tier}-{:016x}.cwasm", sha256_hex(wasm), engine_hash.finish()))
    }

    /// Whether the cache holds `tier`'s code for `wasm`, in a file it trusts.
    pub fn holds(&self, engine: &Engine, tier: Tier, wasm: &[u8]) -> bool {
        matches!(untrusted(&self.path(engine, tier, wasm)), Ok(None))
    }

    /// The compiled component for `wasm`: from the cache when it holds one,
    /// else compiled now by `engine` (of `tier`) and stored for next time.
    pub fn load(&self, engine: &Engine, tier: Tier, wasm: &[u8]) -> Result<Component> {
        let path = self.path(engine, tier, wasm);
        let trusted = match untrusted(&path) {
            Ok(None) => true,
            Ok(Some(why)) => {
                tracing::warn!("ignoring the compiled component {}: it {why}", path.display());
                false
            }
            Err(_not_there) => false,
        };
        if trusted {
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

/// Why `path` cannot be trusted to hold only what this user put there, or
/// `None` when it can.
fn untrusted(path: &Path) -> Result<Option<String>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    Ok(if meta.uid() != me {
        Some(format!("is owned by user {}, not by this host's user {me}", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!("may be written by its group or by others (mode {:o})", meta.mode() & 0o777))
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::wasm::engine::new_engine;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_cache_folder_others_may_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o777, 0o775, 0o757] {
            chmod(dir.path(), mode);
            let refused = CompileCache::new(dir.path().to_path_buf()).err().expect("a writable cache was accepted");
            assert!(refused.to_string().contains("may be written by its group or by others"), "{refused}");
        }
        chmod(dir.path(), 0o755);
        CompileCache::new(dir.path().to_path_buf()).unwrap();
    }

    #[test]
    fn a_compiled_file_others_may_write_is_compiled_again_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().to_path_buf()).unwrap();
        let engine = Engine::default();
        let cached = |wasm: &[u8]| dir.path().join(format!("{}-", sha256_hex(wasm)));
        let file_of = |prefix: PathBuf| {
            let prefix = prefix.to_string_lossy().into_owned();
            let files = std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().path());
            files.into_iter().find(|file| file.to_string_lossy().starts_with(&prefix)).unwrap()
        };
        let (empty, importing) =
            (wat::parse_str("(component)").unwrap(), wat::parse_str(r#"(component (import "f" (func)))"#).unwrap());
        cache.load(&engine, Tier::Cranelift, &empty).unwrap();
        cache.load(&engine, Tier::Cranelift, &importing).unwrap();
        // Someone else's code in the importing component's place, in a file
        // that anyone could have written: it must not be run.
        let (theirs, ours) = (file_of(cached(&empty)), file_of(cached(&importing)));
        std::fs::copy(&theirs, &ours).unwrap();
        chmod(&ours, 0o666);
        assert!(!cache.holds(&engine, Tier::Cranelift, &importing), "an untrusted file counts as cached");
        let loaded = cache.load(&engine, Tier::Cranelift, &importing).unwrap();
        assert_eq!(loaded.component_type().imports(&engine).count(), 1, "the untrusted file was loaded");
    }

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
