//! Overload, oversized bodies and slow clients: always a clear answer,
//! bounded resources. Each test talks raw TCP where an HTTP library would
//! hide what a plain client sees.

mod common;

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
    let host = Host::start_with(&["--max-in-flight", "2"]);
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
    let host = Host::start_with(&["--header-timeout", "1"]);
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
        assert!(asked.elapsed() < Duration::from_secs(2), "a request waited {:?}", asked.elapsed());
        if closed.iter().all(|c| *c) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let open = closed.iter().filter(|c| !**c).count();
    assert_eq!(open, 0, "{open} trickling connections still open after {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the timeout");
}
