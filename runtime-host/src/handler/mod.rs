//! A function's handler: what answers the requests of one function (one
//! component of the manifest), and the slot it lives in while the server
//! runs.
//!
//! [`Handler`] is the one small interface the HTTP server calls. It has two
//! implementations, chosen when the app loads, never per request:
//! `wasm::WasmHandler` (a fresh sandboxed instance per request: the product) and
//! [`native::NativeHandler`] (the same logic compiled natively: the baseline
//! that prices the sandbox). A [`FunctionSlot`] holds the version serving
//! now, the one before it (for a rollback) and the history of both; hot
//! swap replaces the current one atomically.
//!
//! Depends on `backend` (the native baseline reads it), nothing else.

pub mod native;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// How many events a function's history keeps, newest first.
pub const HISTORY: usize = 16;

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
    /// Which compiler made its code; `None` for a native build.
    pub tier: Option<Tier>,
    /// Which of a component's exports our host calls; `None` for a native
    /// build.
    pub entry: Option<Entry>,
    /// The wasm it was compiled from, kept so that a version served by the
    /// fast tier can be compiled again by the optimising one (after a
    /// rollback, say); `None` for a native build.
    pub wasm: Option<Arc<[u8]>>,
    pub handler: Box<dyn Handler>,
}

/// Which of wasmtime's compilers made a version's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The baseline compiler: compiles several times faster, runs slower.
    Winch,
    /// The optimising compiler.
    Cranelift,
}

impl Tier {
    pub fn as_str(&self) -> &'static str {
        match self {
            Tier::Winch => "winch",
            Tier::Cranelift => "cranelift",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which export of a component our host calls for a request: the lean
/// `newsfeed:feed/handler` when the component has it, else the standard
/// `wasi:http/incoming-handler` (which Spin calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entry {
    /// One call with plain records: no `wasi:http` resources or streams.
    Lean,
    /// `wasi:http/incoming-handler`.
    Standard,
}

impl Entry {
    pub fn as_str(&self) -> &'static str {
        match self {
            Entry::Lean => "lean",
            Entry::Standard => "standard",
        }
    }
}

/// How a version came to serve, as the history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Loaded when the host started.
    Start,
    /// Its wasm file changed.
    File,
    /// Uploaded through the admin API.
    Admin,
    /// Put back by a rollback.
    Rollback,
    /// The optimising compiler's code for the version already serving.
    TierUp,
}

impl Origin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Start => "start",
            Origin::File => "file",
            Origin::Admin => "admin",
            Origin::Rollback => "rollback",
            Origin::TierUp => "tier-up",
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a function's history: a version that started serving.
#[derive(Debug, Clone)]
pub struct Event {
    pub sha256: String,
    pub tier: Option<Tier>,
    pub mode: Mode,
    /// When it started serving (by this event).
    pub at: SystemTime,
    pub origin: Origin,
    /// Requests it served from this event until the next one.
    served: Arc<AtomicU64>,
}

impl Event {
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// The version serving now, and the counter of the event that put it there.
struct Current {
    version: Arc<Version>,
    served: Arc<AtomicU64>,
}

/// Why a rollback did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("{0}: nothing to roll back to: no earlier version was loaded since the host started")]
    NothingToRollBackTo(String),
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
    current: ArcSwap<Current>,
    /// The version that served before the current one, still compiled, so
    /// that a rollback is a switch and not a compile.
    previous: Mutex<Option<Arc<Version>>>,
    /// The last [`HISTORY`] events, newest first.
    history: Mutex<VecDeque<Event>>,
    requests: AtomicU64,
    swaps: AtomicU64,
    rollbacks: AtomicU64,
    refused: AtomicU64,
    /// Held while a new version loads: swaps of one function happen one at
    /// a time, in order.
    swapping: tokio::sync::Mutex<()>,
}

impl FunctionSlot {
    pub fn new(name: &str, version: Version, routes: Vec<String>) -> FunctionSlot {
        let version = Arc::new(version);
        let served = Arc::new(AtomicU64::new(0));
        let first = event(&version, Origin::Start, &served);
        FunctionSlot {
            name: name.to_string(),
            routes,
            current: ArcSwap::from_pointee(Current { version, served }),
            previous: Mutex::new(None),
            history: Mutex::new(VecDeque::from([first])),
            requests: AtomicU64::new(0),
            swaps: AtomicU64::new(0),
            rollbacks: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            swapping: tokio::sync::Mutex::new(()),
        }
    }

