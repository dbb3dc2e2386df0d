//! One script of requests of every kind, good and bad, for the parity tests:
//! two hosts started on empty databases must answer it alike, whatever runs
//! the functions (wasm, native, composed with a Spin adapter) and wherever
//! the data lives.

use super::Host;

/// Requests of every kind, good and bad, with fixed times so that two runs
/// from an empty database must give the same status, content type and JSON.
pub const SCRIPT: &[(&str, &str, Option<&str>)] = &[
    ("POST", "/participant", Some(r#"{"name": "ann"}"#)),
    ("POST", "/participant", Some(r#"{"name": "bob"}"#)),
    ("POST", "/participant", Some(r#"{"name": "cy"}"#)),
    ("POST", "/participant", Some(r#"{"nom": "x"}"#)),
    ("POST", "/participant/1/friends", Some(r#"{"to": "/participant/2"}"#)),
    ("POST", "/participant/2/friends", Some(r#"{"to": "/participant/1"}"#)),
    ("POST", "/participant/3/friends", Some(r#"{"to": "/participant/1"}"#)),
    ("POST", "/participant/3/friends", Some(r#"{"to": "/participant/3"}"#)),
    ("POST", "/participant/1/friends", Some(r#"{"to": "/participant/99"}"#)),
    (
        "POST",
        "/participant/1/outbound",
        Some(r#"{"occurred": "2026-11-25T10:00:00Z", "subject": "Fox", "story": "the quick brown fox"}"#),
    ),
    ("POST", "/participant/2/outbound", Some(r#"{"occurred": "2026-11-25", "subject": "dog", "story": "a lazy dog"}"#)),
    ("POST", "/participant/3/outbound", Some(r#"{"occurred": "yesterday", "subject": "s", "story": "t"}"#)),
    ("POST", "/participant/99/outbound", Some(r#"{"occurred": "2026-11-25", "subject": "s", "story": "t"}"#)),
    ("GET", "/participant/1", None),
    ("GET", "/participant/99", None),
    ("GET", "/participant/x", None),
    ("GET", "/participant/1/friends", None),
    ("GET", "/participant/1/friends?limit=1", None),
    ("GET", "/participant/2/inbound", None),
    ("GET", "/participant/3/inbound", None),
    ("GET", "/participant/1/outbound", None),
    ("GET", "/outbound?keywords=fox+dog", None),
    ("GET", "/outbound?keywords=%22fox%22+OR", None),
    ("GET", "/outbound", None),
    ("DELETE", "/participant/1", None),
];

/// Runs the script on both hosts, in step: every answer of `actual` has the
/// status, content type and JSON of `expected`'s, and `expected`'s answers
/// are checked against `openapi.yaml`.
pub fn assert_same_answers(expected: &Host, actual: &Host) {
    for (method, path, body) in SCRIPT {
        let (want, got) = (expected.request(method, path, *body), actual.send(method, path, *body));
        assert_eq!(
            (got.status, &got.content_type, &got.json),
            (want.status, &want.content_type, &want.json),
            "{method} {path}"
        );
    }
}
