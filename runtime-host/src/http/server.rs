//! The public API's server: routes each request to its function (or answers
//! it from the host), enforces the body limit, and turns every failure into
//! the contract's JSON error. It calls each function through its
//! [`Handler`](crate::handler::Handler) and never asks how it runs.
//!
//! The host's own endpoints sit beside the API: `GET /openapi.yaml`,
//! `GET /healthz` (the process answers) and `GET /readyz` (the functions'
//! data answers too, as [`Readiness`] judges it: a load balancer sends
//! traffic only while it does).

use super::answer::{closing, error, has_body, json, text};
use super::listen::serve_until;
use super::timeouts::Timeouts;
use crate::handler::{FunctionError, FunctionSlot, Request, Response};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::spin::routing::Router;
use crate::telemetry;
use bytes::BytesMut;
use http::{header, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::Instrument;

/// The OpenAPI document of the API, served at `GET /openapi.yaml`.
const OPENAPI: &str = include_str!("../../../openapi.yaml");

/// Whether the host can serve now: what `/readyz` asks. One implementation
/// for each way the functions reach their data, chosen at start; each
/// answers within a couple of seconds, whatever the database does.
#[async_trait::async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// `Err` says why not, for the log.
    async fn check(&self) -> Result<(), String>;
}

pub struct Server {
    pub router: Router<Arc<FunctionSlot>>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    /// What `/readyz` asks.
    pub readiness: Arc<dyn Readiness>,
    /// One permit per API request being answered (`--max-in-flight`).
    pub in_flight: Arc<Semaphore>,
}

impl Server {
    /// Serves connections from `listener` until `stop` completes, then
    /// drains: every request already accepted is answered (within the
    /// request deadline) before this returns. `false` if the drain timed
    /// out and some were not.
    pub async fn run(self: Arc<Self>, listener: TcpListener, stop: impl Future<Output = ()>) -> bool {
        // A request may take its body's time, then its deadline; a second
        // more, so that a request at its deadline still gets its 500 written.
        let drain_for = self.limits.body_timeout + self.limits.request_timeout + Duration::from_secs(1);
        let server = self.clone();
        let handle = move |req: http::Request<Incoming>, client| {
            let server = server.clone();
            let route = |path: &str| server.router.find_route(path).map(|(route, _)| route);
            let traced = telemetry::server::span(&req, client, route);
            async move {
                let mut response = server.handle(req).instrument(traced.span().clone()).await;
                telemetry::server::answered(&traced, &mut response);
                response
            }
        };
        let timeouts = Timeouts { header: self.limits.header_timeout, idle: self.limits.idle_timeout };
        serve_until(listener, handle, stop, drain_for, timeouts).await
    }

    /// Answers one request.
    pub async fn handle(&self, req: http::Request<Incoming>) -> Response {
        let path = req.uri().path();
        let body_unread = has_body(&req);
        let unread = |answer| if body_unread { closing(answer) } else { answer };
        if let Some(answer) = self.host_endpoint(path, req.method()).await {
            return unread(answer);
        }
        let Some(slot) = self.router.find(path) else {
            return unread(error(StatusCode::NOT_FOUND, &format!("no route for {path}")));
        };
        // The body first, under its own deadline: a client that stalls
        // mid-body holds its socket until then, never an in-flight slot.
        let req = match tokio::time::timeout(self.limits.body_timeout, self.read_body(req)).await {
            Ok(Ok(req)) => req,
            Ok(Err(answer)) => return answer,
            Err(_elapsed) => {
                self.metrics.failed(&slot.name, "body timeout");
                return closing(error(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!("the request body did not arrive within {:?}", self.limits.body_timeout),
                ));
            }
        };
        // Held while the function runs; none left means overload: say so
        // at once rather than queue without bound.
        let Ok(_permit) = self.in_flight.try_acquire() else {
            self.metrics.failed(&slot.name, "overload");
            telemetry::fail(&tracing::Span::current(), "overload", "no request permit left");
            let mut busy = error(StatusCode::SERVICE_UNAVAILABLE, "the server is busy, try again shortly");
            busy.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return busy;
        };
        // HEAD is GET without the body: the function answers a GET, and
        // hyper, which saw the HEAD, sends the head only.
        let mut req = req;
        if req.method() == Method::HEAD {
            *req.method_mut() = Method::GET;
        }
        let started = std::time::Instant::now();
        let version = slot.take_for_request();
        let execution = telemetry::execution_span(&slot.name, &version.sha256, version.mode.as_str());
        let response = match version.handler.handle(req).instrument(execution.clone()).await {
            Ok(response) => response,
            Err(failure) => {
                tracing::warn!(function = %slot.name, "{failure}");
                self.metrics.failed(&slot.name, failure.kind());
                let description = failure.to_string();
                telemetry::fail(&execution, failure.kind(), &description);
                telemetry::fail(&tracing::Span::current(), failure.kind(), &description);
                failure_answer(&failure)
            }
        };
        self.metrics.answered(&slot.name, response.status().as_u16(), started.elapsed());
        response
    }

