//! Our host calls a component's lean entry (`newsfeed:feed/handler`) when the
//! component exports it, and `wasi:http/incoming-handler` otherwise (issue
//! 26): the admin API says which, `/faults-lean/entry` and `/faults/entry`
//! show which export answered, and a version without the lean export, swapped
//! in, is served through the standard one.

use crate::common;

use common::{built_wasm, Host};
use serde_json::Value;

const TOKEN: &str = "test-admin-token-0123456789";

/// `GET /admin/functions` (or `POST .../rollback`, ...) with the token.
fn admin(host: &Host, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = reqwest::blocking::Client::new()
        .request(method, format!("{}{path}", host.admin.as_ref().unwrap()))
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().unwrap()).unwrap())
}

/// The entry the admin API says `function` is called through.
fn entry(host: &Host, function: &str) -> String {
    let (status, list) = admin(host, "GET", "/admin/functions", vec![]);
    assert_eq!(status, 200, "{list}");
    let listed = list.as_array().unwrap().iter().find(|listed| listed["name"] == function);
    listed.unwrap_or_else(|| panic!("{function} is not listed: {list}"))["entry"].as_str().unwrap().to_string()
}

#[test]
fn the_host_calls_the_lean_entry_when_a_component_has_it_and_the_standard_one_otherwise() {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();

    // Every function built with `http_entry!` has the lean entry; `faults`
    // (spin-sdk's `#[http_component]`) and `web` (its own) have only the
    // standard one.
    for function in ["participant", "friends", "outbound", "inbound", "search", "notfound", "faults-lean"] {
        assert_eq!(entry(&host, function), "lean", "{function}");
    }
    for function in ["faults", "web"] {
        assert_eq!(entry(&host, function), "standard", "{function}");
    }

    // The same code behind both exports; the export that answered says
    // which it was.
    let called = |path: &str| {
        let answer = host.send("GET", path, None);
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        answer.json["entry"].as_str().unwrap().to_string()
    };
    assert_eq!(called("/faults-lean/entry"), "lean");
    assert_eq!(called("/faults/entry"), "standard");

    // A version of the participant without the lean export is served
    // through the standard one; rolled back, the lean one serves again.
    let id = host.participant("entries");
    let tagged = std::fs::read(built_wasm("tagged-participant")).unwrap();
    let (status, report) = admin(&host, "PUT", "/admin/functions/participant", tagged);
    assert_eq!(status, 200, "{report}");
    assert_eq!(entry(&host, "participant"), "standard");
    let answer = host.get(&format!("/participant/{id}"));
    assert_eq!((answer.status, answer.json["name"].as_str()), (200, Some("entries")));
    assert_eq!(answer.headers["x-newsfeed-variant"], "tagged", "the standard-only version answered");
    let (status, report) = admin(&host, "POST", "/admin/functions/participant/rollback", vec![]);
    assert_eq!(status, 200, "{report}");
    assert_eq!(entry(&host, "participant"), "lean");
    let answer = host.get(&format!("/participant/{id}"));
    assert_eq!((answer.status, answer.json["name"].as_str()), (200, Some("entries")));
    assert!(answer.headers.get("x-newsfeed-variant").is_none());
}
