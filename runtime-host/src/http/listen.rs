//! Accepting HTTP/1 connections and serving each with a handler: the one
//! accept loop that the public server, the admin API and the metrics
//! endpoint share, and the public server's graceful drain.

use super::timeouts::{Clock, Timeouts, Watched};
use crate::handler::Response;
use crate::telemetry;
use crate::telemetry::server::ClientAddress;
use http::{header, HeaderValue};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long a drain waits, new handshakes refused, for those under way to
/// complete: many round trips, even on a busy machine.
const HANDSHAKES_UNDER_WAY: Duration = Duration::from_millis(50);

/// Serves every connection from `listener` on its own task, each request
/// answered by `handle`, for as long as the process lives.
pub async fn serve_http<H, F>(listener: TcpListener, handle: H)
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let handle = move |req, _client| handle(req);
    serve_until(listener, handle, std::future::pending(), Duration::ZERO, DEFAULT_TIMEOUTS).await;
}

/// The client timeouts of the admin and metrics endpoints: the defaults of
/// `newsfeed up`'s flags for the API.
const DEFAULT_TIMEOUTS: Timeouts = Timeouts { header: Duration::from_secs(10), idle: Duration::from_secs(60) };

/// As [`serve_http`], until `stop` completes; then drains, for at most
/// `drain_for`, and returns whether every connection ended in that time:
///
/// - it stops accepting, but first takes the connections already waiting in
///   the listen backlog: their clients saw the connection made, so their
///   requests count as accepted;
/// - a connection that has not yet sent its first request gets to send it,
///   and its answer says `Connection: close`;
/// - every other connection finishes the request it has, answers it, and
///   closes; an idle keep-alive connection closes at once.
///
/// A connection is closed when it overruns `timeouts`: a request's head
/// that takes too long, or an idle keep-alive connection that sends nothing.
///
/// `handle` is given each request with its client's address, known while
/// spans are exported (for the server span): read once a connection, and
/// handed over beside the request rather than in its extensions, which
/// would allocate their map on every request.
pub async fn serve_until<H, F>(
    listener: TcpListener,
    handle: H,
    stop: impl Future<Output = ()>,
    drain_for: Duration,
    timeouts: Timeouts,
) -> bool
where
    H: Fn(http::Request<Incoming>, Option<ClientAddress>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    // `true` once draining; every connection's task holds a receiver, so
    // `closed()` tells when the last one has ended.
    let (draining, drain) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        match accepted {
            Ok((stream, _peer)) => serve(stream, handle.clone(), drain.clone(), timeouts),
            Err(error) => {
                // Running out of file descriptors must not end the server.
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    match refuse_new_handshakes(&listener) {
        // Handshakes under way complete within a round trip.
        Ok(()) => tokio::time::sleep(HANDSHAKES_UNDER_WAY).await,
        Err(error) => tracing::warn!("cannot stop new connections before draining the backlog: {error}"),
    }
    // Everything the kernel has already accepted for us, without waiting.
    while let Poll::Ready(Ok((stream, _peer))) = poll_fn(|cx| Poll::Ready(listener.poll_accept(cx))).await {
        serve(stream, handle.clone(), drain.clone(), timeouts);
    }
    drop((listener, drain));
    tracing::info!(connections = draining.receiver_count(), "draining");
    let _ = draining.send(true);
    let drained = tokio::time::timeout(drain_for, draining.closed()).await.is_ok();
    if !drained {
        tracing::warn!("drain timed out after {drain_for:?}; closing what is left");
    }
    drained
}

/// Serves one connection on its own task until it ends, or, once `drain`
/// turns `true`, until it has answered what it was sent.
fn serve<H, F>(stream: TcpStream, handle: H, mut drain: watch::Receiver<bool>, timeouts: Timeouts)
where
    H: Fn(http::Request<Incoming>, Option<ClientAddress>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    // Whether a request has arrived: hyper's graceful shutdown closes a
    // connection that has sent nothing yet, which would drop a request
    // already on its way from the backlog.
    let started = Arc::new(AtomicBool::new(false));
    let clock = Clock::start(timeouts);
    // The client address, for the server span (when spans are exported).
    let client = telemetry::traces_on().then(|| stream.peer_addr().ok()).flatten().map(ClientAddress);
    let service = {
        let (started, drain, clock) = (started.clone(), drain.clone(), clock.clone());
        hyper::service::service_fn(move |req: http::Request<Incoming>| {
            started.store(true, Ordering::Relaxed);
            clock.request_started();
            let closing = *drain.borrow();
            let answer = handle(req, client);
            let clock = clock.clone();
            async move {
                let mut response = answer.await;
                clock.request_answered();
                if closing {
                    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    };
    tokio::spawn(async move {
        let connection = http1::Builder::new()
            // hyper's own header timer would also bound idle time: the
            // clock keeps the two apart.
            .header_read_timeout(None)
            .serve_connection(TokioIo::new(Watched::new(stream, clock.clone())), service);
        tokio::pin!(connection);
        let drained = async {
            // A `Ref` to the value is not `Send`: keep only whether it came.
            let _ = drain.wait_for(|draining| *draining).await.is_ok();
        };
        // The connection first: the clock reads the phase it leaves.
        let ended = tokio::select! {
            biased;
            ended = connection.as_mut() => ended,
            bound = clock.expiry() => {
                tracing::debug!("closing a connection: {bound}");
                return;
            }
            () = drained => {
                if started.load(Ordering::Relaxed) {
                    connection.as_mut().graceful_shutdown();
                }
                connection.await
            }
        };
        if let Err(error) = ended {
            tracing::debug!("connection ended: {error}");
        }
        drop(drain);
    });
}

/// Makes the kernel ignore every new connection attempt on `listener`, so
/// that the backlog stops growing while it is drained: a socket filter drops
/// each packet with the SYN flag, and lets through the ACKs that complete
/// handshakes already under way. Without it, a connection completed between
/// the last `accept` and the close would be reset after its client saw it
/// open; with it, the client's retried SYN finds the port closed: refused,
/// never half-accepted.
fn refuse_new_handshakes(listener: &TcpListener) -> std::io::Result<()> {
    use libc::{sock_filter, BPF_ABS, BPF_B, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET};
    use std::os::fd::AsRawFd;
    // A TCP socket's filter sees the packet from the TCP header on; its
    // 14th byte holds the flags, SYN being 0x02.
    let instruction = |code: u32, jt: u8, jf: u8, k: u32| sock_filter { code: code as u16, jt, jf, k };
    let mut program = [
        instruction(BPF_LD | BPF_B | BPF_ABS, 0, 0, 13),
        instruction(BPF_JMP | BPF_JSET | BPF_K, 0, 1, 0x02),
        instruction(BPF_RET | BPF_K, 0, 0, 0),
        instruction(BPF_RET | BPF_K, 0, 0, u32::MAX),
    ];
    let program = libc::sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    // SAFETY: `program` points at valid instructions that outlive the call;
    // the kernel copies and checks them.
    let done = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&program as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    match done {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}
