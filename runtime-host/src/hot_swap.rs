//! Replacing one function in place while everything else keeps serving.
//!
//! Each function lives in a [`FunctionSlot`]: an `ArcSwap` around its current
//! version. A request takes the version current when it starts and keeps it
//! to the end, so a swap never disturbs a request in flight; new requests see
//! the new version from the instant of the swap. A version that fails to
//! compile, link or check is never stored: the old one keeps serving.

use crate::compile_cache::sha256_hex;
use crate::function::Function;
use crate::loader::Loader;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A function's place in the server.
pub struct FunctionSlot {
    pub name: String,
    /// The routes that reach it, as written in the manifest.
    pub routes: Vec<String>,
    current: ArcSwap<Function>,
    requests: AtomicU64,
    swaps: AtomicU64,
    /// Held while a new version loads: swaps of one function happen one at
    /// a time, in order.
    swapping: tokio::sync::Mutex<()>,
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

impl FunctionSlot {
    pub fn new(function: Function, routes: Vec<String>) -> FunctionSlot {
        FunctionSlot {
            name: function.name.clone(),
            routes,
            current: ArcSwap::from_pointee(function),
            requests: AtomicU64::new(0),
            swaps: AtomicU64::new(0),
            swapping: tokio::sync::Mutex::new(()),
        }
    }

    /// The version serving now; counts the request it is taken for.
    pub fn take_for_request(&self) -> Arc<Function> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.current.load_full()
    }

    pub fn current(&self) -> Arc<Function> {
        self.current.load_full()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
    }

    /// Loads `wasm` as this function's next version, off the async threads,
    /// and switches new requests to it; `None` when it is the version already
    /// serving. On any failure the old version stays and the error says why.
    pub async fn swap(&self, loader: Arc<Loader>, wasm: Vec<u8>) -> anyhow::Result<Option<SwapReport>> {
        let _one_at_a_time = self.swapping.lock().await;
        if sha256_hex(&wasm) == self.current().sha256 {
            return Ok(None);
        }
        let name = self.name.clone();
        let loaded = tokio::task::spawn_blocking(move || loader.load(&name, &wasm)).await??;
        let new_version = loaded.function.sha256.clone();
        let old = self.current.swap(Arc::new(loaded.function));
        self.swaps.fetch_add(1, Ordering::Relaxed);
        Ok(Some(SwapReport {
            function: self.name.clone(),
            old_version: old.sha256.clone(),
            new_version,
            compile_ms: duration_ms(loaded.compile_time),
        }))
    }
}

pub fn duration_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
