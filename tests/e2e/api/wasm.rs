//! Every operation, rule and error status of `docs/api.md`, over real
//! HTTP against `newsfeed up` running the wasm functions.

use crate::common::Host;

fn start() -> Host {
    Host::start()
}

super::cases::every_case!();

/// Served by the host itself, before any function, in every mode; not by
/// Spin, hence here rather than in the shared cases.
#[test]
fn the_openapi_document_is_served() {
    let host = start();
    let response = reqwest::blocking::get(format!("{}/openapi.yaml", host.base)).unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().unwrap();
    assert_eq!(text, std::fs::read_to_string(crate::common::repo_root().join("openapi.yaml")).unwrap());
}
