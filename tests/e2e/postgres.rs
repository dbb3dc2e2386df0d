//! Several stateless hosts on one PostgreSQL database, and what a shared
//! database adds: the database going away and coming back, hosts starting at
//! once, and search answers equal to the embedded SQLite backend's. All on a
//! real server started by `common::postgres`.

use crate::common;

use common::postgres::{shared, Postgres};
use common::Host;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn host_on(url: &str) -> Host {
    Host::builder().flags(&["--database", url]).start()
}

fn ids(answer: &Value) -> Vec<String> {
    answer.as_array().unwrap().iter().map(|link| link.as_str().unwrap().to_string()).collect()
}

#[test]
fn a_write_answered_by_one_host_is_read_at_once_through_the_other() {
    let url = shared().new_database();
    let (a, b) = (host_on(&url), host_on(&url));
    let joe = a.participant("joe");
    assert_eq!(b.get(&format!("/participant/{joe}")).json["name"], "joe");
    let ann = b.participant("ann");
    assert_eq!(a.befriend(joe, ann).status, 200);
    assert_eq!(b.get(&format!("/participant/{ann}/friends")).json.as_array().unwrap().len(), 1);
    for n in 0..20 {
        let story = format!("story number{n}");
        assert_eq!(a.publish(joe, "s", &story).status, 200);
        let feed = b.get(&format!("/participant/{ann}/inbound?limit=1")).json;
        assert_eq!(feed[0]["story"], story.as_str(), "post {n} not yet visible through the other host");
        assert_eq!(ids(&b.get(&format!("/outbound?keywords=number{n}")).json), [format!("/participant/{joe}")]);
    }
}

#[test]
fn concurrent_posts_through_two_hosts_all_fan_out() {
    let url = shared().new_database();
    let hosts = [host_on(&url), host_on(&url)];
    let author = hosts[0].participant("author");
    let friends: Vec<i64> = (0..4).map(|i| hosts[1].participant(&format!("f{i}"))).collect();
    for (i, friend) in friends.iter().enumerate() {
        assert_eq!(hosts[i % 2].befriend(author, *friend).status, 200);
    }
    let (writers, posts_each) = (8, 15);
    std::thread::scope(|scope| {
        for writer in 0..writers {
            let host = &hosts[writer % 2];
            scope.spawn(move || {
                for n in 0..posts_each {
                    let answer = host.publish(author, "s", &format!("post {n} of writer {writer}"));
                    assert_eq!(answer.status, 200, "{answer:?}");
                }
            });
        }
    });
    let total = writers * posts_each;
    for host in &hosts {
        let outbound = host.get(&format!("/participant/{author}/outbound?limit=1000")).json;
        assert_eq!(outbound.as_array().unwrap().len(), total);
        for friend in &friends {
            let inbound = host.get(&format!("/participant/{friend}/inbound?limit=1000")).json;
            assert_eq!(inbound.as_array().unwrap().len(), total, "friend {friend}");
        }
    }
}

#[test]
fn a_host_killed_mid_storm_loses_nothing_acknowledged_and_the_other_keeps_serving() {
    let url = shared().new_database();
    let (doomed, survivor) = (host_on(&url), host_on(&url));
    let author = survivor.participant("author");
    let friend = survivor.participant("friend");
    survivor.befriend(author, friend);
    let acknowledged = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for writer in 0..8 {
            let (doomed, acknowledged) = (&doomed, &acknowledged);
            scope.spawn(move || {
                for n in 0..200 {
                    let story = format!("w{writer}n{n}");
                    let body = json!({"subject": "s", "story": story}).to_string();
                    match doomed.try_send("POST", &format!("/participant/{author}/outbound"), &body) {
                        Some(200) => acknowledged.lock().unwrap().push(story),
                        Some(other) => panic!("{other} before the crash"),
                        None => return, // the host is gone
                    }
                }
            });
        }
        // Kill it once a good share of the storm has been acknowledged.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acknowledged.lock().unwrap().len() < 200 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        unsafe { libc::kill(doomed.pid() as i32, libc::SIGKILL) };
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() >= 200, "only {} posts acknowledged before the kill", acknowledged.len());
    let stored = survivor.get(&format!("/participant/{friend}/inbound?limit=1000")).json;
    let stored: Vec<&str> = stored.as_array().unwrap().iter().map(|item| item["story"].as_str().unwrap()).collect();
    for story in &acknowledged {
        assert!(stored.contains(&story.as_str()), "acknowledged {story} is lost");
    }
    assert_eq!(survivor.publish(author, "s", "after the crash").status, 200);
}

