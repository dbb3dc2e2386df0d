//! One function: a component compiled and linked once, ready to instantiate,
//! and the serving of one request in a fresh instance of it.
//!
//! By default every request gets its own `Store` and instance from the pool,
//! so no request sees another's memory and a trap ends only its own
//! instance. With `--instance-reuse N` (N > 1), as Spin's and `wasmtime
//! serve`'s `--max-instance-reuse-count`, an instance that answered cleanly
//! serves up to N requests, one after another; one that trapped, ran past
//! its deadline or hit its memory cap is never used again.
//!
//! A component that exports the lean entry (`newsfeed:feed/handler`, see
//! [`super::lean`]) is called through it: one awaited call with the request
//! as a record. One that does not is called through
//! `wasi:http/incoming-handler`, in a task of its own while the response
//! streams back. Which one is decided once, at load, by the [`Entry`] kind of
//! the function's pre-instance.

use super::engine::deadline_ticks;
use super::feed::FeedCtx;
use super::host_state::{HostState, SpinCtx};
use super::lean::{self, LeanEntry, LeanEntryPre};
use super::Runtime;
use crate::handler::{Entry, FunctionError, Handler, Request, Response};
use crate::spin::postgres::SpinPostgresCtx;
use crate::spin::sqlite::SpinSqliteCtx;
use crate::spin::variables::SpinVariablesCtx;
use crate::spin::Capabilities;
use crate::telemetry;
use crate::telemetry::cpu::CpuMeter;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::WasiHttpView;

/// A loaded function, ready to serve.
pub struct WasmHandler {
    pub name: String,
    runtime: Arc<Runtime>,
    /// What it may use of Spin's interfaces (its manifest entry's).
    capabilities: Capabilities,
    pre: Pre,
    /// Instances that may serve again (only with instance reuse).
    idle: Arc<Mutex<Vec<Instance>>>,
}

/// The component linked, with the export its requests go to.
enum Pre {
    Lean(LeanEntryPre<HostState>),
    Standard(ProxyPre<HostState>),
}

impl Pre {
    fn engine(&self) -> &Engine {
        match self {
            Pre::Lean(pre) => pre.engine(),
            Pre::Standard(pre) => pre.engine(),
        }
    }
}

/// A live instance, through the entry its function uses.
pub enum Instance {
    Lean(Live<LeanEntry>),
    Standard(Live<Proxy>),
}

/// A live instance's store, its exports, and how many requests it has served.
pub struct Live<Exports> {
    store: Store<HostState>,
    exports: Exports,
    served: u32,
}

impl Instance {
    fn store_mut(&mut self) -> &mut Store<HostState> {
        match self {
            Instance::Lean(live) => &mut live.store,
            Instance::Standard(live) => &mut live.store,
        }
    }
}

impl WasmHandler {
    /// Links `component` against `linker` and checks that it exports the
    /// HTTP handler (which Spin calls, so every function keeps it). Fails,
    /// naming the missing piece, if it imports anything the linker lacks.
    pub fn new(
        name: &str,
        runtime: Arc<Runtime>,
        component: &Component,
        linker: &Linker<HostState>,
        capabilities: Capabilities,
    ) -> anyhow::Result<WasmHandler> {
        let instance_pre = linker.instantiate_pre(component)?;
        let standard = ProxyPre::new(instance_pre.clone())?;
        let pre = match component.get_export_index(None, lean::EXPORT) {
            Some(_) => Pre::Lean(LeanEntryPre::new(instance_pre)?),
            None => Pre::Standard(standard),
        };
        Ok(WasmHandler { name: name.to_string(), runtime, capabilities, pre, idle: Arc::default() })
    }

    /// Which export its requests go to.
    pub fn entry(&self) -> Entry {
        match self.pre {
            Pre::Lean(_) => Entry::Lean,
            Pre::Standard(_) => Entry::Standard,
        }
    }

