//! A [`Backend`] that makes a span of every call to another: the host calls
//! a function makes, with the semantic conventions' database attributes
//! (`db.system`, `db.operation.name`, `db.response.returned_rows`). Put in
//! front of the backend at start when spans are exported, so that without
//! export a call costs nothing more.

use super::types::{FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};
use super::{Backend, BackendError, StoreResult};
use std::future::Future;
use std::sync::Arc;
use tracing::field::Empty;
use tracing::Instrument;

pub struct Traced {
    inner: Arc<dyn Backend>,
    /// `sqlite` or `postgresql`, as the conventions name them.
    system: &'static str,
}

impl Traced {
    pub fn new(inner: Arc<dyn Backend>, system: &'static str) -> Self {
        Traced { inner, system }
    }

    /// Runs `call` in a span named after the WIT import (`feed.<operation>`),
    /// recording how many rows it returned, or its error.
    async fn traced<T, F>(&self, operation: &'static str, rows: fn(&T) -> usize, call: F) -> StoreResult<T>
    where
        F: Future<Output = StoreResult<T>>,
    {
        if !crate::telemetry::sampled() {
            return call.await;
        }
        let span = tracing::info_span!(
            target: "otel",
            "host call",
            otel.name = %format_args!("feed.{operation}"),
            otel.kind = "client",
            db.system = self.system,
            db.operation.name = operation,
            db.response.returned_rows = Empty,
            error.type = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        let result = call.instrument(span.clone()).await;
        match &result {
            Ok(value) => span.record("db.response.returned_rows", rows(value) as i64),
            // A missing or invalid row is an answer; only an unavailable
            // backend is the call's failure.
            Err(error @ BackendError::Unavailable(_)) => {
                span.record("error.type", error.kind());
                span.record("otel.status_description", error.to_string().as_str())
            }
            Err(error) => span.record("error.type", error.kind()),
        };
        result
    }
}

fn one<T>(_: &T) -> usize {
    1
}

// A `fn(&T) -> usize` for T = Vec<_>: a slice would not fit that pointer type.
#[allow(clippy::ptr_arg)]
fn many<T>(list: &Vec<T>) -> usize {
    list.len()
}

#[async_trait::async_trait]
impl Backend for Traced {
    async fn get_participant(&self, id: Id) -> StoreResult<Participant> {
        self.traced("get_participant", one, self.inner.get_participant(id)).await
    }
    async fn list_friends(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<FriendsPage> {
        self.traced("list_friends", |page| page.items.len(), self.inner.list_friends(id, limit, before)).await
    }
    async fn list_outbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<OutboundPage> {
        self.traced("list_outbound", |page| page.items.len(), self.inner.list_outbound(id, limit, before)).await
    }
    async fn list_inbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<InboundPage> {
        self.traced("list_inbound", |page| page.items.len(), self.inner.list_inbound(id, limit, before)).await
    }
    async fn create_participant(&self, name: String) -> StoreResult<Participant> {
        self.traced("create_participant", one, self.inner.create_participant(name)).await
    }
    async fn befriend(&self, a: Id, b: Id) -> StoreResult<Friendship> {
        self.traced("befriend", one, self.inner.befriend(a, b)).await
    }
    async fn publish(&self, post: Post) -> StoreResult<Post> {
        self.traced("publish", one, self.inner.publish(post)).await
    }
    async fn find_posters(&self, keywords: Vec<String>, limit: u32) -> StoreResult<Vec<Id>> {
        self.traced("find_posters", many, self.inner.find_posters(keywords, limit)).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}
