//! The admin API, on its own listen address (`--admin-listen`), never on the
//! public one. Every request needs `Authorization: Bearer <token>`.
//!
//! - `GET /admin/functions`: each function's routes, version, mode, the
//!   compiler tier whose code serves it (`winch` or `cranelift`; `null` when
//!   native), the entry our host calls (`lean` or `standard`; `null` when
//!   native), load time, request count, the swaps done and refused, the
//!   rollbacks, the version a rollback would put back, and what it costs
//!   now: p50 and p99 latency and mean CPU time over its last requests,
//!   and its failures by kind.
//! - `PUT /admin/functions/{name}`: the body is a new wasm component for
//!   that function; it is compiled, linked and checked like any other
//!   version, and swapped in only if all of that succeeds. Under `--native`
//!   there is nothing to swap: 409.
//! - `POST /admin/functions/{name}/rollback`: puts the previous version back
//!   (still compiled: a switch, no compile); a second rollback undoes the
//!   first. 409 when there is nothing to roll back to.
//! - `GET /admin/functions/{name}/history`: the function's last versions,
//!   newest first: sha256, tier, when it started serving, how it came
//!   (`start`, `file`, `admin`, `rollback`, `tier-up`) and the requests it
//!   served until the next one.
//! - `GET /admin/metrics`: the host's Prometheus text (the registry that
//!   `--metrics-listen` serves), and `GET /admin/readyz`: the public
//!   `/readyz`, for the dashboard, which cannot read another origin.
//!
//! `GET /admin/` is the exception to the token: the dashboard, a static page
//! that holds no data. It asks for the token and sends it on its calls.

use super::answer::{closing, error, has_body, json, text};
use super::listen::serve_http;
use super::metrics::exposition;
use super::server::Server;
use crate::handler::{FunctionSlot, Origin, Response};
use crate::metrics::Metrics;
use crate::wasm::hot_swap::{HotSwap, RollbackError, SwapError};
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

/// The dashboard page (`GET /admin/`).
const DASHBOARD: &str = include_str!("dashboard.html");

/// The largest component the admin API accepts.
const MAX_COMPONENT_BYTES: usize = 64 << 20;

pub struct Admin {
    pub functions: BTreeMap<String, Arc<FunctionSlot>>,
    /// `None` under `--native`, which serves no wasm to swap.
    pub hot_swap: Option<Arc<HotSwap>>,
    pub token: String,
    /// The public server: its metrics and its readiness.
    pub server: Arc<Server>,
    /// Each function's recent latency, CPU per request and failures.
    pub metrics: Arc<Metrics>,
}

