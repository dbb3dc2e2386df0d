//! A function: what answers the requests of one component of the manifest,
//! and the slot it lives in while the server runs.
//!
//! [`Handler`] is the one small interface the HTTP server calls. It has two
//! implementations, chosen when the app loads, never per request:
//! `wasm::Function` (a fresh sandboxed instance per request: the product) and
//! [`native::NativeFunction`] (the same logic compiled natively: the baseline
//! that prices the sandbox). A [`FunctionSlot`] holds the version serving
//! now; hot swap replaces it atomically.
//!
//! Depends on `store` (the native baseline reads it), nothing else.

pub mod native;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// A request as a function receives it: the whole body already read.
pub type Request = http::Request<Full<Bytes>>;
/// A function's answer. WASI-HTTP's body type, so a wasm function's own
/// response streams through unchanged.
pub type Response = http::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>;

/// Why a request got no answer from its function. The server turns each into
/// a JSON error that names no internals.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("the function trapped: {0}")]
    Trapped(String),
    #[error("the function ran past its deadline")]
    DeadlineExceeded,
    #[error("no instance slot free: {0}")]
    AtCapacity(String),
    #[error("the function could not be instantiated: {0}")]
    Instantiation(String),
}

impl FunctionError {
    /// The failure's kind, as a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            FunctionError::Trapped(_) => "trap",
            FunctionError::DeadlineExceeded => "deadline",
            FunctionError::AtCapacity(_) => "capacity",
            FunctionError::Instantiation(_) => "instantiation",
        }
    }
}

/// Answers one request of one function.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, request: Request) -> Result<Response, FunctionError>;
}

/// One version of a function: what serves it, and which build that is.
pub struct Version {
    /// sha256 of the component's wasm, in hex (`native` for a native build).
    pub sha256: String,
    pub loaded_at: SystemTime,
    pub mode: Mode,
    pub handler: Box<dyn Handler>,
}

/// How a version runs, as the metrics and the admin API show it (`wasm` or
/// `native`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A component in a fresh sandboxed instance per request: the product.
    Wasm,
    /// The same logic compiled natively: the baseline.
    Native,
}

impl Mode {
    /// The name metrics, the admin API and spans show.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Wasm => "wasm",
            Mode::Native => "native",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A function's place in the server: the version serving now.
///
/// A request takes the version current when it starts and keeps it to the
/// end, so a swap never disturbs a request in flight; new requests see the
/// new version from the instant of the swap.
pub struct FunctionSlot {
    pub name: String,
    /// The routes that reach it, as written in the manifest.
    pub routes: Vec<String>,
    current: ArcSwap<Version>,
    requests: AtomicU64,
    swaps: AtomicU64,
    refused: AtomicU64,
    /// Held while a new version loads: swaps of one function happen one at
    /// a time, in order.
    swapping: tokio::sync::Mutex<()>,
}

impl FunctionSlot {
    pub fn new(name: &str, version: Version, routes: Vec<String>) -> FunctionSlot {
        FunctionSlot {
            name: name.to_string(),
            routes,
            current: ArcSwap::from_pointee(version),
            requests: AtomicU64::new(0),
            swaps: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            swapping: tokio::sync::Mutex::new(()),
        }
    }

    /// The version serving now; counts the request it is taken for.
    pub fn take_for_request(&self) -> Arc<Version> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.current.load_full()
    }

    pub fn current(&self) -> Arc<Version> {
        self.current.load_full()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Versions swapped in since start.
    pub fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
    }

    /// Versions offered and refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Waits for any other swap of this function to finish; the next swap
    /// holds the guard while it loads.
    pub async fn lock_for_swap(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.swapping.lock().await
    }

    /// Makes `version` the one new requests get.
    pub fn replace(&self, version: Version) {
        self.swaps.fetch_add(1, Ordering::Relaxed);
        self.current.store(Arc::new(version));
    }

    /// Counts a version that was offered and refused.
    pub fn count_refusal(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}
