//! The native baseline (`newsfeed up --native`): the very same function logic
//! (the function crates, compiled natively as libraries) over the very same
//! backend, routing and server, with no wasm in between. It exists so that
//! the cost of the sandbox is a measured number, not a guess.
//!
//! The traits the functions reach their data through (`newsfeed_guest::backend`) are implemented here
//! over [`Backend`], as the WIT imports are in a component.

use super::{FunctionError, Handler, Mode, Request, Response, Version};
use crate::backend::types as host;
use crate::backend::{Backend, BackendError};
use crate::metrics::Metrics;
use crate::telemetry::cpu::thread_cpu_time;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use newsfeed_guest::{self as guest, Friendships, Participants, Publishing, Search, Storage};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::runtime::Handle;

/// A function's logic, natively compiled.
type Logic = fn(&guest::Request, &BlockingBackend) -> guest::Response;

/// One function served natively.
pub struct NativeHandler {
    name: String,
    logic: Logic,
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    /// The same deadline a wasm function has. A native function cannot be
    /// interrupted: past it the request is answered and the work left to end.
    deadline: Duration,
}

/// The backend as a native function sees it: each call waits on it.
/// Runs on a blocking-pool thread, never on the reactor.
pub struct BlockingBackend {
    backend: Arc<dyn Backend>,
    executor: Handle,
}

impl NativeHandler {
    /// The native build of a component's logic, if it has one; components
    /// without one (the test-only ones) keep running in wasm.
    pub fn new(
        function: &str,
        backend: Arc<dyn Backend>,
        metrics: Arc<Metrics>,
        deadline: Duration,
    ) -> Option<NativeHandler> {
        let logic: Logic = match function {
            "participant" => |r, s| participant::handle(r, s),
            "friends" => |r, s| friends::handle(r, s),
            "outbound" => |r, s| outbound::handle(r, s),
            "inbound" => |r, s| inbound::handle(r, s),
            "search" => |r, s| search::handle(r, s),
            _ => return None,
        };
        Some(NativeHandler { name: function.to_string(), logic, backend, metrics, deadline })
    }

    /// This function as the version a slot serves. A native build has no
    /// wasm to hash: its version is the word `native`.
    pub fn into_version(self) -> Version {
        Version {
            sha256: "native".into(),
            loaded_at: SystemTime::now(),
            mode: Mode::Native,
            tier: None,
            entry: None,
            wasm: None,
            handler: Box::new(self),
        }
    }
}

#[async_trait::async_trait]
impl Handler for NativeHandler {
    async fn handle(&self, request: Request) -> Result<Response, FunctionError> {
        let blocking = BlockingBackend { backend: self.backend.clone(), executor: Handle::current() };
        let logic = self.logic;
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        // The backend's spans, on the blocking thread, are the execution's children.
        let span = tracing::Span::current();
        let (metrics, name) = (self.metrics.clone(), self.name.clone());
        let work = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            // The CPU time of the thread that runs the logic and waits on
            // the backend, as a wasm function's is of the threads that poll it;
            // a native function has no linear memory to report.
            let before = thread_cpu_time();
            let uri = parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
            let request = guest::Request::builder().method(method(&parts.method)).uri(uri).body(body.to_vec()).build();
            let answer = logic(&request, &blocking);
            metrics.cost(&name, thread_cpu_time().saturating_sub(before), None);
            answer
        });
        let answer = match tokio::time::timeout(self.deadline, work).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(panicked)) => return Err(FunctionError::Trapped(panicked.to_string())),
            Err(_elapsed) => return Err(FunctionError::DeadlineExceeded),
        };
        let mut response = http::Response::builder().status(*answer.status());
        for (name, value) in answer.headers() {
            response = response.header(name, value.as_bytes());
        }
        let body = Full::new(Bytes::from(answer.into_body())).map_err(|never| match never {}).boxed_unsync();
        response.body(body).map_err(|error| FunctionError::Trapped(error.to_string()))
    }
}