#[test]
fn the_database_going_away_gives_503_and_its_return_needs_no_restart() {
    let server = Postgres::start();
    let url = server.new_database();
    let host = host_on(&url);
    let id = host.participant("joe");
    assert_eq!(host.send("GET", "/readyz", None).status, 200);

    server.down();
    let during = host.send("GET", &format!("/participant/{id}"), None);
    assert_eq!(during.status, 503, "{during:?}");
    assert!(during.json["error"].is_string(), "{during:?}");
    let write = host.send("POST", "/participant", Some(r#"{"name": "lost"}"#));
    assert_eq!(write.status, 503, "{write:?}");
    assert_eq!(host.send("GET", "/readyz", None).status, 503);
    assert_eq!(host.send("GET", "/healthz", None).status, 200, "the process itself is alive");

    server.up();
    let deadline = Instant::now() + Duration::from_secs(20);
    while host.send("GET", "/readyz", None).status != 200 {
        assert!(Instant::now() < deadline, "not ready again 20 s after the database came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(host.get(&format!("/participant/{id}")).json["name"], "joe");
    let back = host.participant("back");
    assert_eq!(host.get(&format!("/participant/{back}")).json["name"], "back");
    let database = url.rsplit('/').next().unwrap();
    let lost = server.psql(database, "SELECT count(*) FROM participant WHERE name = 'lost'");
    assert_eq!(lost.trim(), "0", "the write answered 503 stored nothing");
}

#[test]
fn hosts_starting_at_once_on_a_new_database_all_serve() {
    let url = shared().new_database();
    let hosts: Vec<Host> = std::thread::scope(|scope| {
        let started: Vec<_> = (0..4).map(|_| scope.spawn(|| host_on(&url))).collect();
        started.into_iter().map(|host| host.join().unwrap()).collect()
    });
    for (i, host) in hosts.iter().enumerate() {
        assert_eq!(host.participant(&format!("h{i}")), i as i64 + 1);
    }
    // One host migrated; the others waited on the lock and found it done.
    let database = url.rsplit('/').next().unwrap();
    assert_eq!(shared().psql(database, "SELECT count(*) FROM newsfeed_schema").trim(), "1");
}

/// The longest word indexed, and one byte more (no word on any backend).
static LONGEST: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| "l".repeat(newsfeed_sql::search::MAX_WORD_BYTES));
static TOO_LONG: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| "t".repeat(newsfeed_sql::search::MAX_WORD_BYTES + 1));
static LONG_WORDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!("{} {}", *LONGEST, *TOO_LONG));

/// The same posts on both backends, and through the Spin PostgreSQL
/// adapter: every search gives the same posters in the same order, whatever
/// the keywords hold (Unicode's other numbers and overlong words included).
#[test]
fn search_answers_match_the_embedded_backend() {
    let (sqlite, postgres) = (Host::start(), host_on(&shared().new_database()));
    let adapter = common::postgres::spin_host(&shared().new_database(), &format!("127.0.0.1:{}", shared().port));
    let stories = [
        ("Fox news", "The quick brown fox jumps over the lazy dog."),
        ("über", "Straße, Über and ÜBER: case folding beyond ASCII; e-mail a@b.example"),
        ("numbers", "3rd place, 2026-11-27, v1.2.3 and x86_64"),
        ("quotes", "she said \"don't\" & left | (maybe) !never :* fox's"),
        ("tabs", "tab\tseparated\nlines and émigré café naïve"),
        ("repeat", "fox fox fox dog"),
        // Unicode "other numbers" are word characters in Rust's rule, and
        // PostgreSQL's parser would drop them: each must match its own post.
        ("mc² hammer", "E=mc², ½ cup, ① first, x²y and H₂O"),
        ("mc", "mc hammer cup first"),
        ("scripts", "ǅemal İstanbul ﬁle ß Σίσυφος ٣ ३ 𝟘 日本語 한국어 a\u{0301}"),
        ("long", &*LONG_WORDS),
    ];
    for host in [&sqlite, &postgres, &adapter] {
        for (n, (subject, story)) in stories.iter().enumerate() {
            let id = host.participant(&format!("p{n}"));
            assert_eq!(host.publish(id, subject, story).status, 200);
        }
    }
    let searches = [
        "fox",
        "FOX dog",
        "über",
        "strasse",
        "straße",
        "email",
        "mail",
        "a",
        "example",
        "3rd",
        "2026",
        "v1",
        "x86",
        "x86_64",
        "don't",
        "don",
        "t",
        "maybe",
        "never",
        "café",
        "cafe",
        "naïve",
        "lines",
        "fox's",
        "s",
        "quick-brown",
        "tab separated",
        "%00fox",
        "fox%26dog",
        "ÜBER",
        "mc²",
        "mc",
        "½",
        "①",
        "x²y",
        "x",
        "₂",
        "h₂o",
        "h",
        "cup",
        "ǆemal",
        "istanbul",
        "stanbul",
        "ﬁle",
        "file",
        "ss",
        "σίσυφος",
        "ΣΊΣΥΦΟΣ",
        "٣",
        "३",
        "𝟘",
        "日本語",
        "한국어",
        "a",
        LONGEST.as_str(),
        TOO_LONG.as_str(),
    ];
    for keywords in searches {
        let path = format!("/outbound?keywords={keywords}");
        let want = sqlite.get(&path);
        for got in [postgres.get(&path), adapter.get(&path)] {
            assert_eq!((got.status, &got.json), (want.status, &want.json), "{keywords}");
        }
    }
}

/// `newsfeed-load` with `--base-url` twice spreads its users over both
/// hosts, as a load balancer in front of them would.
#[test]
fn the_load_tool_spreads_its_users_over_two_hosts_on_one_database() {
    let url = shared().new_database();
    let flags = ["--database", url.as_str(), "--metrics-listen", "127.0.0.1:0"];
    let (a, b) = (Host::builder().flags(&flags).start(), Host::builder().flags(&flags).start());
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("run.json");
    let status = std::process::Command::new(common::load_generator())
        .args(["run", "--base-url", &a.base, "--base-url", &b.base, "--users", "8", "--searchers", "0.25"])
        .args(["--readers", "0.25", "--duration", "2", "--warmup", "0.5", "--quiet", "--out"])
        .arg(&json)
        .status()
        .unwrap();
    assert!(status.success());
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(result["base_url"], format!("{},{}", a.base, b.base));
    for op in ["create_participant", "befriend", "create_post", "search", "get_inbound", "get_friends"] {
        assert_eq!(result["operations"][op]["errors"], 0, "{op}: {result}");
    }
    for host in [&a, &b] {
        let posts = common::metric(&host.scrape(), r#"newsfeed_requests_total{function="outbound",class="2xx"}"#);
        assert!(posts > 0.0, "{} served no posts", host.base);
    }
}

#[test]
fn a_database_whose_schema_is_newer_than_the_code_is_refused_at_start() {
    let url = shared().new_database();
    drop(host_on(&url));
    let database = url.rsplit('/').next().unwrap();
    shared().psql(database, "INSERT INTO newsfeed_schema (version) VALUES (1000)");
    let out = Host::builder().flags(&["--database", &url]).output();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("newer than this newsfeed"), "{said}");
}

#[test]
fn the_database_url_may_come_from_the_environment() {
    let url = shared().new_database();
    let host = Host::builder().env("NEWSFEED_DATABASE_URL", &url).start();
    host.participant("from the environment");
    let database = url.rsplit('/').next().unwrap();
    assert_eq!(shared().psql(database, "SELECT name FROM participant").trim(), "from the environment");
}

/// The URL of an answer's `Link: <...>; rel="next"`, if it has one.
fn next_page(answer: &common::Answer) -> Option<String> {
    let link = answer.headers.get("link")?.to_str().unwrap();
    Some(link.strip_prefix('<').and_then(|l| l.strip_suffix(r#">; rel="next""#)).unwrap().to_string())
}

#[test]
fn a_cursor_given_out_by_one_host_pages_on_every_other_on_the_database_and_nowhere_else() {
    let server = shared();
    let url = server.new_database();
    let spin = common::postgres::spin_host(&url, &format!("127.0.0.1:{}", server.port));
    let hosts = [host_on(&url), host_on(&url), spin];
    let (joe, ann) = (hosts[0].participant("joe"), hosts[1].participant("ann"));
    hosts[2].befriend(joe, ann);
    for n in 0..30 {
        assert_eq!(hosts[n % 3].publish(joe, "s", &n.to_string()).status, 200);
    }
    for path in [format!("/participant/{ann}/inbound"), format!("/participant/{joe}/outbound")] {
        let whole = hosts[0].get(&format!("{path}?limit=1000")).json;
        // Each page from the next host, by the link the one before gave.
        let (mut read, mut url, mut turn) = (Vec::new(), Some(format!("{path}?limit=7")), 0);
        while let Some(here) = url {
            let answers: Vec<_> = hosts.iter().map(|host| host.get(&here)).collect();
            for answer in &answers {
                assert_eq!((answer.status, &answer.json), (200, &answers[0].json), "{here}: every host alike");
                assert_eq!(next_page(answer), next_page(&answers[0]), "{here}: the same next link");
            }
            read.extend(answers[turn % 3].json.as_array().unwrap().clone());
            url = next_page(&answers[turn % 3]);
            turn += 1;
        }
        assert_eq!(read, whole.as_array().unwrap()[..], "{path}");
    }
    // Another database holds another key: a cursor from this one means
    // nothing there, even for a participant and list of the same ids.
    let other = host_on(&server.new_database());
    let (joe2, ann2) = (other.participant("joe"), other.participant("ann"));
    assert_eq!((joe2, ann2), (joe, ann));
    other.befriend(joe, ann);
    for n in 0..10 {
        other.publish(joe, "s", &n.to_string());
    }
    let link = next_page(&hosts[0].get(&format!("/participant/{ann}/inbound?limit=2"))).unwrap();
    assert_eq!(other.get(&link).status, 400, "a cursor of another database");
}
