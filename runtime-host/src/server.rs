//! The HTTP front door: accepts connections on every core, routes each
//! request to its function (or answers it from the host), enforces the body
//! limit, and turns every failure into the contract's JSON error.

use crate::function::{FunctionError, Shared};
use crate::hot_swap::{FunctionSlot, SwapReport};
use crate::listen::serve_http;
use crate::loader::Loader;
use crate::native::Native;
use crate::routing::Router;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The OpenAPI document of the API, served at `GET /openapi.yaml`.
const OPENAPI: &str = include_str!("../../openapi.yaml");

pub struct Server {
    pub shared: Shared,
    pub router: Router<Arc<FunctionSlot>>,
    /// Every function by name.
    pub functions: BTreeMap<String, Arc<FunctionSlot>>,
    /// Loads new versions of the functions.
    pub loader: Arc<Loader>,
    /// Serve the functions' logic natively instead of in wasm (the baseline).
    pub native: Option<Native>,
}

impl Server {
    /// Serves connections from `listener` until the process ends.
    pub async fn run(self: Arc<Self>, listener: TcpListener) {
        serve_http(listener, move |req| {
            let server = self.clone();
            async move { server.handle(req).await }
        })
        .await
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<HyperOutgoingBody> {
        let path = req.uri().path().to_string();
        if path == "/openapi.yaml" {
            return match *req.method() {
                Method::GET | Method::HEAD => text(StatusCode::OK, "application/yaml", OPENAPI),
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed; use GET"),
            };
        }
        let Some(slot) = self.router.find(&path) else {
            return error(StatusCode::NOT_FOUND, &format!("no route for {path}"));
        };
        let req = match self.read_body(req).await {
            Ok(req) => req,
            Err(answer) => return answer,
        };
        let started = std::time::Instant::now();
        let function = slot.take_for_request();
        if let (Some(native), Some(handler)) = (&self.native, Native::handler(&function.name)) {
            let response = match native.serve(handler, req).await {
                Some(response) => response,
                None => error(StatusCode::INTERNAL_SERVER_ERROR, "the function failed"),
            };
            self.shared.metrics.answered(&function.name, response.status().as_u16(), started.elapsed());
            return response;
        }
        let response = match function.serve(&self.shared, req).await {
            Ok(response) => response,
            Err(failure) => {
                tracing::warn!(function = %function.name, "{failure}");
                self.shared.metrics.failed(&function.name, failure.kind());
                match failure {
                    FunctionError::AtCapacity(_) => {
                        error(StatusCode::SERVICE_UNAVAILABLE, "the server is at capacity, try again")
                    }
                    FunctionError::DeadlineExceeded => {
                        error(StatusCode::INTERNAL_SERVER_ERROR, "the function ran past its deadline")
                    }
                    FunctionError::Trapped(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the function failed"),
                }
            }
        };
        self.shared.metrics.answered(&function.name, response.status().as_u16(), started.elapsed());
        response
    }

    /// Swaps `name` to the version now in its wasm file; logs the outcome as
    /// one line. On failure the old version keeps serving.
    pub async fn swap_from_file(&self, name: &str) -> Option<SwapReport> {
        let slot = self.functions.get(name)?;
        let source = &self.loader.spec(name)?.source;
        let swapped = match tokio::fs::read(source).await {
            Ok(wasm) => slot.swap(self.loader.clone(), wasm).await,
            Err(error) => Err(anyhow::Error::new(error).context(format!("reading {}", source.display()))),
        };
        match swapped {
            Ok(Some(report)) => {
                tracing::info!("{report}");
                self.shared.metrics.loaded(name, Some(&report.old_version), &report.new_version);
                Some(report)
            }
            Ok(None) => None,
            Err(failure) => {
                tracing::error!(function = name, "swap refused, the old version keeps serving: {failure:#}");
                None
            }
        }
    }

    /// Reads the whole body, up to the limit, so that a function never
    /// waits on a slow client and an oversized body never reaches it.
    async fn read_body(&self, req: Request<Incoming>) -> Result<Request<Full<Bytes>>, Response<HyperOutgoingBody>> {
        let max = self.shared.limits.max_body;
        let too_large = || error(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body is over the {max}-byte limit"));
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max as u64) {
            return Err(too_large());
        }
        let (mut parts, body) = req.into_parts();
        let bytes = match Limited::new(body, max).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(failure) if failure.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(_) => return Err(error(StatusCode::BAD_REQUEST, "the request body could not be read")),
        };
        // WASI-HTTP needs an authority; HTTP/1.0 clients may send no Host.
        if !parts.headers.contains_key(header::HOST) {
            parts.headers.insert(header::HOST, header::HeaderValue::from_static("localhost"));
        }
        Ok(Request::from_parts(parts, Full::new(bytes)))
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<HyperOutgoingBody> {
    text(status, "application/json", value.to_string())
}

pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<HyperOutgoingBody> {
    let body = Full::new(body.into()).map_err(|never| match never {}).boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}

/// The contract's error answer: `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> Response<HyperOutgoingBody> {
    json(status, &serde_json::json!({ "error": message }))
}
