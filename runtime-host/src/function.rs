//! One function: a component compiled and linked once, ready to instantiate,
//! and the serving of one request in a fresh instance of it.
//!
//! Every request gets its own `Store` and instance from the pool, so no
//! request sees another's memory and a trap ends only its own instance.

use crate::backend::Backend;
use crate::engine::deadline_ticks;
use crate::feed::FeedCtx;
use crate::host_state::HostState;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::spin_sqlite::{Databases, SpinSqliteCtx};
use bytes::Bytes;
use http_body_util::Full;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

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
}

impl FunctionError {
    /// The failure's kind, as a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            FunctionError::Trapped(_) => "trap",
            FunctionError::DeadlineExceeded => "deadline",
            FunctionError::AtCapacity(_) => "capacity",
        }
    }
}

/// A loaded function, ready to serve.
pub struct Function {
    pub name: String,
    /// sha256 of the wasm, in hex: the function's version.
    pub sha256: String,
    pub loaded_at: std::time::SystemTime,
    /// The SQLite databases it may open (its manifest's `sqlite_databases`).
    sqlite_databases: Arc<[String]>,
    pre: ProxyPre<HostState>,
}

/// What every request of every function shares.
pub struct Shared {
    pub engine: Engine,
    /// The feed imports' backend; `None` under `--as-spin`.
    pub backend: Option<Arc<dyn Backend>>,
    /// What Spin's SQLite interface opens.
    pub databases: Arc<Databases>,
    pub limits: Limits,
    pub metrics: Metrics,
}

impl Function {
    /// Links `component` against `linker` and checks that it exports the
    /// HTTP handler. Fails, naming the missing piece, if it imports anything
    /// the linker lacks.
    pub fn new(
        name: &str,
        sha256: String,
        component: &Component,
        linker: &Linker<HostState>,
        sqlite_databases: &[String],
    ) -> anyhow::Result<Function> {
        let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
        Ok(Function {
            name: name.to_string(),
            sha256,
            loaded_at: std::time::SystemTime::now(),
            sqlite_databases: sqlite_databases.into(),
            pre,
        })
    }

    /// Serves one request in a fresh instance.
    /// A fresh store, under the request limits, and a fresh instance in it.
    pub async fn instantiate(&self, shared: &Shared) -> Result<(Store<HostState>, Proxy), FunctionError> {
        let limits = &shared.limits;
        let feed = FeedCtx { backend: shared.backend.clone() };
        let sqlite = SpinSqliteCtx { databases: shared.databases.clone(), allowed: self.sqlite_databases.clone() };
        let mut store = Store::new(&shared.engine, HostState::new(feed, sqlite, limits.memory));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(deadline_ticks(limits.request_timeout));
        store.epoch_deadline_trap();
        let started = Instant::now();
        let proxy = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|error| FunctionError::AtCapacity(format!("{error:#}")))?;
        shared.metrics.instantiated(&self.name, started.elapsed());
        Ok((store, proxy))
    }

    pub async fn serve(
        &self,
        shared: &Shared,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, FunctionError> {
        let limits = &shared.limits;
        let (mut store, proxy) = self.instantiate(shared).await?;

        let (sender, receiver) = tokio::sync::oneshot::channel();
        let (request, out) = {
            let mut http = store.data_mut().http();
            let body = request.map(|body| {
                http_body_util::BodyExt::map_err(body, |never: std::convert::Infallible| -> wasmtime_wasi_http::Error {
                    match never {}
                })
            });
            let request = http.new_incoming_request(Scheme::Http, body).map_err(trapped)?;
            (request, http.new_response_outparam(sender).map_err(trapped)?)
        };
        let call =
            tokio::spawn(async move { proxy.wasi_http_incoming_handler().call_handle(&mut store, request, out).await });
        let abort = call.abort_handle();

        let answer = async {
            match receiver.await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(code)) => Err(FunctionError::Trapped(format!("error code {:?}", code as ErrorCode))),
                // The function dropped its response outparam: it trapped (or
                // returned without answering); the task says which.
                Err(_) => Err(match call.await {
                    Ok(Err(error)) if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
                        FunctionError::DeadlineExceeded
                    }
                    Ok(Err(error)) => trapped(error),
                    Ok(Ok(())) => FunctionError::Trapped("returned without setting a response".into()),
                    Err(join) => FunctionError::Trapped(join.to_string()),
                }),
            }
        };
        match tokio::time::timeout(limits.request_timeout, answer).await {
            Ok(answer) => answer,
            Err(_elapsed) => {
                abort.abort();
                Err(FunctionError::DeadlineExceeded)
            }
        }
    }
}

fn trapped(error: impl Into<wasmtime::Error>) -> FunctionError {
    FunctionError::Trapped(format!("{:?}", error.into()))
}
