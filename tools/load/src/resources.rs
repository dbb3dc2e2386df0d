//! What a run cost beside its requests, the other two figures of the classic
//! comparison: the server's CPU (as cores busy, read from `/proc/PID/stat`
//! of the processes given with `--server-pid`) and the bytes that crossed
//! the wire each way (counted on the load tool's own connections, so they
//! are the HTTP traffic alone, whatever else the machine sends).

use anyhow::{Context, Result};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes sent and received over every connection of one run.
#[derive(Default, Debug)]
pub struct Traffic {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Traffic {
    /// (sent, received) so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.received.load(Ordering::Relaxed))
    }
}

/// An [`HttpConnector`] whose connections add what they carry to a
/// [`Traffic`].
#[derive(Clone)]
pub struct CountingConnector {
    inner: HttpConnector,
    traffic: Arc<Traffic>,
}

impl CountingConnector {
    pub fn new(traffic: Arc<Traffic>) -> Self {
        let mut inner = HttpConnector::new();
        inner.set_nodelay(true);
        CountingConnector { inner, traffic }
    }
}

impl tower_service::Service<http::Uri> for CountingConnector {
    type Response = TokioIo<Counted>;
    type Error = <HttpConnector as tower_service::Service<http::Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let (connecting, traffic) = (self.inner.call(uri), self.traffic.clone());
        Box::pin(async move {
            let stream = connecting.await?.into_inner();
            Ok(TokioIo::new(Counted { stream, traffic }))
        })
    }
}

/// A TCP connection that counts its bytes into a [`Traffic`].
pub struct Counted {
    stream: TcpStream,
    traffic: Arc<Traffic>,
}

impl Connection for Counted {
    fn connected(&self) -> Connected {
        self.stream.connected()
    }
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.traffic.received.fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        read
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            this.traffic.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// CPU time (user + system) the server processes have used so far.
pub fn cpu_time(pids: &[u32]) -> Result<Duration> {
    // SAFETY: sysconf only reads a constant of the system.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    pids.iter().try_fold(Duration::ZERO, |total, pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("--server-pid {pid}: no such process"))?;
        let ticks = cpu_ticks(&stat).with_context(|| format!("/proc/{pid}/stat is not as expected"))?;
        Ok(total + Duration::from_secs_f64(ticks as f64 / ticks_per_second))
    })
}

/// utime + stime, in clock ticks, from a `/proc/PID/stat` line. The
/// command name (field 2) may hold spaces and parentheses, so the fields
/// are counted from its closing parenthesis: utime and stime are fields 14
/// and 15, the 12th and 13th after it.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The server's use over the measured window.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ServerUse {
    /// CPU time over wall time: 1.0 is one core busy all the time.
    pub cores_busy: f64,
    /// CPU time per measured request, in microseconds.
    pub cpu_us_per_request: f64,
}

/// The bytes of the measured window, per second.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Bandwidth {
    /// From the load tool to the server(s): requests.
    pub sent_bytes_per_second: f64,
    /// From the server(s) to the load tool: answers.
    pub received_bytes_per_second: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        // A command name with a space and a parenthesis, as a process may
        // give itself.
        let stat = "4242 (new (feed) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_ticks(stat), Some(1234 + 567));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn cpu_time_grows_as_a_process_works() {
        let me = [std::process::id()];
        let before = cpu_time(&me).unwrap();
        let started = std::time::Instant::now();
        // Bounded: the clock ticks 100 times a second; 5 s is plenty.
        while cpu_time(&me).unwrap() == before && started.elapsed() < Duration::from_secs(5) {
            std::hint::black_box((0..10_000u64).sum::<u64>());
        }
        assert!(cpu_time(&me).unwrap() > before);
        assert!(cpu_time(&[u32::MAX]).is_err());
    }
}
