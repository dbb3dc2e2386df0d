//! A PostgreSQL database written by the version-1 schema, whose search
//! vectors PostgreSQL's parser made (`to_tsvector('simple', ...)`, which
//! drops `²`), is indexed anew with the Rust words by the migration to
//! version 2: by the host's backend at start, and by the Spin adapter on
//! its first call.

use crate::common;
use common::postgres::{shared, spin_host};
use common::Host;
use serde_json::json;

/// Turns a migrated database back into what version 1 left: its version,
/// no paging key or index (version 3's), and every post indexed by
/// PostgreSQL's parser.
fn back_to_version_1(database: &str) {
    shared().psql(database, "UPDATE newsfeed_schema SET version = 1");
    shared().psql(database, "DROP TABLE cursor_key");
    shared().psql(database, "DROP INDEX friendship_by_low");
    shared().psql(database, "UPDATE post SET words = to_tsvector('simple', subject || ' ' || story)");
}

#[test]
fn posts_stored_under_version_1_are_indexed_anew_with_the_rust_words() {
    let server = shared();
    for through_the_adapter in [false, true] {
        let url = server.new_database();
        let database = url.rsplit('/').next().unwrap().to_string();
        let start = || match through_the_adapter {
            false => Host::builder().flags(&["--database", &url]).start(),
            true => spin_host(&url, &format!("127.0.0.1:{}", server.port)),
        };
        let host = start();
        let (einstein, hammer) = (host.participant("e"), host.participant("h"));
        host.publish(einstein, "mc²", "energy");
        host.publish(hammer, "mc", "hammer");
        drop(host);
        back_to_version_1(&database);
        let stale = server.psql(&database, "SELECT count(*) FROM post WHERE words @@ '''mc²'''::tsquery");
        assert_eq!(stale.trim(), "0", "version 1 dropped the ²");

        let host = start();
        let found = host.get("/outbound?keywords=mc%C2%B2");
        assert_eq!(found.json, json!([format!("/participant/{einstein}")]), "adapter: {through_the_adapter}");
        let version = newsfeed_sql::postgres::SCHEMA_VERSION.to_string();
        assert_eq!(server.psql(&database, "SELECT max(version) FROM newsfeed_schema").trim(), version);
    }
}
