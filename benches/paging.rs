//! Paging a 100,000-item feed on the embedded SQLite backend, in process (no
//! HTTP, no wasm), in one run:
//! - `inbound_100k/page_1` and `inbound_100k/page_500`: `Backend::list_inbound`
//!   of 100 items, from the top and from the cursor of page 500 (items
//!   49,901-50,000). A cursor is a seek: both cost the same.
//! - `inbound_100k/classic_first_100` and `inbound_100k/paged_first_100`: the
//!   first page's statements alone, over one rusqlite connection, as each
//!   backend runs them: the unpaged statements of before
//!   paging (commit 26df8f3, copied below: the participant, then the
//!   items, in one read transaction) against the paged ones (one statement:
//!   100 rows read and a 101st stepped to, then the cursor made with the key
//!   the backend read at open). Page 1 must cost no more than before.
//!
//! The feed: one reader with one friend who posted 100,000 posts shaped like
//! the load profile's (a subject of 5 and a story of 150 words), written
//! straight into the file in one transaction (the search index is left
//! empty: no list reads it).
//!
//! `cargo bench --bench paging`

use criterion::{criterion_group, criterion_main, Criterion};
use newsfeed::backend::sqlite::{Sqlite, DEFAULT_MAX_BATCH};
use newsfeed::backend::types::Post;
use newsfeed::backend::Backend;
use newsfeed_sql::cursor::{List, PageRequest};
use newsfeed_sql::sqlite as sql;
use rusqlite::{params, Connection, Row};
use std::sync::Arc;

#[path = "../tools/load/src/post.rs"]
mod post;

const ITEMS: usize = 100_000;
const PAGE: u32 = 100;
const AUTHOR: i64 = 1;
const READER: i64 = 2;

/// The statements of a feed read before paging (26df8f3).
const CLASSIC_EXISTS: &str = "SELECT 1 FROM participant WHERE id = ?1";
const CLASSIC_LIST_INBOUND: &str = "SELECT p.author, p.occurred, p.subject, p.story
     FROM inbound i JOIN post p ON p.id = i.post
     WHERE i.reader = ?1 ORDER BY i.id DESC LIMIT ?2";

/// A feed of [`ITEMS`] posts for [`READER`], in a new file.
fn feed(path: &std::path::Path) {
    // Opened once by the backend, so that the file has the current schema.
    drop(Sqlite::open(path, DEFAULT_MAX_BATCH, Arc::default()).unwrap());
    let mut conn = Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    for name in ["author", "reader"] {
        tx.query_row(sql::INSERT_PARTICIPANT, params![name], |row| row.get::<_, i64>(0)).unwrap();
    }
    tx.execute(sql::INSERT_FRIENDSHIP, params![AUTHOR, READER]).unwrap();
    let mut rng = fastrand::Rng::with_seed(24);
    {
        let mut insert = tx.prepare(sql::INSERT_POST).unwrap();
        let mut fan_out = tx.prepare(sql::FAN_OUT).unwrap();
        for _ in 0..ITEMS {
            let (subject, story) = post::subject_and_story(&mut rng);
            let id: i64 = insert.query_row(params![AUTHOR, "2026-12-03", subject, story], |row| row.get(0)).unwrap();
            fan_out.execute(params![AUTHOR, id]).unwrap();
        }
    }
    tx.commit().unwrap();
}

fn feed_item(row: &Row, from: usize) -> rusqlite::Result<Post> {
    Ok(Post {
        author: row.get(from)?,
        occurred: row.get(from + 1)?,
        subject: row.get(from + 2)?,
        story: row.get(from + 3)?,
    })
}

