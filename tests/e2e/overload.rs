//! Overload, oversized bodies and slow clients: always a clear answer,
//! bounded resources. Each test talks raw TCP where an HTTP library would
//! hide what a plain client sees.

use crate::common;

use common::Host;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn address(host: &Host) -> SocketAddr {
    host.base.trim_start_matches("http://").parse().unwrap()
}

/// Past `--max-in-flight`, a request gets an immediate 503 JSON with
/// `Retry-After`, not a place in a queue; once load falls, requests pass.
#[test]
fn past_the_in_flight_bound_a_request_gets_an_immediate_503_with_retry_after() {
    let host = Host::builder().flags(&["--max-in-flight", "2"]).start();
    std::thread::scope(|scope| {
        let slow: Vec<_> = (0..2).map(|_| scope.spawn(|| host.send("GET", "/faults/sleep", None).status)).collect();
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let refused = host.send("GET", "/faults/ok", None);
        assert!(started.elapsed() < Duration::from_millis(500), "the refusal waited: {:?}", started.elapsed());
        assert_eq!(refused.status, 503, "{refused:?}");
        assert_eq!(refused.headers["retry-after"], "1");
        assert!(refused.json["error"].is_string(), "{refused:?}");
        assert_eq!(host.send("GET", "/healthz", None).status, 200, "health checks are not counted");
        for request in slow {
            assert_eq!(request.join().unwrap(), 200, "the requests in flight were answered");
        }
    });
    assert_eq!(host.send("GET", "/faults/ok", None).status, 200);
}

/// The host's peak resident memory so far, in KiB (`VmHWM`).
fn peak_memory_kib(host: &Host) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", host.pid())).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Far more concurrent clients than the bound: every answer is a 200 or a
/// 503, the host's memory stays bounded, and afterwards it serves normally.
#[test]
fn a_storm_far_past_the_bound_gets_200s_and_503s_in_bounded_memory() {
    let host = Host::builder().flags(&["--max-in-flight", "8"]).start();
    let id = host.participant("p");
    let before = peak_memory_kib(&host);
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    std::thread::scope(|scope| {
        for client in 0..200 {
            let (host, statuses) = (&host, &statuses);
            scope.spawn(move || {
                // Bounded: 20 requests each, reads and slow requests mixed.
                for n in 0..20 {
                    let path = match (client + n) % 10 {
                        0 => "/faults/sleep".to_string(),
                        _ => format!("/participant/{id}"),
                    };
                    let status = host.try_send("GET", &path, "").unwrap_or(0);
                    *statuses.lock().unwrap().entry(status).or_default() += 1;
                }
            });
        }
    });
    let statuses = statuses.into_inner().unwrap();
    let peak = peak_memory_kib(&host);
    eprintln!(
        "storm of 200 clients x 20 requests, --max-in-flight 8: statuses {statuses:?}, peak RSS {before} -> {peak} KiB"
    );
    assert!(statuses.keys().all(|status| [200, 503].contains(status)), "{statuses:?}");
    assert!(statuses.get(&503).is_some_and(|n| *n > 0), "the bound never refused: {statuses:?}");
    // Measured: 8.4 MiB of growth (30,220 -> 38,824 KiB, 2 cores shared);
    // a bound four times that catches a per-connection leak or queue.
    assert!(peak < before + 32 * 1024, "peak memory grew from {before} to {peak} KiB");
    let answer = host.get(&format!("/participant/{id}"));
    assert_eq!(answer.status, 200, "after the storm: {answer:?}");
}

