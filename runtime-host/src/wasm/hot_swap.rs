//! Replacing one function in place while everything else keeps serving.
//!
//! A new version (from its wasm file changing, or from the admin API) is
//! loaded by the [`Loader`] off the async threads, with every check a
//! version at start gets, and only then put in its [`FunctionSlot`]. A
//! version that fails to compile, link or check is never stored: the old
//! one keeps serving, and the refusal is logged and counted.

use super::compile_cache::sha256_hex;
use super::loader::Loader;
use crate::function::FunctionSlot;
use crate::metrics::Metrics;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The functions that can be swapped, and what loads their new versions.
pub struct HotSwap {
    loader: Arc<Loader>,
    slots: BTreeMap<String, Arc<FunctionSlot>>,
    metrics: Arc<Metrics>,
}

/// What one swap did, for the log and the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SwapReport {
    pub function: String,
    pub old_version: String,
    pub new_version: String,
    pub compile_ms: f64,
}

impl std::fmt::Display for SwapReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "swapped {} {} -> {} (compiled in {:.1} ms)",
            self.function,
            &self.old_version[..12],
            &self.new_version[..12],
            self.compile_ms
        )
    }
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

/// The error's causes on one line: some (wasmparser's, for one) format
/// values across several lines, which would split one refusal over many
/// log lines.
fn one_line(reason: &anyhow::Error) -> String {
    format!("{reason:#}").split_whitespace().collect::<Vec<_>>().join(" ")
}

impl HotSwap {
    pub fn new(loader: Arc<Loader>, slots: BTreeMap<String, Arc<FunctionSlot>>, metrics: Arc<Metrics>) -> HotSwap {
        HotSwap { loader, slots, metrics }
    }

    /// Each function's wasm file, by name.
    pub fn sources(&self) -> Vec<(String, PathBuf)> {
        let source = |name: &String| Some((name.clone(), self.loader.spec(name)?.source.clone()));
        self.slots.keys().filter_map(source).collect()
    }

    /// Loads `wasm` as `name`'s next version and switches new requests to
    /// it; `None` when it is the version already serving. Logs the outcome
    /// as one line.
    pub async fn swap(&self, name: &str, wasm: Vec<u8>) -> Result<Option<SwapReport>, SwapError> {
        let slot = self.slots.get(name).ok_or_else(|| SwapError::UnknownFunction(name.to_string()))?;
        let _one_at_a_time = slot.lock_for_swap().await;
        let old = slot.current();
        if sha256_hex(&wasm) == old.sha256 {
            return Ok(None);
        }
        let (loader, owned_name) = (self.loader.clone(), name.to_string());
        let loaded = tokio::task::spawn_blocking(move || loader.load(&owned_name, &wasm))
            .await
            .map_err(|panicked| anyhow::anyhow!("loading panicked: {panicked}"))
            .and_then(|loaded| loaded);
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                slot.count_refusal();
                let refused = SwapError::Refused { function: name.to_string(), reason: error };
                tracing::error!("{refused}");
                return Err(refused);
            }
        };
        let mode = loaded.version.mode;
        let report = SwapReport {
            function: name.to_string(),
            old_version: old.sha256.clone(),
            new_version: loaded.version.sha256.clone(),
            compile_ms: duration_ms(loaded.compile_time),
        };
        slot.replace(loaded.version);
        self.metrics.loaded(name, mode, Some(&report.old_version), &report.new_version);
        tracing::info!("{report}");
        Ok(Some(report))
    }

    /// Swaps `name` to the version now in its wasm file.
    pub async fn swap_from_file(&self, name: &str) -> Result<Option<SwapReport>, SwapError> {
        let spec = self.loader.spec(name).ok_or_else(|| SwapError::UnknownFunction(name.to_string()))?;
        match tokio::fs::read(&spec.source).await {
            Ok(wasm) => self.swap(name, wasm).await,
            Err(error) => {
                let reason = anyhow::Error::new(error).context(format!("reading {}", spec.source.display()));
                let refused = SwapError::Refused { function: name.to_string(), reason };
                tracing::error!("{refused}");
                Err(refused)
            }
        }
    }
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