    /// A fresh store, under the request limits, and a fresh instance in it.
    pub async fn instantiate(&self) -> Result<Instance, FunctionError> {
        let runtime = &*self.runtime;
        let limits = &runtime.limits;
        let feed = FeedCtx { backend: runtime.backend.clone() };
        let capabilities = &self.capabilities;
        let spin = SpinCtx {
            sqlite: SpinSqliteCtx {
                databases: runtime.databases.clone(),
                allowed: capabilities.sqlite_databases.clone(),
            },
            postgres: SpinPostgresCtx { pools: runtime.pg_pools.clone(), allowed: capabilities.postgres_hosts.clone() },
            variables: SpinVariablesCtx { values: capabilities.variables.clone() },
        };
        // The engine that compiled it: code runs only in its own engine's stores.
        let mut store = Store::new(self.pre.engine(), HostState::new(feed, spin, limits.memory));
        store.limiter(|state| &mut state.limits);
        // Start-up code runs under the deadline too; `handle` sets it
        // afresh for each request.
        store.set_epoch_deadline(deadline_ticks(limits.request_timeout));
        store.epoch_deadline_trap();
        let started = Instant::now();
        let span = telemetry::instantiation_span(&self.name);
        let instantiated = match &self.pre {
            Pre::Lean(pre) => pre
                .instantiate_async(&mut store)
                .instrument(span.clone())
                .await
                .map(|exports| Instance::Lean(Live { store, exports, served: 0 })),
            Pre::Standard(pre) => pre
                .instantiate_async(&mut store)
                .instrument(span.clone())
                .await
                .map(|exports| Instance::Standard(Live { store, exports, served: 0 })),
        };
        let instance = instantiated.map_err(|error| {
            let failure = match error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
                Some(full) => FunctionError::AtCapacity(full.to_string()),
                None => FunctionError::Instantiation(format!("{error:#}")),
            };
            telemetry::fail(&span, failure.kind(), &failure.to_string());
            failure
        })?;
        runtime.metrics.instantiated(&self.name, started.elapsed());
        Ok(instance)
    }

    /// An instance for the next request: an idle one that may serve again,
    /// else a fresh one.
    async fn instance(&self) -> Result<Instance, FunctionError> {
        if self.runtime.limits.instance_reuse > 1 {
            if let Some(idle) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                return Ok(idle);
            }
        }
        self.instantiate().await
    }

    /// Serves `request` through the lean entry: the request goes in as one
    /// record and the answer comes back as one, in this task; the deadline
    /// is the epoch's trap, and the timeout behind it.
    async fn lean(
        &self,
        mut live: Live<LeanEntry>,
        request: Request,
        cpu: CpuMeter,
    ) -> Result<Response, FunctionError> {
        let limits = &self.runtime.limits;
        let request = lean::request(request).await;
        let call = async {
            let called = live.exports.newsfeed_feed_handler().call_handle(&mut live.store, &request).await;
            (called, live.store.data().limits.peak())
        };
        let Ok((called, peak)) = tokio::time::timeout(limits.request_timeout, cpu.measure(call)).await else {
            return Err(FunctionError::DeadlineExceeded);
        };
        self.runtime.metrics.cost(&self.name, cpu.total(), Some(peak));
        live.served += 1;
        match called {
            Ok(answer) => {
                // Only a clean return puts an instance back.
                if live.served < limits.instance_reuse {
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(Instance::Lean(live));
                    }
                }
                lean::response(answer)
            }
            Err(error) if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
                Err(FunctionError::DeadlineExceeded)
            }
            Err(error) => Err(trapped(error)),
        }
    }

    /// Serves `request` through `wasi:http/incoming-handler`: the call runs
    /// in a task of its own, while its response streams back through the
    /// outparam.
    async fn standard(
        &self,
        mut live: Live<Proxy>,
        request: Request,
        cpu: CpuMeter,
    ) -> Result<Response, FunctionError> {
        let limits = &self.runtime.limits;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let (request, out) = {
            let mut http = live.store.data_mut().http();
            let body = request.map(|body| {
                http_body_util::BodyExt::map_err(body, |never: std::convert::Infallible| -> wasmtime_wasi_http::Error {
                    match never {}
                })
            });
            let request = http.new_incoming_request(Scheme::Http, body).map_err(trapped)?;
            (request, http.new_response_outparam(sender).map_err(trapped)?)
        };
        // Where the instance goes back to, if it may serve again.
        let idle = (limits.instance_reuse > 1).then(|| self.idle.clone());
        let reuse = limits.instance_reuse;
        let (metrics, name) = (self.runtime.metrics.clone(), self.name.clone());
        let call = async move {
            let called = live.exports.wasi_http_incoming_handler().call_handle(&mut live.store, request, out).await;
            let peak = live.store.data().limits.peak();
            live.served += 1;
            // Only a clean return puts an instance back; one that trapped
            // (deadline and memory cap included) is dropped here.
            if called.is_ok() && live.served < reuse {
                if let Some(Ok(mut idle)) = idle.as_ref().map(|idle| idle.lock()) {
                    idle.push(Instance::Standard(live));
                }
            }
            (called, peak)
        };
        let measured = async move {
            let (called, peak) = cpu.measure(call).await;
            metrics.cost(&name, cpu.total(), Some(peak));
            called
        };
        let call = tokio::spawn(measured.instrument(tracing::Span::current()));
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

#[async_trait::async_trait]
impl Handler for WasmHandler {
    /// Serves one request in a fresh instance (or, with instance reuse, in
    /// one that may serve again), through the entry chosen at load.
    async fn handle(&self, request: Request) -> Result<Response, FunctionError> {
        // CPU time on whichever threads poll the instantiation and the call.
        let cpu = CpuMeter::default();
        let mut instance = cpu.measure(self.instance()).await?;
        instance.store_mut().set_epoch_deadline(deadline_ticks(self.runtime.limits.request_timeout));
        match instance {
            Instance::Lean(live) => self.lean(live, request, cpu).await,
            Instance::Standard(live) => self.standard(live, request, cpu).await,
        }
    }
}

fn trapped(error: impl Into<wasmtime::Error>) -> FunctionError {
    FunctionError::Trapped(format!("{:?}", error.into()))
}
