//! Replacing one function in place while everything else keeps serving.
//!
//! A new version (from its wasm file changing, or from the admin API) is
//! loaded by the [`Loader`] off the async threads, with every check a
//! version at start gets, and only then put in its [`FunctionSlot`]. A
//! version that fails to compile, link or check is never stored: the old
//! one keeps serving, and the refusal is logged and counted.
//!
//! With tiered compilers a version is switched in on Winch's code, and
//! Cranelift's code for the same bytes replaces it from the background; the
//! version it replaced stays compiled, as the previous one, for a rollback.
//! Every switch (swap, tier-up, rollback) is one log line, counted, and in
//! the function's history.

use super::compile_cache::sha256_hex;
use super::loader::Loader;
use crate::handler::{FunctionSlot, Origin, Tier, Version};
use crate::metrics::Metrics;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The functions that can be swapped, and what loads their new versions.
pub struct HotSwap {
    loader: Arc<Loader>,
    slots: BTreeMap<String, Arc<FunctionSlot>>,
    metrics: Arc<Metrics>,
    /// One background compile at a time: the optimising tier is not urgent,
    /// and several at once would take the cores from the requests.
    background: Arc<tokio::sync::Semaphore>,
}

/// What one swap did, for the log and the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SwapReport {
    pub function: String,
    pub old_version: String,
    pub new_version: String,
    /// How the new version came: `file` or `admin`.
    pub origin: Origin,
    /// The compiler whose code serves it now; with `winch`, Cranelift's
    /// follows in the background.
    pub tier: Tier,
    pub compile_ms: f64,
}

impl std::fmt::Display for SwapReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "swapped {} {} -> {} (by {}; {} code, compiled in {:.1} ms)",
            self.function,
            short(&self.old_version),
            short(&self.new_version),
            self.origin,
            self.tier,
            self.compile_ms
        )
    }
}

/// What one rollback did, for the log and the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackReport {
    pub function: String,
    pub old_version: String,
    pub new_version: String,
    pub tier: Option<Tier>,
    /// From taking the function's swap lock to the switch: no compile.
    pub switch_ms: f64,
}

impl std::fmt::Display for RollbackReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tier = self.tier.map_or("native", |tier| tier.as_str());
        write!(
            f,
            "rolled back {} {} -> {} ({tier} code, switched in {:.3} ms)",
            self.function,
            short(&self.old_version),
            short(&self.new_version),
            self.switch_ms
        )
    }
}

/// A version's first 12 hex digits, as the log shows it.
fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}

/// Why a swap did not happen; the old version keeps serving either way.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("no function {0:?}")]
    UnknownFunction(String),
    /// One line, for the log and the admin API's answer alike.
    #[error("{function}: swap refused, the old version keeps serving: {}", one_line(reason))]
    Refused { function: String, reason: anyhow::Error },
}

/// Why a rollback did not happen; the current version keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("no function {0:?}")]
    UnknownFunction(String),
    #[error(transparent)]
    NothingToRollBackTo(#[from] crate::handler::RollbackError),
}

/// The error's causes on one line: some (wasmparser's, for one) format
/// values across several lines, which would split one refusal over many
/// log lines.
fn one_line(reason: &anyhow::Error) -> String {
    format!("{reason:#}").split_whitespace().collect::<Vec<_>>().join(" ")
}

impl HotSwap {
    pub fn new(loader: Arc<Loader>, slots: BTreeMap<String, Arc<FunctionSlot>>, metrics: Arc<Metrics>) -> HotSwap {
        HotSwap { loader, slots, metrics, background: Arc::new(tokio::sync::Semaphore::new(1)) }
    }

    /// Each function's wasm file, by name.
    pub fn sources(&self) -> Vec<(String, PathBuf)> {
        let source = |name: &String| Some((name.clone(), self.loader.spec(name)?.source.clone()));
        self.slots.keys().filter_map(source).collect()
    }

    /// The version `name` serves now.
    pub fn serving(&self, name: &str) -> Option<String> {
        Some(self.slot(name)?.current().sha256.clone())
    }

    fn slot(&self, name: &str) -> Option<&Arc<FunctionSlot>> {
        self.slots.get(name)
    }

    /// Starts the optimising tier's compile, in the background, for every
    /// function whose version serving now has a faster tier to come (the
    /// versions loaded at start). Call it on the async runtime.
    pub fn tier_up_all(&self) {
        for slot in self.slots.values() {
            self.tier_up_later(slot, &slot.current());
        }
    }

