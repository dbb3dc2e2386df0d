//! The host's `spin:postgres` and the PostgreSQL adapter at their edges, on
//! a real PostgreSQL server: outbound permissions that cannot be
//! side-stepped (`hostaddr=`), connections handed from one component to the
//! next without their session state, the adapter's answers to a post too
//! large to index and to a schema newer than its own.

use crate::common;
use common::postgres::{shared, spin_host};
use common::Host;
use newsfeed::spin::postgres::spin::postgres::postgres::{DbValue, HostConnection};
use newsfeed::spin::postgres::{AllowedHost, Pools, SpinPostgresCtx, SpinPostgresView};
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTable};

fn database_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

fn schema_made(database: &str) -> String {
    shared().psql(database, "SELECT count(*) FROM pg_tables WHERE tablename = 'newsfeed_schema'").trim().to_string()
}

/// With `db.invalid:PORT` the one allowed host, a connection string that
/// names it but adds `hostaddr=127.0.0.1` (tokio-postgres connects there),
/// or one with only `hostaddr=`, is refused: 503, and the server is never
/// touched.
#[test]
fn a_hostaddr_side_step_is_refused_and_nothing_is_stored() {
    let server = shared();
    let allowed = format!("db.invalid:{}", server.port);
    let url = server.new_database();
    let database = database_of(&url);
    let side_steps = [
        format!("postgres://postgres@db.invalid:{}/{database}?hostaddr=127.0.0.1", server.port),
        format!("hostaddr=127.0.0.1 port={} user=postgres dbname={database}", server.port),
    ];
    for side_step in side_steps {
        let host = spin_host(&side_step, &allowed);
        let answer = host.send("POST", "/participant", Some(r#"{"name": "x"}"#));
        assert_eq!(answer.status, 503, "{side_step}: {answer:?}");
        assert_eq!(schema_made(database), "0", "{side_step}: a connection was made to an address not allowed");
    }
}

/// A connection goes back to its pool reset: a `SET` and a session
/// advisory lock taken by one component are gone when the next one gets
/// the same server connection.
#[tokio::test]
async fn a_pooled_connection_carries_no_session_state_to_the_next_component() {
    let server = shared();
    let url = server.new_database();
    let allowed = AllowedHost::parse_all(&[format!("postgres://127.0.0.1:{}", server.port)]).unwrap();
    let ctx = SpinPostgresCtx { pools: Pools::new(1), allowed: Arc::from(allowed) };
    let mut table = ResourceTable::new();
    let mut view = SpinPostgresView { ctx: &ctx, table: &mut table };
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let connection = view.open(url.clone()).await.unwrap().unwrap();
        let borrow = || Resource::<newsfeed::spin::postgres::Connection>::new_borrow(connection.rep());
        let query = "SELECT pg_backend_pid(), current_setting('application_name'), \
                     (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())";
        let rows = view.query(borrow(), query.into(), vec![]).await.unwrap().unwrap().rows;
        sessions.push(rows[0].clone());
        let set = "SET application_name = 'left-behind'";
        view.execute(borrow(), set.into(), vec![]).await.unwrap().unwrap();
        view.execute(borrow(), "SELECT pg_advisory_lock(42)".into(), vec![]).await.unwrap().unwrap();
        HostConnection::drop(&mut view, connection).await.unwrap();
    }
    assert_eq!(sessions[0][0], sessions[1][0], "one pooled server connection, reused");
    assert_eq!(sessions[1][1], DbValue::Str(String::new()), "the SET was reset");
    assert_eq!(sessions[1][2], DbValue::Int64(0), "the advisory lock was released");
}

/// Words whose bytes overflow a `tsvector` (1 MiB): upper-case letters that
/// grow when folded (`Ⱥ`, 2 bytes, becomes `ⱥ`, 3), in distinct words,
/// within the 1 MiB body limit.
fn too_many_words() -> String {
    (0..30_000u32)
        .map(|n| (0..16).map(|bit| if n >> bit & 1 == 1 { 'Ⱥ' } else { 'Ⱦ' }).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The adapter answers a post too large to index as the host's PostgreSQL
/// backend does: 400, nothing stored; not 503.
#[test]
fn a_post_too_large_to_index_is_a_400_on_the_adapter_as_on_the_backend() {
    let server = shared();
    let (backend_url, adapter_url) = (server.new_database(), server.new_database());
    let backend = Host::builder().flags(&["--database", &backend_url]).start();
    let adapter = spin_host(&adapter_url, &format!("127.0.0.1:{}", server.port));
    let story = too_many_words();
    for (host, url) in [(&backend, &backend_url), (&adapter, &adapter_url)] {
        let author = host.participant("a");
        let answer = host.publish(author, "s", &story);
        assert_eq!(answer.status, 400, "{answer:?}");
        assert_eq!(answer.json["error"], newsfeed_sql::postgres::TOO_MANY_WORDS);
        assert_eq!(server.psql(database_of(url), "SELECT count(*) FROM post").trim(), "0");
    }
}

/// The PostgreSQL adapter refuses a database that a newer newsfeed
/// migrated: 503 and nothing written (`tests/e2e/real_spin.rs` checks the same,
/// and the reason in the log, on a real Spin).
#[test]
fn the_postgres_adapter_refuses_a_schema_newer_than_its_own() {
    let server = shared();
    let url = server.new_database();
    let postgres = spin_host(&url, &format!("127.0.0.1:{}", server.port));
    postgres.participant("before");
    server.psql(database_of(&url), "INSERT INTO newsfeed_schema (version) VALUES (1000)");
    assert_eq!(postgres.send("POST", "/participant", Some(r#"{"name": "after"}"#)).status, 503);
    assert_eq!(server.psql(database_of(&url), "SELECT count(*) FROM participant").trim(), "1");
}

/// The same for the SQLite adapter.
#[test]
fn the_sqlite_adapter_refuses_a_schema_newer_than_its_own() {
    let sqlite = Host::builder().flags(&["--as-spin"]).start();
    sqlite.participant("before");
    let (_, state) = sqlite.terminate();
    let file = state.path().join("state/newsfeed.db");
    rusqlite::Connection::open(&file).unwrap().pragma_update(None, "user_version", 1000).unwrap();
    let sqlite = Host::builder().state_dir(state).flags(&["--as-spin"]).start();
    assert_eq!(sqlite.send("POST", "/participant", Some(r#"{"name": "after"}"#)).status, 503);
    let count: i64 = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("SELECT count(*) FROM participant", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1);
}