    /// The version serving now; counts the request it is taken for.
    pub fn take_for_request(&self) -> Arc<Version> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let current = self.current.load();
        current.served.fetch_add(1, Ordering::Relaxed);
        current.version.clone()
    }

    pub fn current(&self) -> Arc<Version> {
        self.current.load().version.clone()
    }

    /// The version a rollback would put back, if any.
    pub fn previous(&self) -> Option<Arc<Version>> {
        self.previous.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The last [`HISTORY`] events, newest first.
    pub fn history(&self) -> Vec<Event> {
        self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().cloned().collect()
    }

    /// Rollbacks done since start.
    pub fn rollbacks(&self) -> u64 {
        self.rollbacks.load(Ordering::Relaxed)
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

    /// Makes `version`, new by `origin` (a file or the admin API), the one
    /// new requests get; the one it replaces becomes the previous version.
    /// Call it holding [`Self::lock_for_swap`].
    pub fn replace(&self, version: Version, origin: Origin) -> Event {
        self.swaps.fetch_add(1, Ordering::Relaxed);
        let old = self.switch(Arc::new(version), origin);
        *self.previous.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(old);
        self.latest()
    }

    /// Replaces the current version by `faster`, the optimising tier's code
    /// for the same wasm; the previous version stays what it was. `false`
    /// (and nothing done) when the version serving is no longer that wasm
    /// compiled by another tier: a newer swap or a rollback came first.
    /// Call it holding [`Self::lock_for_swap`].
    pub fn tier_up(&self, faster: Version) -> bool {
        let current = self.current();
        if current.sha256 != faster.sha256 || current.tier == faster.tier {
            return false;
        }
        self.switch(Arc::new(faster), Origin::TierUp);
        true
    }

    /// Puts the previous version back, and makes the current one the
    /// previous (so a second rollback undoes the first): the two switch
    /// places, and nothing is compiled. Gives the version put back. Call it
    /// holding [`Self::lock_for_swap`].
    pub fn roll_back(&self) -> Result<Arc<Version>, RollbackError> {
        let mut previous = self.previous.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let back = previous.take().ok_or_else(|| RollbackError::NothingToRollBackTo(self.name.clone()))?;
        *previous = Some(self.switch(back.clone(), Origin::Rollback));
        self.rollbacks.fetch_add(1, Ordering::Relaxed);
        Ok(back)
    }

    /// The newest event of the history.
    pub fn latest(&self) -> Event {
        let history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        history.front().cloned().expect("a slot's history starts with its first version")
    }

    /// Makes `version` current, records the event, and gives the version it
    /// replaced.
    fn switch(&self, version: Arc<Version>, origin: Origin) -> Arc<Version> {
        let served = Arc::new(AtomicU64::new(0));
        let event = event(&version, origin, &served);
        let old = self.current.swap(Arc::new(Current { version, served }));
        let mut history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        history.push_front(event);
        history.truncate(HISTORY);
        old.version.clone()
    }

    /// Counts a version that was offered and refused.
    pub fn count_refusal(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}

fn event(version: &Version, origin: Origin, served: &Arc<AtomicU64>) -> Event {
    Event {
        sha256: version.sha256.clone(),
        tier: version.tier,
        mode: version.mode,
        at: SystemTime::now(),
        origin,
        served: served.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    #[async_trait::async_trait]
    impl Handler for Nothing {
        async fn handle(&self, _: Request) -> Result<Response, FunctionError> {
            Err(FunctionError::Trapped("never called".into()))
        }
    }

    fn version(sha256: &str, tier: Tier) -> Version {
        Version {
            sha256: sha256.into(),
            loaded_at: SystemTime::now(),
            mode: Mode::Wasm,
            tier: Some(tier),
            entry: Some(Entry::Lean),
            wasm: None,
            handler: Box::new(Nothing),
        }
    }

    fn origins(slot: &FunctionSlot) -> Vec<(String, Origin, u64)> {
        slot.history().into_iter().map(|event| (event.sha256.clone(), event.origin, event.served())).collect()
    }

    #[test]
    fn a_rollback_swaps_current_and_previous_and_the_history_counts_each_stint() {
        let slot = FunctionSlot::new("f", version("a", Tier::Cranelift), vec![]);
        assert!(matches!(slot.roll_back(), Err(RollbackError::NothingToRollBackTo(_))));
        slot.take_for_request();
        slot.replace(version("b", Tier::Winch), Origin::Admin);
        slot.take_for_request();
        slot.take_for_request();
        assert!(slot.tier_up(version("b", Tier::Cranelift)));
        assert_eq!(slot.current().tier, Some(Tier::Cranelift));
        assert_eq!(slot.roll_back().unwrap().sha256, "a");
        assert_eq!(slot.current().sha256, "a");
        // Twice: back to the newer one, with its optimised code.
        assert_eq!(slot.roll_back().unwrap().sha256, "b");
        assert_eq!(slot.current().tier, Some(Tier::Cranelift));
        slot.take_for_request();
        assert_eq!(
            origins(&slot),
            [
                ("b".into(), Origin::Rollback, 1),
                ("a".into(), Origin::Rollback, 0),
                ("b".into(), Origin::TierUp, 0),
                ("b".into(), Origin::Admin, 2),
                ("a".into(), Origin::Start, 1),
            ]
        );
        assert_eq!((slot.swaps(), slot.rollbacks(), slot.requests()), (1, 2, 4));
    }

    #[test]
    fn a_late_tier_up_never_replaces_a_newer_version() {
        let slot = FunctionSlot::new("f", version("a", Tier::Winch), vec![]);
        slot.replace(version("b", Tier::Winch), Origin::File);
        assert!(!slot.tier_up(version("a", Tier::Cranelift)));
        assert!(!slot.tier_up(version("b", Tier::Winch)));
        assert_eq!((slot.current().sha256.as_str(), slot.current().tier), ("b", Some(Tier::Winch)));
    }

    #[test]
    fn the_history_keeps_the_newest_events() {
        let slot = FunctionSlot::new("f", version("0", Tier::Winch), vec![]);
        for n in 1..=HISTORY + 3 {
            slot.replace(version(&n.to_string(), Tier::Winch), Origin::Admin);
        }
        let history = slot.history();
        assert_eq!(history.len(), HISTORY);
        assert_eq!(history[0].sha256, (HISTORY + 3).to_string());
    }
}