/// A client that writes its whole oversized body before reading (as
/// Python's urllib does) gets the 413 JSON, not a broken pipe.
#[test]
fn an_oversized_body_sent_whole_before_reading_gets_its_413() {
    let host = Host::start();
    // Larger than the socket buffers of both ends, so the server must read it.
    let body = vec![b'x'; 32 << 20];
    for declared in [true, false] {
        let mut stream = TcpStream::connect(address(&host)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = match declared {
            true => format!("POST /participant HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()),
            false => "POST /participant HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
        };
        stream.write_all(head.as_bytes()).unwrap();
        let sent = match declared {
            true => stream.write_all(&body),
            false => stream
                .write_all(format!("{:x}\r\n", body.len()).as_bytes())
                .and_then(|()| stream.write_all(&body))
                .and_then(|()| stream.write_all(b"\r\n0\r\n\r\n")),
        };
        sent.unwrap_or_else(|e| panic!("writing the body (declared: {declared}): {e}"));
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 413"), "declared: {declared}: {answer}");
        assert!(answer.contains(r#"{"error":"#), "{answer}");
    }
}

/// Many connections trickling their headers byte by byte (slowloris) are
/// closed at the header timeout, and ordinary requests are answered
/// promptly all the while.
#[test]
fn slow_headers_are_cut_off_and_others_are_served_meanwhile() {
    let host = Host::builder().flags(&["--header-timeout", "1"]).start();
    let id = host.participant("steady");
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let stream = TcpStream::connect(address(&host)).unwrap();
            stream.set_nonblocking(true).unwrap();
            stream
        })
        .collect();
    let request = b"GET /participant/1 HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let started = Instant::now();
    let mut closed = vec![false; slow.len()];
    let mut worst = Duration::ZERO;
    // Bounded: at most 6 s of trickling, one byte per connection per round.
    for round in 0..30 {
        for (stream, closed) in slow.iter().zip(closed.iter_mut()).filter(|(_, closed)| !**closed) {
            let byte = request.get(round).copied().unwrap_or(b'a');
            let mut stream = stream;
            // Nothing to read (WouldBlock): still open. End of stream, an
            // answer or a reset: the server has let go of it.
            let gone = !matches!(stream.read(&mut [0; 64]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            if gone || stream.write_all(&[byte]).is_err() {
                *closed = true;
            }
        }
        let asked = Instant::now();
        assert_eq!(host.get(&format!("/participant/{id}")).status, 200);
        worst = worst.max(asked.elapsed());
        assert!(asked.elapsed() < Duration::from_secs(2), "a request waited {:?}", asked.elapsed());
        if closed.iter().all(|c| *c) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let open = closed.iter().filter(|c| !**c).count();
    eprintln!(
        "slowloris: 200 connections closed after {:?}; ordinary requests all 200, the slowest {worst:?}",
        started.elapsed()
    );
    assert_eq!(open, 0, "{open} trickling connections still open after {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the timeout");
}

/// Sends one request on `stream` and reads its whole answer (head and a
/// `Content-Length` body, as the host's own endpoints send), leaving the
/// connection open.
fn exchange(stream: &mut TcpStream, path: &str) -> String {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let mut byte = [0; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        answer.push(byte[0]);
    }
    let head = String::from_utf8(answer).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|n| n.trim().parse().unwrap()))
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    head + std::str::from_utf8(&body).unwrap()
}

/// A keep-alive connection that sends nothing after an answer is closed at
/// the idle timeout, not at the (here much longer) header timeout.
#[test]
fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let host = Host::builder().flags(&["--idle-timeout", "1", "--header-timeout", "30"]).start();
    let mut stream = TcpStream::connect(address(&host)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(exchange(&mut stream, "/healthz").starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    let mut rest = Vec::new();
    let closed = stream.read_to_end(&mut rest);
    let idled = answered.elapsed();
    assert!(closed.is_ok(), "the connection was not closed within 10 s: {closed:?}");
    assert!(rest.is_empty(), "nothing is sent on an idle connection");
    assert!(
        idled >= Duration::from_millis(900) && idled < Duration::from_secs(5),
        "closed after {idled:?}, not at the 1 s idle timeout"
    );
}

/// Time a keep-alive connection spends idle is not charged to the next
/// request's header timeout: after idling past the header timeout (but
/// within the idle timeout), the next request is answered.
#[test]
fn idling_between_requests_does_not_count_against_the_header_timeout() {
    let host = Host::builder().flags(&["--header-timeout", "1", "--idle-timeout", "30"]).start();
    let mut stream = TcpStream::connect(address(&host)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(exchange(&mut stream, "/healthz").starts_with("HTTP/1.1 200"));
    std::thread::sleep(Duration::from_secs(2));
    assert!(exchange(&mut stream, "/healthz").starts_with("HTTP/1.1 200"), "the idle connection was closed");
}