    /// The host's own endpoints, or `None` for a path of the API.
    async fn host_endpoint(&self, path: &str, method: &Method) -> Option<Response> {
        if !matches!(path, "/openapi.yaml" | "/healthz" | "/readyz") {
            return None;
        }
        if !matches!(*method, Method::GET | Method::HEAD) {
            return Some(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed; use GET"));
        }
        Some(match path {
            "/openapi.yaml" => text(StatusCode::OK, "application/yaml", OPENAPI),
            "/readyz" => self.readiness().await,
            _ => json(StatusCode::OK, &serde_json::json!({"status": "alive"})),
        })
    }

    /// `/readyz`: ready while the backend answers (always, when the functions
    /// reach their storage on their own).
    pub async fn readiness(&self) -> Response {
        match self.readiness.check().await {
            Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
            Err(failure) => {
                tracing::warn!("not ready: {failure}");
                error(StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable")
            }
        }
    }

    /// Reads the whole body, up to the limit, so that a function never
    /// waits on a slow client and an oversized body never reaches it.
    async fn read_body(&self, req: http::Request<Incoming>) -> Result<Request, Response> {
        let max = self.limits.max_body;
        let too_large =
            || closing(error(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body is over the {max}-byte limit")));
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let (mut parts, mut body) = req.into_parts();
        if declared.is_some_and(|length| length > max as u64) {
            discard(body).await;
            return Err(too_large());
        }
        let mut bytes = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(error(StatusCode::BAD_REQUEST, "the request body could not be read"));
            };
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > max {
                    discard(body).await;
                    return Err(too_large());
                }
                bytes.extend_from_slice(data);
            }
        }
        let bytes = bytes.freeze();
        // WASI-HTTP needs an authority; HTTP/1.0 clients may send no Host.
        if !parts.headers.contains_key(header::HOST) {
            parts.headers.insert(header::HOST, header::HeaderValue::from_static("localhost"));
        }
        Ok(Request::from_parts(parts, Full::new(bytes)))
    }
}

/// How much of an oversized body is read and thrown away, and for how long,
/// before its 413 is sent.
const DISCARD_AT_MOST: usize = 64 << 20;
const LINGER: Duration = Duration::from_secs(5);

/// Reads and discards the rest of an oversized body, up to a bound and a
/// time limit, as nginx's lingering close does: a client that sends its
/// whole body before it reads the answer (Python's urllib, say) then gets
/// its 413, instead of a reset connection and a broken pipe.
async fn discard(mut body: Incoming) {
    let drain = async {
        let mut read = 0;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |data| data.len());
            if read > DISCARD_AT_MOST {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The contract's answer for a request its function failed to answer.
fn failure_answer(failure: &FunctionError) -> Response {
    match failure {
        FunctionError::AtCapacity(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the server is at capacity, try again"),
        FunctionError::DeadlineExceeded => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "the function ran past its deadline")
        }
        FunctionError::Trapped(_) | FunctionError::Instantiation(_) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "the function failed")
        }
    }
}