fn method(method: &http::Method) -> guest::Method {
    match *method {
        http::Method::GET => guest::Method::Get,
        http::Method::POST => guest::Method::Post,
        http::Method::PUT => guest::Method::Put,
        http::Method::DELETE => guest::Method::Delete,
        http::Method::PATCH => guest::Method::Patch,
        http::Method::HEAD => guest::Method::Head,
        http::Method::OPTIONS => guest::Method::Options,
        _ => guest::Method::Other(method.to_string()),
    }
}

fn error(error: BackendError) -> guest::BackendError {
    match error {
        BackendError::NotFound(m) => guest::BackendError::NotFound(m),
        BackendError::Invalid(m) => guest::BackendError::Invalid(m),
        BackendError::Unavailable(m) => guest::BackendError::Unavailable(m),
    }
}

fn participant(p: host::Participant) -> guest::Participant {
    guest::Participant { id: p.id, name: p.name }
}

fn friendship(f: host::Friendship) -> guest::Friendship {
    guest::Friendship { id: f.id, from: f.from, to: f.to }
}

fn post(p: host::Post) -> guest::Post {
    guest::Post { author: p.author, occurred: p.occurred, subject: p.subject, story: p.story }
}

impl BlockingBackend {
    fn call<T, U>(
        &self,
        call: impl std::future::Future<Output = Result<T, BackendError>>,
        shape: impl Fn(T) -> U,
    ) -> Result<U, guest::BackendError> {
        self.executor.block_on(call).map(shape).map_err(error)
    }
}

impl Storage for BlockingBackend {
    fn get_participant(&self, id: guest::Id) -> Result<guest::Participant, guest::BackendError> {
        self.call(self.backend.get_participant(id), participant)
    }
    fn list_friends(
        &self,
        id: guest::Id,
        limit: u32,
        before: Option<&str>,
    ) -> Result<guest::FriendsPage, guest::BackendError> {
        self.call(self.backend.list_friends(id, limit, before.map(str::to_string)), |page| guest::FriendsPage {
            items: page.items.into_iter().map(friendship).collect(),
            next: page.next,
        })
    }
    fn list_outbound(
        &self,
        id: guest::Id,
        limit: u32,
        before: Option<&str>,
    ) -> Result<guest::OutboundPage, guest::BackendError> {
        self.call(self.backend.list_outbound(id, limit, before.map(str::to_string)), |page| guest::OutboundPage {
            items: page.items.into_iter().map(post).collect(),
            next: page.next,
        })
    }
    fn list_inbound(
        &self,
        id: guest::Id,
        limit: u32,
        before: Option<&str>,
    ) -> Result<guest::InboundPage, guest::BackendError> {
        self.call(self.backend.list_inbound(id, limit, before.map(str::to_string)), |page| guest::InboundPage {
            items: page
                .items
                .into_iter()
                .map(|item| guest::FeedItem { reader: item.reader, post: post(item.post) })
                .collect(),
            next: page.next,
        })
    }
}

impl Participants for BlockingBackend {
    fn create(&self, name: &str) -> Result<guest::Participant, guest::BackendError> {
        self.call(self.backend.create_participant(name.to_string()), participant)
    }
}

impl Friendships for BlockingBackend {
    fn befriend(&self, a: guest::Id, b: guest::Id) -> Result<guest::Friendship, guest::BackendError> {
        self.call(self.backend.befriend(a, b), friendship)
    }
}

impl Publishing for BlockingBackend {
    fn publish(&self, p: &guest::Post) -> Result<guest::Post, guest::BackendError> {
        let stored = host::Post {
            author: p.author,
            occurred: p.occurred.clone(),
            subject: p.subject.clone(),
            story: p.story.clone(),
        };
        self.call(self.backend.publish(stored), post)
    }
}

impl Search for BlockingBackend {
    fn find_posters(&self, keywords: &[String], limit: u32) -> Result<Vec<guest::Id>, guest::BackendError> {
        self.call(self.backend.find_posters(keywords.to_vec(), limit), |ids| ids)
    }
}
