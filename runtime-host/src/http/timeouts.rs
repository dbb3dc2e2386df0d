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
//! when a request starts and ends, and [`Clock::expiry`] resolves once the
//! bound of the current phase has passed.
//!
//! Every change of phase happens while the connection is polled (its reader
//! and its service run inside it), so a connection's task polls the expiry
//! right after the connection (a `biased` select): each poll of the expiry
//! sees the phase as it now is and moves its timer to match. No wake-up is
//! needed between the two, and a request costs no more than a timer reset.
//!
//! Depends on nothing else in the crate.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

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
}

impl Clock {
    /// The clock of a connection just accepted: its first head is awaited.
    pub fn start(timeouts: Timeouts) -> Arc<Self> {
        Arc::new(Clock { timeouts, phase: Mutex::new(Phase::Head { since: Instant::now() }) })
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // Every update is a plain store: a panic elsewhere cannot leave the
        // phase half-written.
        self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes came in: on an idle connection, a new request has begun.
    fn bytes_arrived(&self) {
        let mut phase = self.phase();
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::Head { since: Instant::now() };
        }
    }

    /// A request's head is complete and its answer begins.
    pub fn request_started(&self) {
        *self.phase() = Phase::Busy;
    }

    /// The answer is ready: the connection idles until the next request.
    pub fn request_answered(&self) {
        *self.phase() = Phase::Idle { since: Instant::now() };
    }

    /// When the current phase's bound runs out, if one applies.
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        match *self.phase() {
            Phase::Head { since } => Some((since + self.timeouts.header, "header timeout")),
            Phase::Idle { since } => Some((since + self.timeouts.idle, "idle timeout")),
            Phase::Busy => None,
        }
    }

    /// A future that resolves, with the name of the bound, once the
    /// connection has overrun the bound of the phase it is in. Poll it after
    /// the connection, in the same task (see the module's doc).
    pub fn expiry(&self) -> Expiry<'_> {
        Expiry { clock: self, timer: Box::pin(tokio::time::sleep_until(Instant::now())), armed: None }
    }
}

/// See [`Clock::expiry`].
pub struct Expiry<'a> {
    clock: &'a Clock,
    timer: Pin<Box<Sleep>>,
    /// The deadline `timer` is set to, once set.
    armed: Option<Instant>,
}

impl Future for Expiry<'_> {
    type Output = &'static str;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        // A busy phase has no bound: its answer changes the phase, while the
        // connection is polled, and this is polled again after it.
        let Some((deadline, bound)) = self.clock.deadline() else {
            return Poll::Pending;
        };
        if self.armed != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        self.timer.as_mut().poll(cx).map(|()| bound)
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
        assert_eq!(clock.expiry().await, "header timeout");
        assert_eq!(started.elapsed(), TIMEOUTS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_connection_idles_for_the_idle_timeout() {
        let clock = Clock::start(TIMEOUTS);
        clock.request_started();
        clock.request_answered();
        let answered = Instant::now();
        assert_eq!(clock.expiry().await, "idle timeout");
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
        assert_eq!(clock.expiry().await, "header timeout");
        assert_eq!(begun.elapsed(), TIMEOUTS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn trickled_bytes_do_not_extend_the_header_timeout() {
        let clock = Clock::start(TIMEOUTS);
        let started = Instant::now();
        let trickle = async {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                clock.bytes_arrived();
            }
        };
        tokio::select! {
            biased;
            () = trickle => unreachable!(),
            bound = clock.expiry() => assert_eq!(bound, "header timeout"),
        }
        assert_eq!(started.elapsed(), TIMEOUTS.header);
    }

    #[tokio::test(start_paused = true)]
    async fn a_phase_change_while_waiting_moves_the_deadline() {
        // As a connection's task runs it: a new connection waits on the
        // (longer) header bound, then a request comes and is answered; the
        // idle bound, counted from the answer, is the one that ends it.
        let timeouts = Timeouts { header: Duration::from_secs(30), idle: Duration::from_secs(1) };
        let clock = Clock::start(timeouts);
        let started = Instant::now();
        let connection = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            clock.request_started();
            tokio::time::sleep(Duration::from_millis(100)).await;
            clock.request_answered();
            std::future::pending::<()>().await
        };
        tokio::select! {
            biased;
            () = connection => unreachable!(),
            bound = clock.expiry() => assert_eq!(bound, "idle timeout"),
        }
        assert_eq!(started.elapsed(), Duration::from_millis(200) + timeouts.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_has_no_client_bound() {
        let clock = Clock::start(TIMEOUTS);
        clock.request_started();
        let outlived = tokio::time::timeout(Duration::from_secs(60), clock.expiry()).await;
        assert!(outlived.is_err(), "a request being answered must not be cut by a client timeout");
    }
}
