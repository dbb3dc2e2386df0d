// The API cases, shared by `tests/api.rs` (wasm functions),
// `tests/api_native.rs` (the native baseline), `tests/api_spin.rs` (the
// functions composed with the Spin adapter) and `tests/api_postgres.rs` (the
// PostgreSQL backend), which must all answer alike. Each includes this file
// after defining `fn start() -> Host`, which starts a host on an empty
// database.

use common::Host;
use serde_json::json;

#[test]
fn participants_are_created_and_read() {
    let host = start();
    let created = host.post("/participant", r#"{"name": "joe"}"#);
    assert_eq!(created.status, 200);
    assert_eq!(created.content_type, "application/json");
    let id = created.json["id"].as_i64().unwrap();
    assert_eq!(created.json, json!({"id": id, "name": "joe", "link": format!("/participant/{id}")}));
    assert_eq!(host.get(&format!("/participant/{id}")).json, created.json);
}

#[test]
fn friendship_is_symmetric_idempotent_and_never_with_oneself() {
    let host = start();
    let (a, b) = (host.participant("a"), host.participant("b"));
    let made = host.befriend(a, b);
    assert_eq!(made.status, 200);
    assert_eq!(made.json["from"], format!("/participant/{a}"));
    assert_eq!(made.json["to"], format!("/participant/{b}"));

    // `from` may be given, and befriending again gives the same friendship.
    let body = format!(r#"{{"from": "/participant/{b}", "to": "/participant/{a}"}}"#);
    let again = host.post(&format!("/participant/{b}/friends"), &body);
    assert_eq!(again.status, 200);
    assert_eq!(again.json["id"], made.json["id"]);

    let of_a = host.get(&format!("/participant/{a}/friends")).json;
    let of_b = host.get(&format!("/participant/{b}/friends")).json;
    assert_eq!(
        of_a,
        json!([{"id": made.json["id"], "from": format!("/participant/{a}"), "to": format!("/participant/{b}")}])
    );
    assert_eq!(
        of_b,
        json!([{"id": made.json["id"], "from": format!("/participant/{b}"), "to": format!("/participant/{a}")}])
    );

    assert_eq!(host.befriend(a, a).status, 400);
    assert_eq!(host.get(&format!("/participant/{a}/friends")).json.as_array().unwrap().len(), 1);
}

#[test]
fn a_post_reaches_the_outbound_list_every_friends_feed_and_search_at_once() {
    let host = start();
    let (author, f1, f2, stranger) =
        (host.participant("author"), host.participant("f1"), host.participant("f2"), host.participant("s"));
    host.befriend(author, f1);
    host.befriend(f2, author);
    let body = json!({
        "from": format!("/participant/{author}"),
        "occurred": "2026-11-24T10:00:00+01:00",
        "subject": "news",
        "story": "an aardvark walked in",
    });
    let posted = host.post(&format!("/participant/{author}/outbound"), &body.to_string());
    assert_eq!(posted.status, 200);
    assert_eq!(posted.json, body, "the post as stored, occurred exactly as given");

    // Read-your-writes: every effect is visible to the very next request.
    assert_eq!(host.get(&format!("/participant/{author}/outbound")).json, json!([body]));
    for friend in [f1, f2] {
        let mut item = body.clone();
        item["to"] = json!(format!("/participant/{friend}"));
        assert_eq!(host.get(&format!("/participant/{friend}/inbound")).json, json!([item]));
    }
    assert_eq!(host.get(&format!("/participant/{stranger}/inbound")).json, json!([]));
    assert_eq!(host.get(&format!("/participant/{author}/inbound")).json, json!([]));
    assert_eq!(host.get("/outbound?keywords=aardvark").json, json!([format!("/participant/{author}")]));
}

#[test]
fn occurred_defaults_to_the_servers_utc_time() {
    let host = start();
    let id = host.participant("a");
    let posted = host.publish(id, "s", "t");
    assert_eq!(posted.status, 200);
    let occurred = posted.json["occurred"].as_str().unwrap();
    assert!(occurred.ends_with('Z') && occurred.contains('T'), "{occurred}");
    // The server's clock now, not a fixed or stale time: within seconds of ours.
    let at = humantime::parse_rfc3339_weak(occurred).unwrap_or_else(|e| panic!("{occurred}: {e}"));
    let now = std::time::SystemTime::now();
    let apart = now.duration_since(at).unwrap_or_else(|ahead| ahead.duration());
    assert!(apart < std::time::Duration::from_secs(30), "{occurred} is {apart:?} from now");
}

#[test]
fn lists_are_newest_stored_first_and_limited() {
    let host = start();
    let (a, b) = (host.participant("a"), host.participant("b"));
    let others: Vec<i64> = (0..3).map(|i| host.participant(&format!("o{i}"))).collect();
    host.befriend(a, b);
    for other in &others {
        host.befriend(a, *other);
    }
    // `occurred` is the client's value and does not reorder anything.
    for (subject, occurred) in [("first", "2030-01-01"), ("second", "2020-01-01"), ("third", "2025-01-01")] {
        let body = json!({"subject": subject, "story": "s", "occurred": occurred}).to_string();
        assert_eq!(host.post(&format!("/participant/{a}/outbound"), &body).status, 200);
    }
    let subjects = |path: &str| -> Vec<String> {
        host.get(path).json.as_array().unwrap().iter().map(|p| p["subject"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(subjects(&format!("/participant/{a}/outbound")), ["third", "second", "first"]);
    assert_eq!(subjects(&format!("/participant/{b}/inbound")), ["third", "second", "first"]);
    assert_eq!(subjects(&format!("/participant/{a}/outbound?limit=2")), ["third", "second"]);
    assert_eq!(subjects(&format!("/participant/{b}/inbound?limit=1")), ["third"]);
    let friends = host.get(&format!("/participant/{a}/friends?limit=2")).json;
    assert_eq!(friends.as_array().unwrap().len(), 2);
    assert_eq!(friends[0]["to"], format!("/participant/{}", others[2]), "newest friendship first");
    assert_eq!(host.get(&format!("/participant/{a}/outbound?limit=1000")).status, 200);
    for bad in ["0", "1001", "x", "-1", ""] {
        assert_eq!(host.get(&format!("/participant/{a}/outbound?limit={bad}")).status, 400, "limit={bad}");
        assert_eq!(host.get(&format!("/participant/{a}/friends?limit={bad}")).status, 400, "limit={bad}");
        assert_eq!(host.get(&format!("/participant/{a}/inbound?limit={bad}")).status, 400, "limit={bad}");
    }
}

#[test]
fn search_matches_whole_words_ranks_best_posts_first_and_is_never_a_query_language() {
    let host = start();
    let (one, two, three) = (host.participant("1"), host.participant("2"), host.participant("3"));
    host.publish(one, "morning", "the quick fox");
    host.publish(two, "evening", "a quick brown fox jumps");
    host.publish(three, "Fox sighting", "nothing else");
    let links = |ids: &[i64]| json!(ids.iter().map(|id| format!("/participant/{id}")).collect::<Vec<_>>());

    // More keywords held ranks first; ties go to the newer post.
    assert_eq!(host.get("/outbound?keywords=brown%20fox").json, links(&[two, three, one]));
    assert_eq!(host.get("/outbound?keywords=FOX").json, links(&[three, two, one]), "case-insensitive, subjects too");
    assert_eq!(host.get("/outbound?keywords=fox&limit=1").json, links(&[three]));
    assert_eq!(host.get("/outbound?keywords=qui").json, json!([]), "whole words only");
    assert_eq!(host.get("/outbound?keywords=quick+jumps").json, links(&[two, one]));

    // A poster is listed once, by its best post.
    host.publish(one, "again", "quick brown fox jumps");
    assert_eq!(host.get("/outbound?keywords=quick%20brown%20fox%20jumps").json, links(&[one, two, three]));

    for hostile in [
        "fox%20OR%20dog",
        "%22",
        "fox*",
        "NEAR(fox%20dog)",
        "story:fox",
        "-fox",
        "')%3B%20DROP%20TABLE%20post%3B--",
        "%5E",
    ] {
        assert_eq!(host.get(&format!("/outbound?keywords={hostile}")).status, 200, "{hostile}");
    }
    assert_eq!(host.get("/outbound?keywords=OR").json, json!([]), "OR is a plain word here");
    // `fox OR dog` is three plain words: no post holds `or` or `dog`, every
    // post holds `fox`; `fox*` is the word `fox`, `*` a separator.
    assert_eq!(host.get("/outbound?keywords=fox%20OR%20dog").json, links(&[one, three, two]));
    assert_eq!(host.get("/outbound?keywords=fox*").json, links(&[one, three, two]));
    assert_eq!(host.get("/outbound?keywords=NEAR(quick%20jumps)").json, links(&[one, two]));
    // tsquery's syntax, quotes and control characters (NUL too) separate
    // words like any other non-alphanumeric character.
    for hostile in ["fox%26dog", "fox|dog", "!fox", "fox:*", "(fox)", "'fox'", "fox%00dog", "%01fox%1F", "fox\\"] {
        let answer = host.get(&format!("/outbound?keywords={hostile}"));
        assert_eq!(answer.json, links(&[one, three, two]), "{hostile}");
    }
    assert_eq!(host.get("/outbound?keywords=brown-fox").json, links(&[one, two, three]), "the words it holds");

    assert_eq!(host.get("/outbound").status, 400);
    assert_eq!(host.get("/outbound?keywords=").status, 400);
    assert_eq!(host.get("/outbound?keywords=%20%20").status, 400);
    assert_eq!(host.get("/outbound?keywords=fox&limit=0").status, 400);
    assert_eq!(host.get("/outbound?keywords=fox&limit=101").status, 400);
    assert_eq!(host.get("/outbound?keywords=fox&limit=100").status, 200);
    assert_eq!(host.get("/outbound?keywords=fox&limit=%2B5").status, 400, "limit is plain decimal");
    assert_eq!(host.get("/outbound?keywords=fox&limit=007").status, 400, "limit is plain decimal");
    // At most 32 distinct words, however they are written.
    let words = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>();
    assert_eq!(host.get(&format!("/outbound?keywords={}", words(32).join("%20"))).status, 200);
    assert_eq!(host.get(&format!("/outbound?keywords={}", words(33).join("%20"))).status, 400);
    assert_eq!(host.get(&format!("/outbound?keywords={}", words(33).join("-"))).status, 400, "33 words in one");
    let repeated = format!("{}%20W0%20w0", words(32).join("%20"));
    assert_eq!(host.get(&format!("/outbound?keywords={repeated}")).status, 200, "32 distinct");
}

#[test]
fn every_bad_request_gets_a_json_400_and_changes_nothing() {
    let host = start();
    let (a, b) = (host.participant("a"), host.participant("b"));
    let outbound = format!("/participant/{a}/outbound");
    let friends = format!("/participant/{a}/friends");
    let cases: Vec<(&str, String)> = vec![
        ("/participant", "{".into()),
        ("/participant", "".into()),
        ("/participant", "[]".into()),
        ("/participant", r#"{"name": ""}"#.into()),
        ("/participant", r#"{"name": "   "}"#.into()),
        ("/participant", r#"{"name": null}"#.into()),
        ("/participant", r#"{"name": 7}"#.into()),
        ("/participant", r#"{}"#.into()),
        ("/participant", "\u{feff}not json".into()),
        (&friends, r#"{"to": "/participant/x"}"#.into()),
        (&friends, r#"{"to": "participant/2"}"#.into()),
        (&friends, r#"{"to": null}"#.into()),
        (&friends, r#"{}"#.into()),
        (&friends, format!(r#"{{"from": "/participant/{b}", "to": "/participant/{b}"}}"#)),
        (&friends, format!(r#"{{"from": null, "to": "/participant/{b}"}}"#)),
        (&outbound, r#"{"subject": "s"}"#.into()),
        (&outbound, r#"{"story": "s"}"#.into()),
        (&outbound, r#"{"subject": "", "story": "s"}"#.into()),
        (&outbound, r#"{"subject": "s", "story": 5}"#.into()),
        (&outbound, r#"{"subject": "s", "story": "t", "occurred": "yesterday"}"#.into()),
        (&outbound, r#"{"subject": "s", "story": "t", "occurred": "2026-02-30"}"#.into()),
        (&outbound, r#"{"subject": "s", "story": "t", "occurred": "2026-11-24T10:00:00"}"#.into()),
        (&outbound, r#"{"subject": "s", "story": "t", "occurred": null}"#.into()),
        (&outbound, format!(r#"{{"from": "/participant/{b}", "subject": "s", "story": "t"}}"#)),
    ];
    for (path, body) in &cases {
        let answer = host.post(path, body);
        assert_eq!(answer.status, 400, "POST {path} {body}: {answer:?}");
        assert_eq!(answer.content_type, "application/json");
        assert!(answer.json["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    for path in [
        "/participant/abc",
        "/participant/0",
        "/participant/-1",
        "/participant/01",
        "/participant/1.5",
        "/participant/99999999999999999999",
    ] {
        assert_eq!(host.get(path).status, 400, "{path}");
        assert_eq!(host.get(&format!("{path}/friends")).status, 400, "{path}/friends");
        assert_eq!(host.get(&format!("{path}/outbound")).status, 400, "{path}/outbound");
        assert_eq!(host.get(&format!("{path}/inbound")).status, 400, "{path}/inbound");
    }
    // Nothing was written by any of it.
    assert_eq!(host.get(&outbound).json, json!([]));
    assert_eq!(host.get(&friends).json, json!([]));
    assert_eq!(host.get(&format!("/participant/{}", b + 1)).status, 404);
}

#[test]
fn unknown_participants_routes_and_methods_get_404_and_405() {
    let host = start();
    let a = host.participant("a");
    for path in [
        "/participant/424242",
        "/participant/424242/friends",
        "/participant/424242/outbound",
        "/participant/424242/inbound",
    ] {
        let answer = host.get(path);
        assert_eq!(answer.status, 404, "{path}");
        assert!(answer.json["error"].is_string());
    }
    assert_eq!(host.befriend(a, 424242).status, 404, "unknown `to`");
    assert_eq!(host.befriend(424242, a).status, 404);
    assert_eq!(host.publish(424242, "s", "t").status, 404);
    for path in ["/docs/x", "/nothing", "/participant/1/unknown", "/participants", "/participant/1/friends/2", "/outbound/1"]
    {
        let answer = host.get(path);
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.content_type, "application/json");
    }
    for (method, path, allow) in [
        ("GET", "/participant".to_string(), "POST"),
        ("DELETE", format!("/participant/{a}"), "GET"),
        ("PUT", format!("/participant/{a}/friends"), "GET, POST"),
        ("DELETE", format!("/participant/{a}/outbound"), "GET, POST"),
        ("POST", format!("/participant/{a}/inbound"), "GET"),
        ("POST", "/outbound".to_string(), "GET"),
    ] {
        let answer = host.request(method, &path, Some("{}"));
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.headers["allow"], allow);
        assert!(answer.json["error"].is_string());
    }
}

#[test]
fn a_body_over_the_limit_gets_413_and_a_body_is_json_whatever_its_content_type() {
    let host = start();
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(1 << 20));
    let answer = host.post("/participant", &huge);
    assert_eq!(answer.status, 413);
    assert!(answer.json["error"].is_string());
    let client = reqwest::blocking::Client::new();
    let response = client
        .post(format!("{}/participant", host.base))
        .header("content-type", "text/plain")
        .body(r#"{"name": "plain"}"#)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[test]
fn concurrent_posts_all_fan_out() {
    let host = start();
    let author = host.participant("author");
    let friends: Vec<i64> = (0..5).map(|i| host.participant(&format!("f{i}"))).collect();
    for friend in &friends {
        host.befriend(author, *friend);
    }
    let (writers, posts_each) = (8, 10);
    std::thread::scope(|scope| {
        for writer in 0..writers {
            let host = &host;
            scope.spawn(move || {
                for n in 0..posts_each {
                    let answer = host.publish(author, &format!("w{writer}"), &format!("post {n} of writer {writer}"));
                    assert_eq!(answer.status, 200, "{answer:?}");
                }
            });
        }
    });
    let total = writers * posts_each;
    let limit = format!("?limit={total}");
    assert_eq!(host.get(&format!("/participant/{author}/outbound{limit}")).json.as_array().unwrap().len(), total);
    for friend in friends {
        assert_eq!(host.get(&format!("/participant/{friend}/inbound{limit}")).json.as_array().unwrap().len(), total);
    }
    assert_eq!(host.get("/outbound?keywords=writer").json, json!([format!("/participant/{author}")]));
}

#[test]
fn the_openapi_document_is_served() {
    let host = start();
    let response = reqwest::blocking::get(format!("{}/openapi.yaml", host.base)).unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().unwrap();
    assert_eq!(text, std::fs::read_to_string(common::repo_root().join("openapi.yaml")).unwrap());
}
