//! Group commit in the embedded backend: many writes share one commit, yet
//! each gets its own answer, none is acknowledged before it is durable, and
//! a failed commit fails exactly its own writes.

use crate::common;

use common::{metric, Host};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a writer thread did, to be checked afterwards.
#[derive(Default)]
struct Outcomes {
    /// (author, marker word) of each post answered 200.
    stored: Vec<(i64, String)>,
    /// Marker words of writes that were refused.
    refused: Vec<String>,
}

fn posters(host: &Host, word: &str) -> Value {
    host.get(&format!("/outbound?keywords={word}&limit=100")).json
}

fn link(id: i64) -> String {
    format!("/participant/{id}")
}

#[test]
fn good_and_bad_writes_in_shared_batches_each_get_their_own_answer() {
    let host = Host::builder().flags(&["--metrics-listen", "127.0.0.1:0"]).start();
    let ids: Vec<i64> = (0..8).map(|n| host.participant(&format!("p{n}"))).collect();
    // A ring: each participant has two friends.
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(host.befriend(*id, ids[(n + 1) % ids.len()]).status, 200);
    }
    let unknown = ids.iter().max().unwrap() + 1000;
    let outcomes = Mutex::new(Outcomes::default());
    std::thread::scope(|scope| {
        for writer in 0..64 {
            let (host, ids, outcomes) = (&host, &ids, &outcomes);
            scope.spawn(move || {
                for n in 0..6 {
                    let marker = format!("gcw{writer}n{n}");
                    let author = ids[(writer + n) % ids.len()];
                    let body = json!({ "subject": "batch", "story": format!("a story with {marker}") }).to_string();
                    let (answer, good) = match (writer + n) % 4 {
                        0 => (host.post(&format!("/participant/{unknown}/outbound"), &body), false),
                        1 => (host.befriend(author, author), false),
                        2 => (host.post(&format!("/participant/{author}/outbound"), "{not json"), false),
                        _ => (host.post(&format!("/participant/{author}/outbound"), &body), true),
                    };
                    let mut outcomes = outcomes.lock().unwrap();
                    if good {
                        assert_eq!(answer.status, 200, "{answer:?}");
                        outcomes.stored.push((author, marker));
                    } else {
                        assert!(matches!(answer.status, 400 | 404), "{answer:?}");
                        outcomes.refused.push(marker);
                    }
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    assert_eq!(outcomes.stored.len(), 64 * 6 / 4);

    // Every good post landed whole: outbound row, both inbound copies, search entry.
    for (author, marker) in &outcomes.stored {
        assert_eq!(posters(&host, marker), json!([link(*author)]), "{marker}");
        let n = ids.iter().position(|id| id == author).unwrap();
        let friends = [ids[(n + 1) % ids.len()], ids[(n + ids.len() - 1) % ids.len()]];
        for reader in friends {
            let feed = host.get(&format!("/participant/{reader}/inbound?limit=1000")).json;
            let holds = feed.as_array().unwrap().iter().any(|item| item["story"].as_str().unwrap().contains(marker));
            assert!(holds, "{marker} missing from {reader}'s feed");
        }
    }
    let outbound: usize = ids
        .iter()
        .map(|id| host.get(&format!("/participant/{id}/outbound?limit=1000")).json.as_array().unwrap().len())
        .sum();
    assert_eq!(outbound, outcomes.stored.len(), "exactly the good posts are stored");
    // Nothing of a refused write is stored.
    for marker in &outcomes.refused {
        assert_eq!(posters(&host, marker), json!([]), "{marker}");
    }
    let friends = host.get(&format!("/participant/{}/friends?limit=100", ids[0])).json;
    assert_eq!(friends.as_array().unwrap().len(), 2, "no self-friendship stored: {friends}");

    // The writes did share commits.
    let text = host.scrape();
    let commits = metric(&text, "newsfeed_write_batch_size_count");
    let writes = metric(&text, "newsfeed_write_batch_size_sum");
    assert!(commits < writes, "{commits} commits for {writes} writes: no batch held two");
}

#[test]
fn a_crash_during_a_write_storm_loses_no_acknowledged_post() {
    let host = Host::start();
    let (a, b) = (host.participant("a"), host.participant("b"));
    assert_eq!(host.befriend(a, b).status, 200);
    let acknowledged = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for writer in 0..16 {
            let (host, acknowledged) = (&host, &acknowledged);
            scope.spawn(move || {
                // Ends when the host dies (a failed request), after 60 posts
                // (a feed lists 1000 at most) or after 30 s.
                for n in 0..60 {
                    let marker = format!("stormw{writer}n{n}");
                    let body = json!({ "subject": "storm", "story": format!("story {marker}") }).to_string();
                    let sent = host.try_send("POST", &format!("/participant/{a}/outbound"), &body);
                    match sent {
                        Some(200) => acknowledged.lock().unwrap().push(marker),
                        _ => return,
                    }
                    if started.elapsed() > Duration::from_secs(30) {
                        return;
                    }
                }
            });
        }
        // Killed mid-storm: once a third of the posts are acknowledged.
        while acknowledged.lock().unwrap().len() < 320 && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let killed = std::process::Command::new("kill").args(["-9", &host.pid().to_string()]).status().unwrap();
        assert!(killed.success());
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        (320..16 * 60).contains(&acknowledged.len()),
        "the kill did not land mid-storm: {} acknowledged",
        acknowledged.len()
    );

    let host = Host::builder().state_dir(host.crash()).start();
    let outbound = host.get(&format!("/participant/{a}/outbound?limit=1000")).json;
    let inbound = host.get(&format!("/participant/{b}/inbound?limit=1000")).json;
    let stories = |feed: &Value| -> BTreeSet<String> {
        feed.as_array().unwrap().iter().map(|post| post["story"].as_str().unwrap().to_string()).collect()
    };
    let (outbound, inbound) = (stories(&outbound), stories(&inbound));
    for marker in &acknowledged {
        let story = format!("story {marker}");
        assert!(outbound.contains(&story), "{marker} lost from the outbound");
        assert!(inbound.contains(&story), "{marker} lost from the friend's inbound");
    }
    // The search index too (a sample: one search a request).
    for marker in acknowledged.iter().step_by(acknowledged.len() / 20) {
        assert_eq!(posters(&host, marker), json!([link(a)]), "{marker} lost from search");
    }
}

#[test]
fn a_failed_commit_answers_503_to_its_writes_and_reads_go_on() {
    // The host may not grow any file past 2 MiB: once the WAL reaches that,
    // a commit cannot write it and fails (EFBIG), as on a full disk.
    const FILE_LIMIT: libc::rlim_t = 2 << 20;
    let host = Host::builder()
        .flags(&["--metrics-listen", "127.0.0.1:0"])
        .adjust(|command| {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                command.pre_exec(|| {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let limit = libc::rlimit { rlim_cur: FILE_LIMIT, rlim_max: FILE_LIMIT };
                    match libc::setrlimit(libc::RLIMIT_FSIZE, &limit) {
                        0 => Ok(()),
                        _ => Err(std::io::Error::last_os_error()),
                    }
                });
            }
        })
        .start();
    let (a, b) = (host.participant("a"), host.participant("b"));
    assert_eq!(host.befriend(a, b).status, 200);
    let filler = "filler ".repeat(40_000); // 280 KB a post
    let answers = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for writer in 0..16 {
            let (host, answers, filler) = (&host, &answers, &filler);
            scope.spawn(move || {
                let marker = format!("bigw{writer}");
                let body = json!({ "subject": "big", "story": format!("{marker} {filler}") }).to_string();
                let answer = host.post(&format!("/participant/{a}/outbound"), &body);
                answers.lock().unwrap().push((marker, answer));
            });
        }
    });
    let answers = answers.into_inner().unwrap();
    let failed: Vec<&String> = answers.iter().filter(|(_, answer)| answer.status == 503).map(|(m, _)| m).collect();
    assert!(!failed.is_empty(), "no write hit the file limit");
    for (marker, answer) in &answers {
        assert!(matches!(answer.status, 200 | 503), "{marker}: {answer:?}");
        let expected = if answer.status == 200 { json!([link(a)]) } else { json!([]) };
        assert_eq!(posters(&host, marker), expected, "{marker} answered {}", answer.status);
    }
    let text = host.scrape();
    assert!(metric(&text, r#"newsfeed_commits_total{outcome="failed"}"#) >= 1.0, "{text}");
    // Reads go on.
    assert_eq!(host.get(&format!("/participant/{a}")).status, 200);
    assert_eq!(host.get(&format!("/participant/{b}/friends")).status, 200);
}

/// A write that fails after it has written part of itself (a post stored,
/// then its fan-out refused) is rolled back to its own savepoint: nothing of
/// it is committed, and the good writes that shared its batch are. The
/// refusal comes from a trigger the test adds to the host's database file:
/// no rule of the API fails that late.
#[test]
fn a_write_failing_after_a_partial_write_is_rolled_back_alone_in_its_batch() {
    let host = Host::builder().flags(&["--metrics-listen", "127.0.0.1:0"]).start();
    let ids: Vec<i64> = (0..4).map(|n| host.participant(&format!("r{n}"))).collect();
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(host.befriend(*id, ids[(n + 1) % ids.len()]).status, 200);
    }
    let database = host.state.path().join("state/newsfeed.db");
    let conn = rusqlite::Connection::open(&database).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_marked_fan_out BEFORE INSERT ON inbound
         WHEN (SELECT story FROM post WHERE id = NEW.post) LIKE '%refuseme%'
         BEGIN SELECT RAISE(ABORT, 'refused by the test''s trigger'); END",
    )
    .unwrap();
    drop(conn);
    let outcomes = Mutex::new(Outcomes::default());
    std::thread::scope(|scope| {
        for writer in 0..32 {
            let (host, ids, outcomes) = (&host, &ids, &outcomes);
            scope.spawn(move || {
                for n in 0..4 {
                    let author = ids[(writer + n) % ids.len()];
                    let refused = (writer + n) % 2 == 0;
                    let marker = format!("pw{writer}n{n}");
                    let story = match refused {
                        true => format!("{marker} refuseme"),
                        false => format!("{marker} kept"),
                    };
                    let body = json!({ "subject": "partial", "story": story }).to_string();
                    let answer = host.post(&format!("/participant/{author}/outbound"), &body);
                    let mut outcomes = outcomes.lock().unwrap();
                    match refused {
                        true => {
                            assert_eq!(answer.status, 503, "{answer:?}");
                            outcomes.refused.push(marker);
                        }
                        false => {
                            assert_eq!(answer.status, 200, "{answer:?}");
                            outcomes.stored.push((author, marker));
                        }
                    }
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let stories: Vec<String> = ids
        .iter()
        .flat_map(|id| host.get(&format!("/participant/{id}/outbound?limit=1000")).json.as_array().unwrap().clone())
        .map(|post| post["story"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stories.len(), outcomes.stored.len(), "exactly the good posts are stored");
    assert!(stories.iter().all(|story| story.ends_with(" kept")), "a refused post was committed: {stories:?}");
    for marker in &outcomes.refused {
        assert_eq!(posters(&host, marker), json!([]), "{marker}");
    }
    for (author, marker) in &outcomes.stored {
        assert_eq!(posters(&host, marker), json!([link(*author)]), "{marker}");
    }
    let text = host.scrape();
    let commits = metric(&text, "newsfeed_write_batch_size_count");
    let writes = metric(&text, "newsfeed_write_batch_size_sum");
    assert!(commits < writes, "{commits} commits for {writes} writes: no batch held two");
}
