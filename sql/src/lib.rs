//! The news feed's SQLite schema and statements.
//!
//! Two programs run them against the same kind of file: the host's embedded
//! backend (`runtime-host/src/store/sqlite.rs`, over rusqlite) and the Spin
//! adapter (`adapters/spin-sqlite/`, over Spin's SQLite interface). A database
//! written by one is read by the other, so both take every table, query and
//! rule from here, and only the calling conventions differ.
//!
//! Every statement is a single statement: Spin's `execute` runs one at a time.

/// The schema, one migration per entry, each a list of statements;
/// `PRAGMA user_version` counts how many migrations have run.
pub const MIGRATIONS: &[&[&str]] = &[&[
    "CREATE TABLE participant (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL
    )",
    // One row per friendship, stored with low < high; read from either side.
    "CREATE TABLE friendship (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        low  INTEGER NOT NULL REFERENCES participant(id),
        high INTEGER NOT NULL REFERENCES participant(id),
        UNIQUE (low, high),
        CHECK (low < high)
    )",
    "CREATE INDEX friendship_by_high ON friendship(high)",
    "CREATE TABLE post (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        author   INTEGER NOT NULL REFERENCES participant(id),
        occurred TEXT NOT NULL,
        subject  TEXT NOT NULL,
        story    TEXT NOT NULL
    )",
    "CREATE INDEX post_by_author ON post(author, id)",
    "CREATE TABLE inbound (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        reader INTEGER NOT NULL REFERENCES participant(id),
        post   INTEGER NOT NULL REFERENCES post(id)
    )",
    "CREATE INDEX inbound_by_reader ON inbound(reader, id)",
    // The search index over post's text, kept in step by `publish`.
    "CREATE VIRTUAL TABLE post_text USING fts5(subject, story, content = 'post', content_rowid = 'id')",
]];

/// How many migrations the current schema has.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub const READ_SCHEMA_VERSION: &str = "PRAGMA user_version";

/// The statements that bring a schema at version `done` up to date, the last
/// recording the new version. Run them in one write transaction that also
/// read `done`, so that two migrators cannot both run them.
pub fn migration(done: usize) -> Vec<String> {
    let pending = MIGRATIONS.iter().skip(done).flat_map(|migration| migration.iter()).map(|s| s.to_string());
    // A pragma takes no parameters, hence the text.
    pending.chain([format!("PRAGMA user_version = {}", SCHEMA_VERSION.max(done))]).collect()
}

/// `?1` = id → `name`.
pub const PARTICIPANT_NAME: &str = "SELECT name FROM participant WHERE id = ?1";
/// `?1` = id → one row if the participant exists.
pub const PARTICIPANT_EXISTS: &str = "SELECT 1 FROM participant WHERE id = ?1";
/// `?1` = name → the new `id`.
pub const INSERT_PARTICIPANT: &str = "INSERT INTO participant (name) VALUES (?1) RETURNING id";

/// `?1` = id, `?2` = limit → `id`, the friend's id; newest first.
pub const LIST_FRIENDS: &str = "SELECT id, CASE WHEN low = ?1 THEN high ELSE low END FROM friendship
     WHERE low = ?1 OR high = ?1 ORDER BY id DESC LIMIT ?2";
/// `?1` = low, `?2` = high: stores the friendship unless it exists.
pub const INSERT_FRIENDSHIP: &str = "INSERT OR IGNORE INTO friendship (low, high) VALUES (?1, ?2)";
/// `?1` = low, `?2` = high → the friendship's `id`.
pub const FRIENDSHIP_ID: &str = "SELECT id FROM friendship WHERE low = ?1 AND high = ?2";

/// `?1` = author, `?2` = limit → `occurred`, `subject`, `story`; newest first.
pub const LIST_OUTBOUND: &str = "SELECT occurred, subject, story FROM post WHERE author = ?1 ORDER BY id DESC LIMIT ?2";
/// `?1` = reader, `?2` = limit → `author`, `occurred`, `subject`, `story`; newest first.
pub const LIST_INBOUND: &str = "SELECT p.author, p.occurred, p.subject, p.story
     FROM inbound i JOIN post p ON p.id = i.post
     WHERE i.reader = ?1 ORDER BY i.id DESC LIMIT ?2";

/// `?1` author, `?2` occurred, `?3` subject, `?4` story → the post's `id`.
pub const INSERT_POST: &str =
    "INSERT INTO post (author, occurred, subject, story) VALUES (?1, ?2, ?3, ?4) RETURNING id";