impl Admin {
    pub async fn run(self: Arc<Self>, listener: TcpListener) {
        serve_http(listener, move |req| {
            let admin = self.clone();
            async move { admin.handle(req).await }
        })
        .await
    }

    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        // Constant time: how much of a guess matches must not show in timing.
        bool::from(given.ct_eq(self.token.as_bytes()))
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response {
        if matches!(req.uri().path(), "/admin" | "/admin/") && matches!(*req.method(), Method::GET | Method::HEAD) {
            let mut page = text(StatusCode::OK, "text/html; charset=utf-8", DASHBOARD);
            page.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
            return page;
        }
        if !self.authorized(&req) {
            // The body of a request without the token is never read.
            let mut answer = closing(error(StatusCode::UNAUTHORIZED, "a valid bearer token is required"));
            answer.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return answer;
        }
        let path = req.uri().path().to_string();
        let reads = matches!(*req.method(), Method::GET | Method::HEAD);
        match path.as_str() {
            "/admin/metrics" if reads => return exposition(&self.server.metrics),
            "/admin/readyz" if reads => return self.server.readiness().await,
            _ => {}
        }
        let body_unread = has_body(&req);
        let unread = |answer| if body_unread { closing(answer) } else { answer };
        let Some(rest) = path.strip_prefix("/admin/functions") else {
            return unread(error(StatusCode::NOT_FOUND, &format!("no route for {path}")));
        };
        let method = req.method().clone();
        // `""`, `/{name}`, or `/{name}/{action}`.
        let mut parts = rest.strip_prefix('/').map(|rest| rest.splitn(2, '/'));
        let (name, action) = match parts.as_mut() {
            None if rest.is_empty() => (None, None),
            None => return unread(error(StatusCode::NOT_FOUND, &format!("no route for {path}"))),
            Some(parts) => (parts.next().filter(|name| !name.is_empty()), parts.next()),
        };
        match (name, action, method) {
            (Some(name), None, Method::PUT) => self.swap(name, req).await,
            (None, None, Method::GET | Method::HEAD) if rest.is_empty() => unread(self.list()),
            (None, None, _) if rest.is_empty() => {
                unread(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed; use GET"))
            }
            (Some(_), None, _) => unread(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed; use PUT")),
            (Some(name), Some("rollback"), Method::POST) => unread(self.roll_back(name).await),
            (Some(_), Some("rollback"), _) => {
                unread(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed; use POST"))
            }
            (Some(name), Some("history"), Method::GET | Method::HEAD) => unread(self.history(name)),
            (Some(_), Some("history"), _) => {
                unread(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed; use GET"))
            }
            _ => unread(error(StatusCode::NOT_FOUND, &format!("no route for {path}"))),
        }
    }

    fn list(&self) -> Response {
        let functions: Vec<_> = self
            .functions
            .values()
            .map(|slot| {
                let current = slot.current();
                let cost = self.metrics.summary(&slot.name);
                json!({
                    "name": slot.name,
                    "routes": slot.routes,
                    "version": current.sha256,
                    "mode": current.mode,
                    "tier": current.tier,
                    "entry": current.entry,
                    "loaded_at": humantime::format_rfc3339_seconds(current.loaded_at).to_string(),
                    "requests": slot.requests(),
                    "swaps": slot.swaps(),
                    "refused": slot.refused(),
                    "rollbacks": slot.rollbacks(),
                    "previous_version": slot.previous().map(|previous| previous.sha256.clone()),
                    "p50_ms": cost.p50_ms,
                    "p99_ms": cost.p99_ms,
                    "cpu_us_per_request": cost.cpu_us_per_request,
                    "failures": cost.failures,
                })
            })
            .collect();
        json(StatusCode::OK, &json!(functions))
    }

    async fn swap(&self, name: &str, req: Request<Incoming>) -> Response {
        // The upload is read whatever the answer, so that the connection
        // stays usable for the client's next request.
        let wasm: Bytes = match Limited::new(req.into_body(), MAX_COMPONENT_BYTES).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return closing(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the component is over 64 MiB, or its upload failed",
                ))
            }
        };
        let Some(hot_swap) = &self.hot_swap else {
            return error(StatusCode::CONFLICT, "hot swap is off: this host serves the native baseline (--native)");
        };
        match hot_swap.swap(name, wasm.to_vec(), Origin::Admin).await {
            Ok(Some(report)) => json(StatusCode::OK, &json!(report)),
            Ok(None) => json(StatusCode::OK, &json!({ "function": name, "unchanged": true })),
            Err(unknown @ SwapError::UnknownFunction(_)) => error(StatusCode::NOT_FOUND, &unknown.to_string()),
            Err(refused) => error(StatusCode::BAD_REQUEST, &refused.to_string()),
        }
    }

    async fn roll_back(&self, name: &str) -> Response {
        let Some(hot_swap) = &self.hot_swap else {
            return error(StatusCode::CONFLICT, "rollback is off: this host serves the native baseline (--native)");
        };
        match hot_swap.roll_back(name).await {
            Ok(report) => json(StatusCode::OK, &json!(report)),
            Err(unknown @ RollbackError::UnknownFunction(_)) => error(StatusCode::NOT_FOUND, &unknown.to_string()),
            Err(nothing @ RollbackError::NothingToRollBackTo(_)) => error(StatusCode::CONFLICT, &nothing.to_string()),
        }
    }

    fn history(&self, name: &str) -> Response {
        let Some(slot) = self.functions.get(name) else {
            return error(StatusCode::NOT_FOUND, &format!("no function {name:?}"));
        };
        let events: Vec<_> = slot
            .history()
            .into_iter()
            .map(|event| {
                json!({
                    "version": event.sha256,
                    "tier": event.tier,
                    "mode": event.mode,
                    // Milliseconds: two switches within one second must
                    // still read in order.
                    "loaded_at": humantime::format_rfc3339_millis(event.at).to_string(),
                    "origin": event.origin,
                    "requests": event.served(),
                })
            })
            .collect();
        json(StatusCode::OK, &json!(events))
    }
}
