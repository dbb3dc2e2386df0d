//! Every operation, rule and error status of `docs/api.md`, over real
//! HTTP against `newsfeed up` running the wasm functions.

mod common;

fn start() -> Host {
    Host::start_with(&[])
}

include!("cases/api.rs");

/// Served by the host itself, before any function, in every mode; not by
/// Spin, hence here rather than in the shared cases.
#[test]
fn the_openapi_document_is_served() {
    let host = start();
    let response = reqwest::blocking::get(format!("{}/openapi.yaml", host.base)).unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().unwrap();
    assert_eq!(text, std::fs::read_to_string(common::repo_root().join("openapi.yaml")).unwrap());
}
