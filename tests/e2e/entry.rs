//! The functions' own HTTP entry (`functions/guest/src/entry.rs`), called in
//! process, past the server in front of it: under Spin nothing else bounds
//! a request body, so the function must.

use crate::common;

use bytes::Bytes;
use common::in_process;
use http_body_util::{BodyExt, Full};
use newsfeed::backend::sqlite::{Sqlite, DEFAULT_MAX_BATCH};
use newsfeed::backend::Backend;
use newsfeed::handler::Handler;
use newsfeed::wasm::loader::Platform;
use std::sync::Arc;

/// The functions' limit (`newsfeed_guest::request::MAX_BODY_BYTES`).
const MAX_BODY_BYTES: usize = 1 << 20;

#[test]
fn a_function_refuses_a_body_over_its_limit_by_itself() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("entry.db");
    let backend: Arc<dyn Backend> = Arc::new(Sqlite::open(&database, DEFAULT_MAX_BATCH, Arc::default()).unwrap());
    let functions =
        in_process::load(dir.path(), &database, Platform::Newsfeed, Some(backend.clone()), &["participant"]);
    let participant = &functions[0].1;
    let post = |name: String| {
        let body = serde_json::json!({ "name": name }).to_string();
        let request = http::Request::post("/participant")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        runtime.block_on(async {
            let response = participant.handle(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status.as_u16(), serde_json::from_slice::<serde_json::Value>(&body).unwrap())
        })
    };

    // Just under the limit is served; just over it is a 413, and nothing is
    // stored.
    let (status, created) = post("x".repeat(MAX_BODY_BYTES - 20));
    assert_eq!(status, 200, "{created}");
    let (status, refused) = post("x".repeat(MAX_BODY_BYTES));
    assert_eq!(status, 413, "{refused}");
    assert!(refused["error"].as_str().is_some_and(|message| !message.is_empty()), "{refused}");
    assert!(runtime.block_on(backend.get_participant(2)).is_err(), "the refused body was stored");
}
