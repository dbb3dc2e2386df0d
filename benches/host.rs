//! Criterion benches of the host, in process and over HTTP:
//! - `instantiate/*`: a fresh backend and instance of each function;
//! - `instantiate_and_call/*`: a whole request served in a fresh instance;
//! - `instantiate_and_call_as_spin/*`: the same, each function composed with
//!   the Spin adapter and its storage going through Spin's SQLite interface;
//! - `storage/*`: each SQLite backend operation;
//! - `round_trip/*`: `GET /participant/{id}` over HTTP against `newsfeed up`,
//!   with the wasm functions, with `--as-spin` and with `--native`.
//!
//! The in-process benches run on a current-thread runtime: the cost of the
//! work itself. On a multi-thread runtime criterion's waiting thread hands
//! each request to a worker and is woken when it ends, two cross-thread
//! wake-ups that the server does not pay (a connection's task and the call
//! it spawns run on one worker) and that dominated the figure.
//!
//! `cargo bench --bench host`

#[path = "../tests/e2e/common/mod.rs"]
mod common;

use bytes::Bytes;
use common::in_process;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Full};
use newsfeed::backend::sqlite::{Sqlite, DEFAULT_MAX_BATCH};
use newsfeed::backend::types::Post;
use newsfeed::backend::Backend;
use newsfeed::handler::Handler;
use newsfeed::wasm::instance::WasmHandler;
use newsfeed::wasm::loader::Platform;
use std::sync::Arc;

/// What each function is asked in the benches.
const REQUESTS: [(&str, &str); 5] = [
    ("participant", "/participant/1"),
    ("friends", "/participant/1/friends"),
    ("outbound", "/participant/1/outbound?limit=10"),
    ("inbound", "/participant/2/inbound?limit=10"),
    ("search", "/outbound?keywords=fox"),
];

struct Fixture {
    functions: Vec<(String, WasmHandler)>,
    /// The same functions as `--as-spin` runs them, over the same database.
    spin_functions: Vec<(String, WasmHandler)>,
    backend: Arc<dyn Backend>,
    _dir: tempfile::TempDir,
}

async fn seed(backend: &dyn Backend) {
    for name in ["a", "b"] {
        backend.create_participant(name.into()).await.unwrap();
    }
    backend.befriend(1, 2).await.unwrap();
    for n in 0..50 {
        let story = format!("story {n} of the quick brown fox");
        backend.publish(Post { author: 1, occurred: "2026-11-24".into(), subject: "s".into(), story }).await.unwrap();
    }
}

fn fixture(runtime: &tokio::runtime::Runtime) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("bench.db");
    let backend: Arc<dyn Backend> = Arc::new(Sqlite::open(&database, DEFAULT_MAX_BATCH, Arc::default()).unwrap());
    runtime.block_on(seed(backend.as_ref()));
    let names: Vec<&str> = REQUESTS.iter().map(|(name, _)| *name).collect();
    let functions = in_process::load(dir.path(), &database, Platform::Newsfeed, Some(backend.clone()), &names);
    let spin_functions = in_process::load(dir.path(), &database, Platform::Spin, None, &names);
    Fixture { functions, spin_functions, backend, _dir: dir }
}

fn request(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::builder().uri(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap()
}

fn in_process(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let fixture = fixture(&runtime);
    let mut group = c.benchmark_group("instantiate");
    for (name, function) in &fixture.functions {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async { drop(function.instantiate().await.unwrap()) })
        });
    }
    group.finish();

    for (group, functions) in
        [("instantiate_and_call", &fixture.functions), ("instantiate_and_call_as_spin", &fixture.spin_functions)]
    {
        let mut group = c.benchmark_group(group);
        for ((name, function), (_, path)) in functions.iter().zip(REQUESTS) {
            group.bench_function(name, |b| {
                b.to_async(&runtime).iter(|| async {
                    let response = function.handle(request(path)).await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.into_body().collect().await.unwrap();
                })
            });
        }
        group.finish();
    }

    let backend = fixture.backend.clone();
    let mut group = c.benchmark_group("storage");
    let backend = || backend.clone();
    group.bench_function("get_participant", |b| {
        b.to_async(&runtime).iter(|| async { backend().get_participant(1).await.unwrap() })
    });
    group.bench_function("list_friends", |b| {
        b.to_async(&runtime).iter(|| async { backend().list_friends(1, 100, None).await.unwrap() })
    });
    group.bench_function("list_outbound", |b| {
        b.to_async(&runtime).iter(|| async { backend().list_outbound(1, 10, None).await.unwrap() })
    });
    group.bench_function("list_inbound", |b| {
        b.to_async(&runtime).iter(|| async { backend().list_inbound(2, 10, None).await.unwrap() })
    });
    group.bench_function("find_posters", |b| {
        b.to_async(&runtime)
            .iter(|| async { backend().find_posters(vec!["fox".into(), "quick".into()], 10).await.unwrap() })
    });
    group.bench_function("create_participant", |b| {
        b.to_async(&runtime).iter(|| async { backend().create_participant("bench".into()).await.unwrap() })
    });
    group.bench_function("befriend", |b| {
        b.to_async(&runtime).iter(|| async { backend().befriend(1, 2).await.unwrap() })
    });
    group.bench_function("publish", |b| {
        b.to_async(&runtime).iter(|| async {
            let post =
                Post { author: 1, occurred: "2026-11-24".into(), subject: "s".into(), story: "bench story".into() };
            backend().publish(post).await.unwrap()
        })
    });
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    for (mode, flags) in [("wasm", &[][..]), ("as_spin", &["--as-spin"][..]), ("native", &["--native"][..])] {
        let host = common::Host::builder().flags(flags).start();
        let id = host.participant("bench");
        let path = format!("/participant/{id}");
        group.bench_function(mode, |b| b.iter(|| assert_eq!(host.send("GET", &path, None).status, 200)));
    }
    group.finish();
}

criterion_group!(benches, in_process, round_trip);
criterion_main!(benches);
