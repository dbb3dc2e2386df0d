//! A keep-alive HTTP/1 client that times each request into its operation's
//! histogram.

use crate::report::OpStats;
use crate::resources::{CountingConnector, Traffic};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct Client {
    base: String,
    http: HyperClient<CountingConnector, Full<Bytes>>,
}

impl Client {
    /// A client of `base` whose connections count their bytes into `traffic`.
    pub fn new(base: &str, traffic: Arc<Traffic>) -> Client {
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build(CountingConnector::new(traffic));
        Client { base: base.trim_end_matches('/').to_string(), http }
    }

    /// Sends one request, records its latency (or error) in `stats`, and
    /// returns the JSON answer of a 200.
    pub async fn call(
        &self,
        stats: &mut OpStats,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Value> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default()))
            .ok()?;
        let started = Instant::now();
        let answer = async {
            let response = self.http.request(request).await.ok()?;
            let ok = response.status() == http::StatusCode::OK;
            let bytes = response.into_body().collect().await.ok()?.to_bytes();
            ok.then(|| serde_json::from_slice(&bytes).ok()).flatten()
        }
        .await;
        stats.record(started.elapsed(), answer.is_some());
        answer
    }
}
