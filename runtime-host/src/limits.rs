//! The limits every request runs under; each one is a flag of `newsfeed up`.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time one request may take, enforced inside wasm by epoch
    /// interruption and around host calls by a timer.
    pub request_timeout: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub memory: usize,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// Instances alive at once; past it a request gets 503.
    pub max_instances: u32,
    /// Requests one instance may serve, one after another; 1 (the default)
    /// is a fresh instance for every request.
    pub instance_reuse: u32,
    /// How long a connection may take to send a request's head: from its
    /// first byte (or, for a connection's first request, from the
    /// connection's opening) to its last header line. Past it the
    /// connection is closed: slow or silent clients cannot hold sockets
    /// forever.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive, from the end of its
    /// head. Past it the answer is 408 and the connection is closed: a
    /// client that stalls mid-body holds a socket for this long at most,
    /// and never an in-flight slot (taken only once the body is read).
    pub body_timeout: Duration,
    /// How long a keep-alive connection may sit idle between an answer and
    /// the next request's first byte before it is closed.
    pub idle_timeout: Duration,
    /// API requests being answered at once; past it a request gets an
    /// immediate 503 with `Retry-After`, never a place in an unbounded queue.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(10),
            memory: 64 << 20,
            max_body: 1 << 20,
            max_instances: 1000,
            instance_reuse: 1,
            max_in_flight: 1000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}
