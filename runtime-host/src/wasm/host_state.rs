//! The state of one instance's `Store`: WASI, WASI-HTTP, the feed imports,
//! Spin's SQLite, PostgreSQL and variables, and the memory limiter, each kept in its own field (the `*Ctx`), with the
//! `*View` traits that the generated bindings use to reach them.

use super::feed::FeedCtx;
use super::memory::MeteredLimits;
use crate::spin::postgres::{SpinPostgresCtx, SpinPostgresView};
use crate::spin::sqlite::{SpinSqliteCtx, SpinSqliteView};
use crate::spin::variables::SpinVariablesCtx;
use std::future::Future;
use wasmtime::component::ResourceTable;
use wasmtime::StoreLimitsBuilder;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

pub struct HostState {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub feed: FeedCtx,
    pub sqlite: SpinSqliteCtx,
    pub postgres: SpinPostgresCtx,
    pub variables: SpinVariablesCtx,
    pub limits: MeteredLimits,
    pub outbound: NoOutboundHttp,
}

/// Functions make no outbound HTTP requests: every one is denied.
pub struct NoOutboundHttp;

type OutgoingResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for NoOutboundHttp {
    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _done: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        Box::new(std::future::ready(Err(wasmtime_wasi_http::Error::HttpRequestDenied)))
    }
}

impl HostState {
    /// Fresh state for one request. WASI gets no files, no network and no
    /// environment: a function reaches the world only through its imports.
    /// Its stderr goes to ours, so a panic message reaches the log.
    pub fn new(feed: FeedCtx, spin: SpinCtx, memory_limit: usize) -> Self {
        HostState {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            feed,
            sqlite: spin.sqlite,
            postgres: spin.postgres,
            variables: spin.variables,
            outbound: NoOutboundHttp,
            limits: MeteredLimits::new(
                StoreLimitsBuilder::new().memory_size(memory_limit).trap_on_grow_failure(false).build(),
            ),
        }
    }
}

/// The Spin interfaces' state for one instance.
pub struct SpinCtx {
    pub sqlite: SpinSqliteCtx,
    pub postgres: SpinPostgresCtx,
    pub variables: SpinVariablesCtx,
}

impl HostState {
    pub fn spin_sqlite(&mut self) -> SpinSqliteView<'_> {
        SpinSqliteView { ctx: &self.sqlite, table: &mut self.table }
    }

    pub fn spin_postgres(&mut self) -> SpinPostgresView<'_> {
        SpinPostgresView { ctx: &self.postgres, table: &mut self.table }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}
