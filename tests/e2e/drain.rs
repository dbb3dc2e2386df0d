//! Rolling restarts: on SIGTERM a host stops taking connections, answers
//! every request it has accepted (those waiting in the listen backlog
//! included), and exits 0. Clients here open one connection per request, so
//! that each request is either refused at connect (not accepted) or must get
//! its answer.

use crate::common;

use common::Host;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The connection was refused: the host no longer accepts.
    Refused,
    /// An answer with this status.
    Answered(u16),
    /// Connected, but no answer came: an accepted request was dropped.
    Dropped(String),
}

/// One request on its own connection.
fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> Outcome {
    let mut stream = match TcpStream::connect(address) {
        Ok(stream) => stream,
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(error) => return Outcome::Dropped(format!("connect: {error}")),
    };
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    if let Err(error) = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())) {
        return Outcome::Dropped(format!("write: {error}"));
    }
    let mut answer = String::new();
    if let Err(error) = stream.read_to_string(&mut answer) {
        return Outcome::Dropped(format!("read: {error}"));
    }
    match answer.split(' ').nth(1).and_then(|status| status.parse().ok()) {
        Some(status) => Outcome::Answered(status),
        None => Outcome::Dropped(format!("no status line in {answer:?}")),
    }
}

#[test]
fn sigterm_answers_every_accepted_request_then_exits_0() {
    let host = Host::start();
    let address: SocketAddr = host.base.trim_start_matches("http://").parse().unwrap();
    let writers = 8;
    let authors: Vec<i64> = (0..writers).map(|w| host.participant(&format!("w{w}"))).collect();
    let outcomes = Mutex::new(Vec::new());
    let refused = AtomicBool::new(false);
    let (status, state, posted) = std::thread::scope(|scope| {
        // A slow request in flight when the signal comes.
        let slow = scope.spawn(|| request(address, "GET", "/faults/sleep", ""));
        let posting: Vec<_> = authors
            .iter()
            .map(|&author| {
                let (outcomes, refused) = (&outcomes, &refused);
                scope.spawn(move || {
                    let mut posted = Vec::new();
                    // Bounded: until the host refuses, at most 900 posts (so
                    // that the author's list, up to 1000, holds them all).
                    for n in 0..900 {
                        let body = format!(r#"{{"subject": "s", "story": "n{n}"}}"#);
                        let outcome = request(address, "POST", &format!("/participant/{author}/outbound"), &body);
                        if outcome == Outcome::Answered(200) {
                            posted.push(format!("n{n}"));
                        }
                        let stop = outcome == Outcome::Refused;
                        outcomes.lock().unwrap().push(outcome);
                        if stop {
                            refused.store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                    posted
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let (status, state) = host.terminate();
        assert_eq!(slow.join().unwrap(), Outcome::Answered(200), "the request in flight was not answered");
        let posted: Vec<Vec<String>> = posting.into_iter().map(|writer| writer.join().unwrap()).collect();
        (status, state, posted)
    });
    assert!(status.success(), "exit status {status:?}");
    assert!(refused.load(Ordering::Relaxed), "the writers never saw the host stop accepting");
    let outcomes = outcomes.into_inner().unwrap();
    let dropped: Vec<&Outcome> = outcomes.iter().filter(|o| matches!(o, Outcome::Dropped(_))).collect();
    assert!(dropped.is_empty(), "{} of {} requests dropped: {dropped:?}", dropped.len(), outcomes.len());
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Refused | Outcome::Answered(200))), "{outcomes:?}");

    // What was answered 200 is stored, and nothing else.
    let restarted = Host::builder().state_dir(state).start();
    for (author, posted) in authors.iter().zip(posted) {
        let outbound = restarted.get(&format!("/participant/{author}/outbound?limit=1000")).json;
        let mut stored: Vec<String> =
            outbound.as_array().unwrap().iter().map(|post| post["story"].as_str().unwrap().to_string()).collect();
        stored.reverse();
        assert_eq!(stored, posted, "author {author}");
    }
}
