//! `GET /metrics`: after some traffic, the Prometheus counts are right.

use crate::common;

use common::{metric as value, Host};

#[test]
fn metrics_count_requests_failures_instantiations_and_versions() {
    let host = Host::builder().flags(&["--metrics-listen", "127.0.0.1:0"]).start();
    let a = host.participant("a");
    for _ in 0..5 {
        assert_eq!(host.get(&format!("/participant/{a}")).status, 200);
    }
    for _ in 0..3 {
        assert_eq!(host.get("/participant/424242").status, 404);
    }
    assert_eq!(host.send("GET", "/faults/trap", None).status, 500);
    assert_eq!(host.get("/outbound?keywords=x").status, 200);

    let text = host.scrape();
    assert_eq!(value(&text, r#"newsfeed_requests_total{function="participant",class="2xx"}"#), 6.0);
    assert_eq!(value(&text, r#"newsfeed_requests_total{function="participant",class="4xx"}"#), 3.0);
    assert_eq!(value(&text, r#"newsfeed_requests_total{function="search",class="2xx"}"#), 1.0);
    assert_eq!(value(&text, r#"newsfeed_requests_total{function="faults",class="5xx"}"#), 1.0);
    assert_eq!(value(&text, r#"newsfeed_failures_total{function="faults",kind="trap"}"#), 1.0);
    assert_eq!(value(&text, r#"newsfeed_request_duration_seconds_count{function="participant"}"#), 9.0);
    assert_eq!(value(&text, r#"newsfeed_instantiation_seconds_count{function="participant"}"#), 9.0);
    let version = common::built_wasm("participant");
    let sha = newsfeed::wasm::compile_cache::sha256_hex(&std::fs::read(version).unwrap());
    assert_eq!(
        value(&text, &format!(r#"newsfeed_function_version{{function="participant",version="{sha}",mode="wasm"}}"#)),
        1.0
    );
    assert!(!text.contains(r#"function="friends",class"#), "no requests reached friends");
}
