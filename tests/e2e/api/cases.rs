//! The API cases, written once: each takes a host started on an empty
//! database and checks one part of the contract. Every backend module beside
//! this one (wasm, native, as-spin, PostgreSQL, Spin on PostgreSQL) runs all
//! of them with [`every_case!`], so they must all answer alike; a failure is
//! named `api::<backend>::<case>`. The real-Spin suite (`tests/e2e/real_spin.rs`)
//! runs them against `spin up` too, so they hold only what the functions
//! answer, not what our host adds (its `/openapi.yaml`, tested in `wasm`).

use crate::common::Host;
use serde_json::json;

pub fn participants_are_created_and_read(host: &Host) {
    let created = host.post("/participant", r#"{"name": "joe"}"#);
    assert_eq!(created.status, 200);
    assert_eq!(created.content_type, "application/json");
    let id = created.json["id"].as_i64().unwrap();
    assert_eq!(created.json, json!({"id": id, "name": "joe", "link": format!("/participant/{id}")}));
    assert_eq!(host.get(&format!("/participant/{id}")).json, created.json);
}

pub fn friendship_is_symmetric_idempotent_and_never_with_oneself(host: &Host) {
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

pub fn a_post_reaches_the_outbound_list_every_friends_feed_and_search_at_once(host: &Host) {
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

pub fn occurred_defaults_to_the_servers_utc_time(host: &Host) {
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

pub fn lists_are_newest_stored_first_and_limited(host: &Host) {
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

pub fn search_matches_whole_words_ranks_best_posts_first_and_is_never_a_query_language(host: &Host) {
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

pub fn every_bad_request_gets_a_json_400_and_changes_nothing(host: &Host) {
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

pub fn unknown_participants_routes_and_methods_get_404_and_405(host: &Host) {
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
    for path in
        ["/docs/x", "/nothing", "/participant/1/unknown", "/participants", "/participant/1/friends/2", "/outbound/1"]
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

pub fn a_body_over_the_limit_gets_413_and_a_body_is_json_whatever_its_content_type(host: &Host) {
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

pub fn concurrent_posts_all_fan_out(host: &Host) {
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

/// The URL of an answer's `Link: <...>; rel="next"`, if it has one.
fn next_page(answer: &crate::common::Answer) -> Option<String> {
    let links: Vec<&str> = answer.headers.get_all("link").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(links.len() <= 1, "one Link header at most: {links:?}");
    let link = links.first()?;
    let url = link.strip_prefix('<').and_then(|rest| rest.strip_suffix(r#">; rel="next""#));
    Some(url.unwrap_or_else(|| panic!("not an RFC 8288 next link: {link:?}")).to_string())
}

/// Every page of the list at `path` in pages of `limit`, from the first,
/// following each page's next link, calling `between(n)` after the nth page
/// (from 0) when another follows: the pages' URLs and items. Checks each
/// link: the request's own path, its limit, and a cursor.
fn walk_with(
    host: &Host,
    path: &str,
    limit: usize,
    mut between: impl FnMut(usize),
) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut pages = Vec::new();
    let mut url = Some(format!("{path}?limit={limit}"));
    while let Some(here) = url {
        let answer = host.get(&here);
        assert_eq!(answer.status, 200, "{here}: {answer:?}");
        let items = answer.json.as_array().unwrap().clone();
        assert!(items.len() <= limit, "{here}: {} items", items.len());
        url = next_page(&answer);
        if let Some(next) = &url {
            assert!(!items.is_empty(), "{here}: an empty page with a next link");
            let cursor = next.strip_prefix(&format!("{path}?limit={limit}&before=")).unwrap_or_else(|| {
                panic!("{here}: the next link {next:?} is not this path with its limit and a cursor")
            });
            assert!(!cursor.is_empty() && !cursor.contains('&'), "{next}");
            between(pages.len());
        }
        pages.push((here, items));
        assert!(pages.len() <= 5_000, "{path}: a walk that does not end");
    }
    pages
}

/// The items of every page of a walk, in order, with `between` called
/// between pages as [`walk_with`] does.
fn walked(host: &Host, path: &str, limit: usize, between: impl FnMut(usize)) -> Vec<serde_json::Value> {
    walk_with(host, path, limit, between).into_iter().flat_map(|(_, items)| items).collect()
}

/// `posts` posts from `author`, by 10 writers at once, each writer's in
/// order: subject `w{writer}`, story `{n}`, the writer's nth.
fn publish_many(host: &Host, author: i64, posts: usize) {
    let writers = 10;
    std::thread::scope(|scope| {
        for writer in 0..writers {
            scope.spawn(move || {
                for n in (writer..posts).step_by(writers) {
                    let answer = host.publish(author, &format!("w{writer}"), &n.to_string());
                    assert_eq!(answer.status, 200, "{answer:?}");
                }
            });
        }
    });
}

pub fn a_2500_item_feed_pages_through_every_item_in_pages_of_100_7_and_1000(host: &Host) {
    let (author, reader) = (host.participant("author"), host.participant("reader"));
    host.befriend(author, reader);
    let total = 2_500;
    publish_many(host, author, total);
    let mut late = 0;
    for path in [format!("/participant/{author}/outbound"), format!("/participant/{reader}/inbound")] {
        let classic = host.get(&format!("{path}?limit=1000")).json;
        let mut first_walk: Option<Vec<serde_json::Value>> = None;
        for limit in [100, 1000, 7] {
            // A late post after every tenth page: newer than the walk, it
            // shows up only at the top of the walks after it.
            let late_before = late;
            let items = walked(host, &path, limit, |page| {
                if page % 10 == 0 {
                    assert_eq!(host.publish(author, "late", &late.to_string()).status, 200);
                    late += 1;
                }
            });
            let (newer, walked) = items.split_at(late_before);
            assert!(newer.iter().all(|item| item["subject"] == "late"), "{path}: pages of {limit}");
            let walked = walked.to_vec();
            match &first_walk {
                Some(first) => assert_eq!(&walked, first, "{path}: pages of {limit} walk the same list"),
                None => {
                    check_newest_first(&path, &walked, total);
                    assert_eq!(items[..1000], classic.as_array().unwrap()[..], "{path}: its first 1000 as one page");
                    first_walk = Some(walked);
                }
            }
        }
    }
}

/// Every one of `total` posts of [`publish_many`] once (no late post among
/// them), each writer's, which it made one after another, in the reverse
/// of its order.
fn check_newest_first(path: &str, items: &[serde_json::Value], total: usize) {
    assert_eq!(items.len(), total, "{path}: every item, once");
    let mut seen = std::collections::HashSet::new();
    let mut last_of_writer = std::collections::HashMap::new();
    for item in items {
        assert_ne!(item["subject"], "late", "{path}");
        let n: usize = item["story"].as_str().unwrap().parse().unwrap();
        assert!(seen.insert(n), "{path}: post {n} twice");
        if let Some(newer) = last_of_writer.insert(item["subject"].clone(), n) {
            assert!(n < newer, "{path}: post {n} after {newer} of the same writer");
        }
    }
    assert_eq!(seen.len(), total, "{path}: no gaps");
}

pub fn a_friends_list_pages_through_every_friendship_from_either_side(host: &Host) {
    // Friendships are stored low id first: the hub is the high side of the
    // first ten and the low side of the next ten.
    let before: Vec<i64> = (0..10).map(|i| host.participant(&format!("b{i}"))).collect();
    let hub = host.participant("hub");
    let after: Vec<i64> = (0..10).map(|i| host.participant(&format!("a{i}"))).collect();
    let mut order = Vec::new();
    for (early, late) in before.iter().zip(&after) {
        for (a, b) in [(hub, *late), (*early, hub)] {
            assert_eq!(host.befriend(a, b).status, 200);
            order.push(if a == hub { b } else { a });
        }
    }
    let links = |ids: &[i64]| ids.iter().rev().map(|id| format!("/participant/{id}")).collect::<Vec<_>>();
    let path = format!("/participant/{hub}/friends");
    for limit in [1, 7, 100] {
        // A new friend between every two pages: newer than the walk.
        let expected = links(&order);
        let friends = walked(host, &path, limit, |_| {
            let new = host.participant("new");
            assert_eq!(host.befriend(new, hub).status, 200);
            order.push(new);
        });
        let friends: Vec<String> = friends.iter().map(|f| f["to"].as_str().unwrap().to_string()).collect();
        assert_eq!(friends, expected, "pages of {limit}");
    }
}

pub fn pages_hold_still_while_posts_go_on(host: &Host) {
    let (author, reader) = (host.participant("author"), host.participant("reader"));
    host.befriend(author, reader);
    for n in 0..40 {
        assert_eq!(host.publish(author, "old", &n.to_string()).status, 200);
    }
    let mut fresh = 0;
    for path in [format!("/participant/{reader}/inbound"), format!("/participant/{author}/outbound")] {
        let before_walk = host.get(&format!("{path}?limit=1000")).json;
        // A post between every two pages.
        let (mut pages, mut url) = (Vec::new(), Some(format!("{path}?limit=7")));
        while let Some(here) = url {
            let answer = host.get(&here);
            assert_eq!(answer.status, 200, "{here}");
            url = next_page(&answer);
            pages.push((here, answer.json));
            assert_eq!(host.publish(author, "new", &fresh.to_string()).status, 200);
            fresh += 1;
        }
        let concatenated: Vec<_> = pages.iter().flat_map(|(_, page)| page.as_array().unwrap().clone()).collect();
        assert_eq!(concatenated, before_walk.as_array().unwrap()[..], "{path}: no item twice, none missing");
        // Every page reached by a cursor reads the same again.
        for (url, page) in &pages[1..] {
            assert_eq!(&host.get(url).json, page, "{url} changed under the posts");
        }
        // A fresh read starts with the new posts, newest first.
        let top = host.get(&format!("{path}?limit=3")).json;
        let stories: Vec<String> = (1..=3).map(|back| (fresh - back).to_string()).collect();
        assert_eq!(top.as_array().unwrap().iter().map(|p| p["story"].as_str().unwrap()).collect::<Vec<_>>(), stories);
    }
}

pub fn a_cursor_not_given_out_by_the_list_itself_is_a_400(host: &Host) {
    let (a, b, c) = (host.participant("a"), host.participant("b"), host.participant("c"));
    host.befriend(a, b);
    host.befriend(a, c);
    for n in 0..3 {
        host.publish(a, "s", &n.to_string());
    }
    let cursor = |path: String| {
        let next = next_page(&host.get(&format!("{path}?limit=1"))).expect("a next page");
        next.split_once("before=").unwrap().1.to_string()
    };
    let b_inbound = format!("/participant/{b}/inbound");
    let own = cursor(b_inbound.clone());
    let foreign = [
        ("c's inbound", cursor(format!("/participant/{c}/inbound"))),
        ("a's outbound", cursor(format!("/participant/{a}/outbound"))),
        ("a's friends", cursor(format!("/participant/{a}/friends"))),
    ];
    let mut flipped = own.clone().into_bytes();
    flipped[own.len() / 2] = if flipped[own.len() / 2] == b'A' { b'B' } else { b'A' };
    let tampered = [
        ("cut short", own[..own.len() - 1].to_string()),
        ("lengthened", format!("{own}A")),
        ("one character changed", String::from_utf8(flipped).unwrap()),
        ("empty", String::new()),
        ("an offset", "1".into()),
        ("a negative", "-1".into()),
        ("made up", "AQAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAA".into()),
        ("not base64", "%00%FF%22'".into()),
        ("long", "A".repeat(4000)),
    ];
    assert_eq!(host.get(&format!("{b_inbound}?limit=1&before={own}")).status, 200);
    for (what, bad) in foreign.iter().chain(&tampered) {
        let answer = host.get(&format!("{b_inbound}?limit=1&before={bad}"));
        assert_eq!(answer.status, 400, "{what}: {answer:?}");
        assert!(answer.json["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}");
    }
    // The same refusal on every list.
    for path in [format!("/participant/{a}/outbound"), format!("/participant/{a}/friends")] {
        assert_eq!(host.get(&format!("{path}?before={own}")).status, 400, "{path}");
    }
}

pub fn the_last_page_and_an_empty_list_have_no_next_link(host: &Host) {
    let (a, b, loner) = (host.participant("a"), host.participant("b"), host.participant("loner"));
    host.befriend(a, b);
    for n in 0..3 {
        host.publish(a, "s", &n.to_string());
    }
    for path in ["outbound", "inbound", "friends"] {
        let empty = host.get(&format!("/participant/{loner}/{path}"));
        assert_eq!((empty.status, &empty.json), (200, &json!([])), "{path}");
        assert_eq!(next_page(&empty), None, "{path}");
    }
    let paths = [format!("/participant/{a}/outbound"), format!("/participant/{b}/inbound")];
    for path in &paths {
        assert_eq!(next_page(&host.get(&format!("{path}?limit=3"))), None, "{path}: exactly full is the end");
        assert_eq!(next_page(&host.get(path)), None, "{path}");
    }
    for path in &paths {
        let all = host.get(&format!("{path}?limit=1000")).json.as_array().unwrap().clone();
        let first = host.get(&format!("{path}?limit={}", all.len() - 1));
        // A post in between is newer than the walk: the last page is still
        // the oldest post alone.
        host.publish(a, "s", "newer");
        let second = host.get(&next_page(&first).expect("a second page"));
        assert_eq!(second.json, json!([all.last().unwrap()]), "{path}");
        assert_eq!(next_page(&second), None, "{path}: the last page");
    }
    assert_eq!(next_page(&host.get("/outbound?keywords=s&limit=1")), None, "search does not page");
}

/// Six posts of about 900 KB: the first page of either list ends after the
/// fifth, whose text brings the page past its 4 MiB byte budget (as
/// openapi.yaml says), short of the limit, with a next link; the second page
/// holds the oldest post and ends the list.
pub fn a_list_of_big_posts_ends_at_its_byte_budget_and_the_next_page_goes_on(host: &Host) {
    let (author, reader) = (host.participant("author"), host.participant("reader"));
    host.befriend(author, reader);
    for n in 0..6 {
        let story = format!("big{n} {}", "heavy words repeated ".repeat(900_000 / 21));
        assert_eq!(host.publish(author, &format!("s{n}"), &story).status, 200);
    }
    for path in [format!("/participant/{author}/outbound"), format!("/participant/{reader}/inbound")] {
        let first = host.get(&format!("{path}?limit=10"));
        let subjects = |answer: &crate::common::Answer| -> Vec<String> {
            let items = answer.json.as_array().unwrap_or_else(|| panic!("{path}: {answer:?}"));
            items.iter().map(|item| item["subject"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(subjects(&first), ["s5", "s4", "s3", "s2", "s1"], "{path}: cut after the item past 4 MiB");
        let second = host.get(&next_page(&first).unwrap_or_else(|| panic!("{path}: no next link after the cut")));
        assert_eq!(subjects(&second), ["s0"], "{path}");
        assert_eq!(next_page(&second), None, "{path}: the last page");
    }
}

/// One `#[test]` per case, each on a new host from the enclosing module's
/// `fn start() -> Host`. A new case is a function above and a name here.
macro_rules! every_case {
    () => {
        $crate::api::cases::every_case!(
            participants_are_created_and_read,
            friendship_is_symmetric_idempotent_and_never_with_oneself,
            a_post_reaches_the_outbound_list_every_friends_feed_and_search_at_once,
            occurred_defaults_to_the_servers_utc_time,
            lists_are_newest_stored_first_and_limited,
            search_matches_whole_words_ranks_best_posts_first_and_is_never_a_query_language,
            every_bad_request_gets_a_json_400_and_changes_nothing,
            unknown_participants_routes_and_methods_get_404_and_405,
            a_body_over_the_limit_gets_413_and_a_body_is_json_whatever_its_content_type,
            concurrent_posts_all_fan_out,
            a_2500_item_feed_pages_through_every_item_in_pages_of_100_7_and_1000,
            a_friends_list_pages_through_every_friendship_from_either_side,
            pages_hold_still_while_posts_go_on,
            a_cursor_not_given_out_by_the_list_itself_is_a_400,
            the_last_page_and_an_empty_list_have_no_next_link,
            a_list_of_big_posts_ends_at_its_byte_budget_and_the_next_page_goes_on,
        );
    };
    ($($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::api::cases::$case(&start());
            }
        )+
    };
}
pub(crate) use every_case;
