//! One function: a component compiled and linked once, ready to instantiate,
//! and the serving of one request in a fresh instance of it.
//!
//! By default every request gets its own `Store` and instance from the pool,
//! so no request sees another's memory and a trap ends only its own
//! instance. With `--instance-reuse N` (N > 1), as Spin's and `wasmtime
//! serve`'s `--max-instance-reuse-count`, an instance that answered cleanly
//! serves up to N requests, one after another; one that trapped, ran past
//! its deadline or hit its memory cap is never used again.

use super::engine::deadline_ticks;
use super::feed::FeedCtx;
use super::host_state::{HostState, SpinCtx};
use super::Runtime;
use crate::function::{FunctionError, Handler, Request, Response};
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
use wasmtime::{Store, Trap};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::WasiHttpView;

/// A loaded function, ready to serve.
pub struct Function {
    pub name: String,
    runtime: Arc<Runtime>,
    /// What it may use of Spin's interfaces (its manifest entry's).
    capabilities: Capabilities,
    pre: ProxyPre<HostState>,
    /// Instances that may serve again (only with instance reuse).
    idle: Arc<Mutex<Vec<Instance>>>,
}

/// A live instance, and how many requests it has served.
struct Instance {
    store: Store<HostState>,
    proxy: Proxy,
    served: u32,
}

impl Function {
    /// Links `component` against `linker` and checks that it exports the
    /// HTTP handler. Fails, naming the missing piece, if it imports anything
    /// the linker lacks.
    pub fn new(
        name: &str,
        runtime: Arc<Runtime>,
        component: &Component,
        linker: &Linker<HostState>,
        capabilities: Capabilities,
    ) -> anyhow::Result<Function> {
        let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
        Ok(Function { name: name.to_string(), runtime, capabilities, pre, idle: Arc::default() })
    }

    /// A fresh store, under the request limits, and a fresh instance in it.
    pub async fn instantiate(&self) -> Result<(Store<HostState>, Proxy), FunctionError> {
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
        let instantiated = self.pre.instantiate_async(&mut store).instrument(span.clone()).await;
        let proxy = instantiated.map_err(|error| {
            let failure = match error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
                Some(full) => FunctionError::AtCapacity(full.to_string()),
                None => FunctionError::Instantiation(format!("{error:#}")),
            };
            telemetry::fail(&span, failure.kind(), &failure.to_string());
            failure
        })?;
        runtime.metrics.instantiated(&self.name, started.elapsed());
        Ok((store, proxy))
    }

    /// An instance for the next request: an idle one that may serve again,
    /// else a fresh one.
    async fn instance(&self) -> Result<Instance, FunctionError> {
        if self.runtime.limits.instance_reuse > 1 {
            if let Some(idle) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                return Ok(idle);
            }
        }
        let (store, proxy) = self.instantiate().await?;
        Ok(Instance { store, proxy, served: 0 })
    }
}

#[async_trait::async_trait]
impl Handler for Function {
    /// Serves one request in a fresh instance (or, with instance reuse, in
    /// one that may serve again).
    async fn handle(&self, request: Request) -> Result<Response, FunctionError> {
        let limits = &self.runtime.limits;
        // CPU time on whichever threads poll the instantiation and the call.
        let cpu = CpuMeter::default();
        let mut instance = cpu.measure(self.instance()).await?;
        instance.store.set_epoch_deadline(deadline_ticks(limits.request_timeout));

        let (sender, receiver) = tokio::sync::oneshot::channel();
        let (request, out) = {
            let mut http = instance.store.data_mut().http();
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
            let Instance { store, proxy, served } = &mut instance;
            let called = proxy.wasi_http_incoming_handler().call_handle(&mut *store, request, out).await;
            let peak = store.data().limits.peak();
            *served += 1;
            // Only a clean return puts an instance back; one that trapped
            // (deadline and memory cap included) is dropped here.
            if called.is_ok() && *served < reuse {
                if let Some(Ok(mut idle)) = idle.as_ref().map(|idle| idle.lock()) {
                    idle.push(instance);
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

fn trapped(error: impl Into<wasmtime::Error>) -> FunctionError {
    FunctionError::Trapped(format!("{:?}", error.into()))
}
