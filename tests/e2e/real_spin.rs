//! The API contract against a real Spin: `spin up -f spin.toml` (the
//! functions composed with the SQLite adapter) and `spin up -f
//! spin-postgres.toml` (the PostgreSQL adapter, on a throwaway PostgreSQL
//! server, configured through `SPIN_VARIABLE_*` as a hosted platform would).
//!
//! Spin is found through `SPIN_BIN` (which `.cargo/config.toml` sets to the
//! Spin CLI kept beside the repository, where CI has Spin 4.1.0-pre0, with
//! issue 3671: a `query` that yields no row never returns), else `spin` on
//! PATH; without one every test here fails, saying so. Every request has a
//! client timeout, so a hang fails a test instead of stalling the run.

use crate::common;
use common::real_spin::{spin_up, spin_up_in, sqlite_file, stderr_of};
use common::Host;

/// Starts `spin up -f spin-postgres.toml` on `url`, with `db_host` the one
/// address the manifest allows.
fn spin_on_postgres(url: &str, db_host: &str) -> Host {
    spin_up(
        "spin-postgres.toml",
        &[("SPIN_VARIABLE_DB_URL", url.to_string()), ("SPIN_VARIABLE_DB_HOST", db_host.to_string())],
    )
}

fn server_address() -> String {
    format!("127.0.0.1:{}", common::postgres::shared().port)
}

/// The contract's cases on `spin up -f spin.toml`.
mod sqlite {
    use super::{common, Host};

    fn start() -> Host {
        common::real_spin::spin_up("spin.toml", &[])
    }

    crate::api::cases::every_case!();
}

/// The contract's cases on `spin up -f spin-postgres.toml`, each on a new
/// database of one server.
mod postgres {
    use super::{common, Host};

    fn start() -> Host {
        super::spin_on_postgres(&common::postgres::shared().new_database(), &super::server_address())
    }

    crate::api::cases::every_case!();
}

/// Reads that find nothing (an unknown participant, an empty list, a search
/// without hits) and a friendship that already exists answer at once on
/// PostgreSQL: on Spin 4.0.x a `query` yielding no row would hang them
/// (issue 3671), and after 64 such hangs, every request.
#[test]
fn reads_that_find_nothing_answer_on_postgres() {
    let host = spin_on_postgres(&common::postgres::shared().new_database(), &server_address());
    for _ in 0..3 {
        assert_eq!(host.get("/participant/424242").status, 404);
        assert_eq!(host.get("/participant/424242/inbound").status, 404);
        assert_eq!(host.get("/outbound?keywords=nothing").json, serde_json::json!([]));
    }
    let (a, b) = (host.participant("a"), host.participant("b"));
    assert_eq!(host.get(&format!("/participant/{a}/inbound")).json, serde_json::json!([]));
    assert_eq!(host.befriend(a, b).status, 200);
    assert_eq!(host.befriend(b, a).status, 200, "ON CONFLICT DO NOTHING: no row");
    assert_eq!(host.publish(424242, "s", "t").status, 404);
}

/// The hot path's own answers on both manifests: a path no route has is
/// the contract's JSON 404, and a body over the limit a JSON 413.
#[test]
fn unknown_paths_and_bodies_over_the_limit_get_json_answers() {
    let sqlite = spin_up("spin.toml", &[]);
    let postgres = spin_on_postgres(&common::postgres::shared().new_database(), &server_address());
    for host in [&sqlite, &postgres] {
        let missing = host.get("/no/such/path");
        assert_eq!((missing.status, missing.content_type.as_str()), (404, "application/json"));
        let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(1 << 20));
        let over = host.post("/participant", &huge);
        assert_eq!(over.status, 413);
        assert!(over.json["error"].is_string());
    }
}

/// A database whose schema a newer newsfeed wrote is refused by the SQLite
/// adapter: 503, the reason in the log, nothing written.
#[test]
fn the_sqlite_adapter_refuses_a_schema_newer_than_its_own() {
    let host = spin_up("spin.toml", &[]);
    host.participant("before");
    let file = sqlite_file(&host);
    let (_, state) = host.terminate();
    rusqlite::Connection::open(&file).unwrap().pragma_update(None, "user_version", 1000).unwrap();
    let again = spin_up_in(state, "spin.toml", &[]);
    let refused = again.send("POST", "/participant", Some(r#"{"name": "after"}"#));
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(stderr_of(&again).contains("newer than this adapter"), "{}", stderr_of(&again));
    let names: i64 = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("SELECT count(*) FROM participant", [], |row| row.get(0))
        .unwrap();
    assert_eq!(names, 1, "nothing written");
}

/// The same on PostgreSQL.
#[test]
fn the_postgres_adapter_refuses_a_schema_newer_than_its_own() {
    let server = common::postgres::shared();
    let url = server.new_database();
    let host = spin_on_postgres(&url, &server_address());
    host.participant("before");
    let database = url.rsplit('/').next().unwrap();
    server.psql(database, "INSERT INTO newsfeed_schema (version) VALUES (1000)");
    let refused = host.send("POST", "/participant", Some(r#"{"name": "after"}"#));
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(stderr_of(&host).contains("newer than this adapter"), "{}", stderr_of(&host));
    assert_eq!(server.psql(database, "SELECT count(*) FROM participant").trim(), "1", "nothing written");
}