    /// Loads `wasm` as `name`'s next version and switches new requests to
    /// it; `None` when it is the version already serving. Logs the outcome
    /// as one line. With tiered compilers, the version switched in is
    /// Winch's code, and Cranelift's replaces it from the background.
    pub async fn swap(&self, name: &str, wasm: Vec<u8>, origin: Origin) -> Result<Option<SwapReport>, SwapError> {
        let slot = self.slot(name).ok_or_else(|| SwapError::UnknownFunction(name.to_string()))?;
        let _one_at_a_time = slot.lock_for_swap().await;
        let old = slot.current();
        if sha256_hex(&wasm) == old.sha256 {
            return Ok(None);
        }
        let (loader, owned_name) = (self.loader.clone(), name.to_string());
        let loaded = compile_off_the_runtime(move || loader.load(&owned_name, &wasm)).await;
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                slot.count_refusal();
                let refused = SwapError::Refused { function: name.to_string(), reason: error };
                tracing::error!("{refused}");
                return Err(refused);
            }
        };
        let report = SwapReport {
            function: name.to_string(),
            old_version: old.sha256.clone(),
            new_version: loaded.version.sha256.clone(),
            origin,
            // A wasm version always has a tier; Cranelift's is the safe word.
            tier: loaded.version.tier.unwrap_or(Tier::Cranelift),
            compile_ms: duration_ms(loaded.compile_time),
        };
        slot.replace(loaded.version, origin);
        let new = slot.current();
        self.switched(name, Some(&*old), &new, origin);
        tracing::info!("{report}");
        self.tier_up_later(slot, &new);
        Ok(Some(report))
    }

    /// Swaps `name` to the version now in its wasm file.
    pub async fn swap_from_file(&self, name: &str) -> Result<Option<SwapReport>, SwapError> {
        let spec = self.loader.spec(name).ok_or_else(|| SwapError::UnknownFunction(name.to_string()))?;
        match tokio::fs::read(&spec.source).await {
            Ok(wasm) => self.swap(name, wasm, Origin::File).await,
            Err(error) => {
                let reason = anyhow::Error::new(error).context(format!("reading {}", spec.source.display()));
                let refused = SwapError::Refused { function: name.to_string(), reason };
                tracing::error!("{refused}");
                Err(refused)
            }
        }
    }

    /// Puts `name`'s previous version back: it is still compiled, so this
    /// is a switch, not a compile. The version it replaces becomes the
    /// previous one, so a second rollback undoes the first.
    pub async fn roll_back(&self, name: &str) -> Result<RollbackReport, RollbackError> {
        let slot = self.slot(name).ok_or_else(|| RollbackError::UnknownFunction(name.to_string()))?;
        let _one_at_a_time = slot.lock_for_swap().await;
        let started = Instant::now();
        let old = slot.current();
        let back = slot.roll_back()?;
        let switch = started.elapsed();
        self.switched(name, Some(&*old), &back, Origin::Rollback);
        let report = RollbackReport {
            function: name.to_string(),
            old_version: old.sha256.clone(),
            new_version: back.sha256.clone(),
            tier: back.tier,
            switch_ms: duration_ms(switch),
        };
        tracing::info!("{report}");
        // A version replaced before its Cranelift code was ready comes back
        // as Winch's: it tiers up now.
        self.tier_up_later(slot, &back);
        Ok(report)
    }

    /// The metrics of a switch from `old` to `new`.
    fn switched(&self, name: &str, old: Option<&Version>, new: &Version, origin: Origin) {
        self.metrics.loaded(name, new.mode, old.map(|old| old.sha256.as_str()), &new.sha256);
        self.metrics.tier(name, new.tier.map(|tier| tier.as_str()));
        self.metrics.switched(name, origin.as_str());
    }

    /// If `version` has a faster tier to come, compiles it in the
    /// background and switches it in, unless another version serves by then.
    fn tier_up_later(&self, slot: &Arc<FunctionSlot>, version: &Version) {
        let (Some(tier), Some(wasm)) = (self.loader.follow_up(version), version.wasm.clone()) else {
            return;
        };
        let (loader, metrics, slot) = (self.loader.clone(), self.metrics.clone(), slot.clone());
        let background = self.background.clone();
        let (sha256, from) = (version.sha256.clone(), version.tier);
        tokio::spawn(async move {
            // Held for the compile only; `None` when the host is stopping.
            let Ok(_turn) = background.acquire_owned().await else { return };
            let still_serving = |slot: &FunctionSlot| {
                let current = slot.current();
                current.sha256 == sha256 && current.tier == from
            };
            if !still_serving(&slot) {
                return;
            }
            let name = slot.name.clone();
            let loaded = compile_off_the_runtime(move || loader.load_tier(&name, &wasm, tier)).await;
            let loaded = match loaded {
                Ok(loaded) => loaded,
                Err(error) => {
                    tracing::warn!(
                        "{}: {tier} could not compile {}, whose current code keeps serving: {}",
                        slot.name,
                        short(&sha256),
                        one_line(&error)
                    );
                    return;
                }
            };
            let compile_ms = duration_ms(loaded.compile_time);
            let _one_at_a_time = slot.lock_for_swap().await;
            if slot.tier_up(loaded.version) {
                metrics.tier(&slot.name, Some(tier.as_str()));
                metrics.switched(&slot.name, Origin::TierUp.as_str());
                tracing::info!(
                    "tiered up {} {} to {tier} code (compiled in {compile_ms:.1} ms)",
                    slot.name,
                    short(&sha256)
                );
            }
        });
    }
}

/// `load` (a compile: CPU work) on the blocking pool, its panic an error.
async fn compile_off_the_runtime<T: Send + 'static>(
    load: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(load).await.map_err(|panicked| anyhow::anyhow!("loading panicked: {panicked}"))?
}

pub fn duration_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_one_line_naming_the_function_and_the_reason() {
        // As wasmparser words a bad header: `{:#x?}` arrays over many lines.
        let reason =
            anyhow::anyhow!("bad magic number - expected=[\n    0x0,\n    0x61,\n]").context("not a valid component");
        let refused = SwapError::Refused { function: "participant".into(), reason };
        assert_eq!(
            refused.to_string(),
            "participant: swap refused, the old version keeps serving: not a valid component: \
             bad magic number - expected=[ 0x0, 0x61, ]"
        );
    }
}