/// The first page as before paging: the participant, then its newest items.
fn classic_first_page(conn: &mut Connection) -> Vec<Post> {
    let tx = conn.transaction().unwrap();
    assert!(tx.prepare_cached(CLASSIC_EXISTS).unwrap().exists(params![READER]).unwrap());
    let mut list = tx.prepare_cached(CLASSIC_LIST_INBOUND).unwrap();
    let rows = list.query_map(params![READER, PAGE], |row| feed_item(row, 0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// The first page as the paged backend reads it: one statement, no
/// transaction, the cursor key read once beforehand.
fn paged_first_page(conn: &mut Connection, key: &[u8]) -> (Vec<Post>, Option<String>) {
    let request = PageRequest::new(List::Inbound, READER, PAGE, None).unwrap();
    let seek = request.seek(key).unwrap();
    let mut list = conn.prepare_cached(sql::LIST_INBOUND).unwrap();
    let mut rows = list.query(params![READER, request.rows(), seek]).unwrap();
    let (mut items, mut last) = (Vec::new(), None);
    while let Some(row) = rows.next().unwrap() {
        if items.len() == request.limit() {
            return (items, last.map(|last| request.cursor_after(key, last)));
        }
        items.push(feed_item(row, 1).unwrap());
        last = Some(row.get(0).unwrap());
    }
    assert!(!items.is_empty(), "an empty page asks whether the participant exists");
    (items, None)
}

fn paging(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.db");
    feed(&path);
    let backend = Sqlite::open(&path, DEFAULT_MAX_BATCH, Arc::default()).unwrap();

    // The cursor of page 500: the next link of page 499.
    let mut before = None;
    for _ in 1..500 {
        let page = runtime.block_on(backend.list_inbound(READER, PAGE, before)).unwrap();
        assert_eq!(page.items.len(), PAGE as usize);
        before = page.next;
    }
    let page_500 = before.expect("a 500th page");

    let mut conn = Connection::open(&path).unwrap();
    let key: Vec<u8> = conn.query_row(sql::CURSOR_KEY, [], |row| row.get(0)).unwrap();
    assert_eq!(classic_first_page(&mut conn), paged_first_page(&mut conn, &key).0, "the same first page");

    let mut group = c.benchmark_group("inbound_100k");
    group.bench_function("page_1", |b| {
        b.to_async(&runtime).iter(|| async {
            let page = backend.list_inbound(READER, PAGE, None).await.unwrap();
            assert_eq!(page.items.len(), PAGE as usize);
        })
    });
    group.bench_function("page_500", |b| {
        b.to_async(&runtime).iter(|| async {
            let page = backend.list_inbound(READER, PAGE, Some(page_500.clone())).await.unwrap();
            assert_eq!(page.items.len(), PAGE as usize);
        })
    });
    group.bench_function("classic_first_100", |b| b.iter(|| classic_first_page(&mut conn)));
    group.bench_function("paged_first_100", |b| b.iter(|| paged_first_page(&mut conn, &key)));
    group.finish();

    // The two first pages again, alternated call by call, so that a drift
    // of a shared machine touches both alike: criterion runs one after the
    // other, seconds apart.
    let (classic, paged) =
        alternated(&mut conn, |conn| drop(classic_first_page(conn)), |conn| drop(paged_first_page(conn, &key)));
    println!(
        "inbound_100k first 100, alternated {ALTERNATIONS} times: classic median {classic:?}, paged median {paged:?}: \
         paged/classic {:.3}",
        paged.as_secs_f64() / classic.as_secs_f64()
    );
}

const ALTERNATIONS: usize = 20_000;

/// The median time of `a` and of `b`, run in turn [`ALTERNATIONS`] times.
fn alternated(
    conn: &mut Connection,
    a: impl Fn(&mut Connection),
    b: impl Fn(&mut Connection),
) -> (std::time::Duration, std::time::Duration) {
    let (mut times_a, mut times_b) = (Vec::with_capacity(ALTERNATIONS), Vec::with_capacity(ALTERNATIONS));
    for _ in 0..ALTERNATIONS {
        let started = std::time::Instant::now();
        a(conn);
        times_a.push(started.elapsed());
        let started = std::time::Instant::now();
        b(conn);
        times_b.push(started.elapsed());
    }
    times_a.sort_unstable();
    times_b.sort_unstable();
    (times_a[ALTERNATIONS / 2], times_b[ALTERNATIONS / 2])
}

criterion_group!(benches, paging);
criterion_main!(benches);
