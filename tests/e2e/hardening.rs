//! The promises that must hold at the edges, checked black-box against the
//! built binary: a stalled request body holds nothing for long, a hung
//! database is answered for truthfully and within the deadline, and one
//! request's memory stays bounded however large the list it reads.

use crate::common;

use common::postgres::Postgres;
use common::Host;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn address(host: &Host) -> SocketAddr {
    host.base.trim_start_matches("http://").parse().unwrap()
}

/// Clients that send a POST's head and then stall mid-body get a 408 JSON
/// at the body timeout, and their connections are closed; meanwhile, with
/// only two in-flight slots, ordinary requests are served, because a slot is
/// taken only once the body has arrived.
#[test]
fn stalled_bodies_are_answered_408_and_closed_while_others_are_served() {
    let host = Host::builder().flags(&["--max-in-flight", "2", "--body-timeout", "1"]).start();
    let id = host.participant("steady");
    let stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = TcpStream::connect(address(&host)).unwrap();
            stream.write_all(b"POST /participant HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"na").unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for n in 0..5 {
        let read = host.get(&format!("/participant/{id}"));
        assert_eq!(read.status, 200, "while bodies stall: {read:?}");
        let created = host.post("/participant", &format!(r#"{{"name": "p{n}"}}"#));
        assert_eq!(created.status, 200, "while bodies stall: {created:?}");
    }
    let since = Instant::now();
    for mut stream in stalled {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = String::new();
        // Ends only when the host closes the connection.
        stream.read_to_string(&mut answer).unwrap_or_else(|e| panic!("the stalled connection stayed open: {e}"));
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains(r#"{"error":"#), "{answer}");
    }
    assert!(since.elapsed() < Duration::from_secs(3), "closed late: {:?}", since.elapsed());
}

/// An answer sent before its request's body is read (a host endpoint that
/// takes no body, no token, an admin route that takes none) says `Connection: close`: a client
/// that reuses connections would otherwise send its next request into one
/// that the host is about to reset.
#[test]
fn answers_sent_before_the_body_is_read_close_the_connection() {
    const TOKEN: &str = "unread-body-admin-token-0123456789";
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let admin: SocketAddr = host.admin.as_deref().unwrap().trim_start_matches("http://").parse().unwrap();
    let authorized = format!("POST /admin/elsewhere HTTP/1.1\r\nAuthorization: Bearer {TOKEN}");
    for (to, head) in [
        (address(&host), "POST /healthz HTTP/1.1"),
        (address(&host), "POST /readyz HTTP/1.1"),
        (admin, "PUT /admin/functions/participant HTTP/1.1"),
        (admin, authorized.as_str()),
    ] {
        let mut stream = TcpStream::connect(to).unwrap();
        stream.write_all(format!("{head}\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{{").as_bytes()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap_or_else(|e| panic!("{head}: the connection stayed open: {e}"));
        assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{head}: {answer}");
        assert!(answer.contains(r#"{"error":"#), "{head}: {answer}");
    }
}

/// GET `path` with a client that gives up after `patience`: the status, or
/// `None` when no answer came in time.
fn status_within(host: &Host, path: &str, patience: Duration) -> Option<u16> {
    let client = reqwest::blocking::Client::builder().timeout(patience).build().unwrap();
    client.get(format!("{}{path}", host.base)).send().ok().map(|answer| answer.status().as_u16())
}

/// Polls `/readyz` until it answers 200, for at most `patience`.
fn await_ready(host: &Host, patience: Duration) {
    let deadline = Instant::now() + patience;
    while status_within(host, "/readyz", Duration::from_secs(5)) != Some(200) {
        assert!(Instant::now() < deadline, "not ready {patience:?} after the database came back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every process of the database stopped (SIGSTOP: it accepts connections
/// and answers nothing): `/readyz` says not ready within 5 s, API requests
/// get a 503 JSON within the request deadline (never the deadline's 500),
/// and once the processes resume (SIGCONT) the host serves again, without
/// a restart.
#[test]
fn a_hung_database_gives_503s_within_the_deadline_and_the_host_recovers() {
    let server = Postgres::start();
    let url = server.new_database();
    let deadline = Duration::from_secs(4);
    let host = Host::builder().flags(&["--database", &url, "--request-timeout", "4"]).start();
    let id = host.participant("joe");
    assert_eq!(host.send("GET", "/readyz", None).status, 200);

    server.freeze();
    let thaw = Thaw(&server);
    let asked = Instant::now();
    let ready = status_within(&host, "/readyz", Duration::from_secs(5));
    assert!(ready.is_some_and(|status| status != 200), "/readyz with the database stopped: {ready:?}");
    assert!(asked.elapsed() < Duration::from_secs(5), "/readyz took {:?}", asked.elapsed());
    let requests =
        [("GET", format!("/participant/{id}"), None), ("POST", "/participant".into(), Some(r#"{"name": "x"}"#))];
    for (method, path, body) in requests {
        let asked = Instant::now();
        let answer = host.send(method, &path, body);
        assert_eq!(answer.status, 503, "{method} {path} with the database stopped: {answer:?}");
        assert!(answer.json["error"].is_string(), "{answer:?}");
        assert!(asked.elapsed() < deadline, "{method} {path} answered after {:?}", asked.elapsed());
    }
    assert_eq!(host.send("GET", "/healthz", None).status, 200, "the process itself is alive");

    drop(thaw);
    await_ready(&host, Duration::from_secs(20));
    assert_eq!(host.get(&format!("/participant/{id}")).json["name"], "joe");
    let back = host.participant("back");
    assert_eq!(host.get(&format!("/participant/{back}")).json["name"], "back");
}

/// Resumes a frozen server even when the test fails half-way.
struct Thaw<'a>(&'a Postgres);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        self.0.thaw();
    }
}

/// In a rolling deploy the database may come up after the host: a host
/// whose database is down at start serves (503, not ready) instead of
/// exiting, and brings the schema up to date once the database answers.
#[test]
fn a_host_started_before_its_database_serves_once_the_database_is_up() {
    let server = Postgres::start();
    let url = server.new_database();
    server.down();
    let host = Host::builder().flags(&["--database", &url]).start();
    assert_eq!(host.send("GET", "/readyz", None).status, 503);
    let early = host.send("POST", "/participant", Some(r#"{"name": "early"}"#));
    assert_eq!(early.status, 503, "{early:?}");
    assert!(early.json["error"].is_string(), "{early:?}");

    server.up();
    await_ready(&host, Duration::from_secs(20));
    let id = host.participant("joe");
    assert_eq!(host.get(&format!("/participant/{id}")).json["name"], "joe");
}

/// The host's resident memory now and at its peak, in KiB (`VmRSS`, `VmHWM`).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|line| line.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A friend's feed of 300 posts of about 900 KB each, read with
/// `limit=300` four times at once: the host's peak memory grows by at most
/// 256 MiB, and every answer is a list (cut short by the byte budget, as
/// openapi.yaml says) or a JSON error.
fn a_feed_of_huge_posts_is_read_in_bounded_memory(flags: &[&str]) {
    const POSTS: usize = 300;
    const GROWTH_KIB: u64 = 256 * 1024;
    let host = Host::builder().flags(flags).start();
    let (author, reader) = (host.participant("author"), host.participant("reader"));
    assert_eq!(host.befriend(author, reader).status, 200);
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let host = &host;
            scope.spawn(move || {
                for n in (writer..POSTS).step_by(4) {
                    // About 900 KB of a few distinct words.
                    let story = format!("post{n} {}", "heavy words repeated ".repeat(900_000 / 21));
                    let answer = host.publish(author, &format!("huge {n}"), &story);
                    assert_eq!(answer.status, 200, "post {n}: {answer:?}");
                }
            });
        }
    });
    // Start the peak afresh (`clear_refs` 5 resets VmHWM): what follows is
    // the reads' own growth.
    std::fs::write(format!("/proc/{}/clear_refs", host.pid()), "5").unwrap();
    let (before, _) = memory_kib(host.pid());
    let answers: Vec<common::Answer> = std::thread::scope(|scope| {
        let reads: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| host.send("GET", &format!("/participant/{reader}/inbound?limit=300"), None)))
            .collect();
        reads.into_iter().map(|read| read.join().unwrap()).collect()
    });
    let (_, peak) = memory_kib(host.pid());
    let statuses: Vec<u16> = answers.iter().map(|answer| answer.status).collect();
    eprintln!("{flags:?}: 4 reads of {POSTS} x 900 KB: RSS {before} KiB, peak {peak} KiB, statuses {statuses:?}");
    for answer in &answers {
        match answer.json.as_array() {
            Some(items) => {
                assert_eq!(answer.status, 200);
                let text: usize = items
                    .iter()
                    .map(|item| item["subject"].as_str().unwrap().len() + item["story"].as_str().unwrap().len())
                    .sum();
                assert!(!items.is_empty() && items.len() < POSTS, "{} items", items.len());
                // Cut short by the byte budget, which the client can tell.
                assert!(text >= 4 << 20, "a short list of {text} bytes would be complete");
            }
            None => assert!(answer.json["error"].is_string(), "{answer:?}"),
        }
    }
    assert!(peak <= before + GROWTH_KIB, "peak memory grew from {before} to {peak} KiB");
}

#[test]
fn a_feed_of_huge_posts_is_read_in_bounded_memory_in_wasm() {
    a_feed_of_huge_posts_is_read_in_bounded_memory(&[]);
}

#[test]
fn a_feed_of_huge_posts_is_read_in_bounded_memory_natively() {
    a_feed_of_huge_posts_is_read_in_bounded_memory(&["--native"]);
}

/// Under `--as-spin` with `spin-postgres.toml`, readiness asks the database
/// the adapters are configured with: ready while it answers, not ready while
/// it is down, and not ready when its address is not one the components may
/// reach (they could not either).
#[test]
fn readiness_as_spin_on_postgres_tells_the_truth() {
    let server = Postgres::start();
    let url = server.new_database();
    let db_host = format!("127.0.0.1:{}", server.port);
    let host = common::postgres::spin_host(&url, &db_host);
    assert_eq!(status_within(&host, "/readyz", Duration::from_secs(5)), Some(200));

    server.down();
    let asked = Instant::now();
    assert_eq!(status_within(&host, "/readyz", Duration::from_secs(5)), Some(503), "the database is down");
    assert!(asked.elapsed() < Duration::from_secs(5));
    server.up();
    await_ready(&host, Duration::from_secs(20));

    server.freeze();
    let thaw = Thaw(&server);
    let asked = Instant::now();
    assert_eq!(status_within(&host, "/readyz", Duration::from_secs(5)), Some(503), "the database is stopped");
    assert!(asked.elapsed() < Duration::from_secs(5));
    drop(thaw);
    await_ready(&host, Duration::from_secs(20));

    let elsewhere = common::postgres::spin_host(&url, "127.0.0.1:1");
    let answer = elsewhere.send("GET", "/readyz", None);
    assert_eq!(answer.status, 503, "the address is not permitted: {answer:?}");
    assert!(answer.json["error"].is_string(), "{answer:?}");
}

/// Under `--as-spin` with `spin.toml`, readiness reads the database file
/// that Spin's SQLite interface serves.
#[test]
fn readiness_as_spin_on_sqlite_reads_the_database_file() {
    let host = Host::builder().flags(&["--as-spin"]).start();
    assert_eq!(host.send("GET", "/readyz", None).status, 200);
    host.participant("spin");
    assert_eq!(host.send("GET", "/readyz", None).status, 200);
    // No database there any more (a directory in its place): not ready.
    let file = host.state.path().join("state/newsfeed.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    std::fs::create_dir(&file).unwrap();
    let answer = host.send("GET", "/readyz", None);
    assert_eq!(answer.status, 503, "{answer:?}");
}
