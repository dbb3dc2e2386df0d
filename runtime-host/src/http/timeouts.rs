//! How long a client may keep a connection waiting: the header timeout (a
//! request's head must arrive in time once it has begun, or, for the first
//! request, once the connection is made) and the idle keep-alive timeout
//! (between requests, a connection that sends nothing is closed).
//!
//! hyper has one timer for both: its header timeout starts as soon as it
//! waits for the next head, so an idle connection and a slow head share one
//! bound. The two are different promises (nginx's `client_header_timeout`
//! and `keepalive_timeout`), so each connection here carries a [`Clock`]:
//! [`Watched`] marks when a request's first byte arrives, the service marks
//! when a request starts and ends, and [`Clock::expired`] resolves once the
//! bound of the current phase has passed.
//!
//! Depends on nothing else in the crate.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The two bounds, each a flag of `newsfeed up`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From a request's first byte (or from the connection's opening, for
    /// its first request) to the end of its head.
    pub header: Duration,
    /// From an answer to the first byte of the next request.
    pub idle: Duration,
}

/// Where a connection is in its life, and since when.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// A request's head is on its way (or, on a new connection, awaited).
    Head { since: Instant },
    /// A request is being answered: no client-side bound applies (the
    /// request deadline does).
    Busy,
    /// Answered; waiting for the next request to begin.
    Idle { since: Instant },
}

/// One connection's clock, shared by its reader, its service and its task.
#[derive(Debug)]
pub struct Clock {
    timeouts: Timeouts,
    phase: Mutex<Phase>,
    /// Wakes [`Clock::expired`] when the phase changes, so that it waits
    /// for the new phase's bound rather than the old one's.
    changed: Notify,
}

impl Clock {
    /// The clock of a connection just accepted: its first head is awaited.
    pub fn start(timeouts: Timeouts) -> Arc<Self> {
        let phase = Mutex::new(Phase::Head { since: Instant::now() });
        Arc::new(Clock { timeouts, phase, changed: Notify::new() })
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // Every update is a plain store: a panic elsewhere cannot leave the
        // phase half-written.
        self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn enter(&self, phase: Phase) {
        *self.phase() = phase;
        self.changed.notify_waiters();
    }

    /// Bytes came in: on an idle connection, a new request has begun.
    fn bytes_arrived(&self) {
        // The guard is dropped before `enter` takes the lock again.
        let idle = matches!(*self.phase(), Phase::Idle { .. });
        if idle {
            self.enter(Phase::Head { since: Instant::now() });
        }
    }

    /// A request's head is complete and its answer begins.
    pub fn request_started(&self) {
        self.enter(Phase::Busy);
    }

    /// The answer is ready: the connection idles until the next request.
    pub fn request_answered(&self) {
        self.enter(Phase::Idle { since: Instant::now() });
    }

    /// When the current phase's bound runs out, if one applies.
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        match *self.phase() {
            Phase::Head { since } => Some((since + self.timeouts.header, "header timeout")),
            Phase::Idle { since } => Some((since + self.timeouts.idle, "idle timeout")),
            Phase::Busy => None,
        }
    }

    /// Resolves, with the name of the bound, once the connection has
    /// overrun the bound of the phase it is in.
    pub async fn expired(&self) -> &'static str {
        loop {
            // Listening before the phase is read: a change in between is
            // not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.deadline() {
                Some((deadline, bound)) => tokio::select! {
                    () = tokio::time::sleep_until(deadline) => return bound,
                    () = changed => {}
                },
                // A busy phase has no bound; its answer changes the phase.
                None => changed.await,
            }
        }
    }
}

/// A connection's stream, telling its [`Clock`] when bytes arrive.
pub struct Watched<S> {
    inner: S,
    clock: Arc<Clock>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, clock: Arc<Clock>) -> Self {
        Watched { inner, clock }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_arrived();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts { header: Duration::from_secs(2), idle: Duration::from_secs(5) };

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_runs_against_the_header_timeout() {
        let clock = Clock::start(TIMEOUTS);
        let started = Instant::now();
        assert_eq!(clock.expired().await, "header timeout");
        assert_eq!(started.elapsed(), TIMEOUTS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_connection_idles_for_the_idle_timeout() {
        let clock = Clock::start(TIMEOUTS);
        clock.request_started();
        clock.request_answered();
        let answered = Instant::now();
        assert_eq!(clock.expired().await, "idle timeout");
        assert_eq!(answered.elapsed(), TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_byte_after_idling_starts_the_header_timeout() {
        let clock = Clock::start(TIMEOUTS);
        clock.request_started();
        clock.request_answered();
        tokio::time::sleep(Duration::from_secs(4)).await;
        clock.bytes_arrived();
        let begun = Instant::now();
        assert_eq!(clock.expired().await, "header timeout");
        assert_eq!(begun.elapsed(), TIMEOUTS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn trickled_bytes_do_not_extend_the_header_timeout() {
        let clock = Clock::start(TIMEOUTS);
        let started = Instant::now();
        let trickle = {
            let clock = clock.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    clock.bytes_arrived();
                }
            }
        };
        tokio::select! {
            bound = clock.expired() => assert_eq!(bound, "header timeout"),
            () = trickle => unreachable!(),
        }
        assert_eq!(started.elapsed(), TIMEOUTS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn a_phase_change_while_waiting_moves_the_deadline() {
        // Waiting on a new connection's (longer) header bound when a request
        // comes and is answered: the idle bound, counted from the answer,
        // is the one that ends it.
        let timeouts = Timeouts { header: Duration::from_secs(30), idle: Duration::from_secs(1) };
        let clock = Clock::start(timeouts);
        let waiting = tokio::spawn({
            let clock = clock.clone();
            async move { clock.expired().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        clock.request_started();
        tokio::time::sleep(Duration::from_millis(100)).await;
        clock.request_answered();
        let answered = Instant::now();
        assert_eq!(waiting.await.unwrap(), "idle timeout");
        assert_eq!(answered.elapsed(), timeouts.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_has_no_client_bound() {
        let clock = Clock::start(TIMEOUTS);
        clock.request_started();
        let outlived = tokio::time::timeout(Duration::from_secs(60), clock.expired()).await;
        assert!(outlived.is_err(), "a request being answered must not be cut by a client timeout");
    }
}