/// `?1` = author, `?2` = post id: one inbound item for every current friend.
pub const FAN_OUT: &str = "INSERT INTO inbound (reader, post)
     SELECT CASE WHEN low = ?1 THEN high ELSE low END, ?2 FROM friendship
     WHERE low = ?1 OR high = ?1 ORDER BY id";
/// `?1` = post id, `?2` subject, `?3` story: indexes the post for search.
pub const INDEX_POST: &str = "INSERT INTO post_text (rowid, subject, story) VALUES (?1, ?2, ?3)";

/// The most distinct keywords one search may hold.
pub const MAX_KEYWORDS: usize = 32;

pub fn unknown_participant(id: i64) -> String {
    format!("participant {id} not found")
}

pub const SELF_FRIENDSHIP: &str = "a participant cannot befriend itself";

/// The keywords a search looks for: lower-cased, each once, without those
/// that hold no letter or digit (they hold no word to match). `Err` names the
/// rule broken when more than [`MAX_KEYWORDS`] remain.
pub fn search_keywords(keywords: &[String]) -> Result<Vec<String>, String> {
    let mut distinct: Vec<String> = keywords.iter().map(|k| k.to_lowercase()).collect();
    distinct.sort();
    distinct.dedup();
    distinct.retain(|k| k.chars().any(char::is_alphanumeric));
    if distinct.len() > MAX_KEYWORDS {
        return Err(format!("at most {MAX_KEYWORDS} distinct keywords"));
    }
    Ok(distinct)
}

/// An FTS5 query matching `keyword` as a plain phrase: quoted, so that no
/// character of it is FTS syntax.
pub fn phrase(keyword: &str) -> String {
    format!("\"{}\"", keyword.replace('"', "\"\""))
}

/// The search query for `keywords` keywords, bound as `?1..?n` (each a
/// [`phrase`]) and the limit as `?n+1`: posts scored by how many distinct
/// keywords they hold, each poster ranked by its best post (more keywords,
/// then newer) → `author`.
pub fn search(keywords: usize) -> String {
    let hits: Vec<String> =
        (1..=keywords).map(|i| format!("SELECT rowid AS post FROM post_text WHERE post_text MATCH ?{i}")).collect();
    format!(
        "WITH hit AS ({hits}),
              scored AS (SELECT post, COUNT(*) AS score FROM hit GROUP BY post),
              ranked AS (
                  SELECT p.author, s.score, s.post,
                         ROW_NUMBER() OVER (PARTITION BY p.author ORDER BY s.score DESC, s.post DESC) AS nth
                  FROM scored s JOIN post p ON p.id = s.post)
         SELECT author FROM ranked WHERE nth = 1 ORDER BY score DESC, post DESC LIMIT ?{limit}",
        hits = hits.join(" UNION ALL "),
        limit = keywords + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_folded_deduplicated_and_bounded() {
        let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(search_keywords(&words(&["Fox", "fox", "-", "\"", "dog"])).unwrap(), ["dog", "fox"]);
        let many: Vec<String> = (0..=MAX_KEYWORDS).map(|i| format!("w{i}")).collect();
        assert!(search_keywords(&many).is_err());
        assert_eq!(search_keywords(&many[..MAX_KEYWORDS]).unwrap().len(), MAX_KEYWORDS);
    }

    #[test]
    fn a_phrase_escapes_its_quotes() {
        assert_eq!(phrase("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn the_search_binds_one_parameter_per_keyword_then_the_limit() {
        let sql = search(3);
        assert!(sql.contains("MATCH ?3") && !sql.contains("MATCH ?4") && sql.ends_with("LIMIT ?4"));
    }

    #[test]
    fn a_migration_runs_only_what_is_pending_and_records_the_version() {
        let from_scratch = migration(0);
        assert_eq!(from_scratch.len(), MIGRATIONS.iter().map(|m| m.len()).sum::<usize>() + 1);
        assert_eq!(migration(SCHEMA_VERSION), [format!("PRAGMA user_version = {SCHEMA_VERSION}")]);
        assert_eq!(migration(SCHEMA_VERSION + 1), [format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1)]);
    }

    #[test]
    fn every_statement_is_a_single_statement() {
        for statement in MIGRATIONS.iter().flat_map(|m| m.iter()) {
            assert!(!statement.contains(';'), "{statement}");
        }
    }
}
