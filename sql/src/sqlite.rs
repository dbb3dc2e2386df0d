//! The news feed's SQLite schema and statements.
//!
//! Two programs run them against the same kind of file: the host's embedded
//! backend (`runtime-host/src/backend/sqlite.rs`, over rusqlite) and the Spin
//! adapter (`adapters/spin-sqlite/`, over Spin's SQLite interface). A database
//! written by one is read by the other, so both take every table, query and
//! rule from here, and only the calling conventions differ.
//!
//! Every statement is a single statement: Spin's `execute` runs one at a time.
//!
//! Search: FTS5 indexes each post's [`document`](crate::search::document),
//! words already split and folded in Rust, so its `ascii` tokenizer only
//! splits at the spaces between them and folds nothing more.

/// The schema, one migration per entry, each a list of statements;
/// `PRAGMA user_version` counts how many migrations have run.
pub const MIGRATIONS: &[&[&str]] = &[
    &[
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
    ],
    &[
        // Version 2: search by the shared Rust word rules (`crate::search`),
        // which PostgreSQL applies too. Contentless (the text is stored once, in
        // `post`) and without positions (every keyword is one word).
        "DROP TABLE post_text",
        "CREATE VIRTUAL TABLE post_words USING fts5(words, content = '', detail = none, tokenize = 'ascii')",
    ],
    &[
        // Version 3: the writers merge the index's segments themselves, a
        // slice at a time ([`MERGE_INDEX`]); FTS5's own merging stops.
        "INSERT INTO post_words (post_words, rank) VALUES ('automerge', 0)",
    ],
    &[
        // Version 4: paging. The key of the lists' cursors (`crate::cursor`),
        // one random row; and a friends list read by seeks on both sides
        // (`friendship_by_high` holds `(high, id)` already: the rowid).
        "CREATE TABLE cursor_key (key BLOB NOT NULL)",
        "INSERT INTO cursor_key (key) VALUES (randomblob(32))",
        "CREATE INDEX friendship_by_low ON friendship(low, id)",
    ],
];

/// Migrations after which every stored post must be indexed again ([`Step::IndexEveryPost`]).
const REINDEX_AFTER: &[usize] = &[2];

/// How many migrations the current schema has.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub const READ_SCHEMA_VERSION: &str = "PRAGMA user_version";

/// One step of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run this statement.
    Sql(String),
    /// Index every stored post anew: read [`EVERY_POST`], and run
    /// [`INDEX_POST`] with each one's [`document`](crate::search::document).
    IndexEveryPost,
}

/// → `id`, `subject`, `story` of every post.
pub const EVERY_POST: &str = "SELECT id, subject, story FROM post";

/// The steps that bring a schema at version `done` up to date, the last
/// recording the new version. Run them in one write transaction that also
/// read `done`, so that two migrators cannot both run them.
pub fn migration(done: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for (version, statements) in (1..).zip(MIGRATIONS).skip(done) {
        steps.extend(statements.iter().map(|s| Step::Sql(s.to_string())));
        if REINDEX_AFTER.contains(&version) {
            steps.push(Step::IndexEveryPost);
        }
    }
    // A pragma takes no parameters, hence the text.
    steps.push(Step::Sql(format!("PRAGMA user_version = {}", SCHEMA_VERSION.max(done))));
    steps
}

/// `?1` = id → `name`.
pub const PARTICIPANT_NAME: &str = "SELECT name FROM participant WHERE id = ?1";
/// `?1` = id → one row if the participant exists.
pub const PARTICIPANT_EXISTS: &str = "SELECT 1 FROM participant WHERE id = ?1";
/// `?1` = name → the new `id`.
pub const INSERT_PARTICIPANT: &str = "INSERT INTO participant (name) VALUES (?1) RETURNING id";

/// → the key that signs the lists' cursors (`crate::cursor`): written once,
/// with the schema, and never changed, so a backend may read it once.
pub const CURSOR_KEY: &str = "SELECT key FROM cursor_key";
/// `?1` = participant → the cursor key, and whether the participant exists:
/// the head of a list, for a reader that keeps nothing between requests
/// (the Spin adapter, a fresh instance each time).
pub const LIST_HEAD: &str = "SELECT key, EXISTS (SELECT 1 FROM participant WHERE id = ?1) FROM cursor_key";

// The lists: each a page, newest first: `?1` = the participant, `?2` = how
// many rows, `?3` = the id to seek below (`crate::cursor`). The first column
// is the item's own id. Each is one statement, so one snapshot.

/// → `id`, the friend's id. A seek on each side of the friendship, merged.
pub const LIST_FRIENDS: &str = "SELECT id, other FROM (
         SELECT id, high AS other FROM friendship WHERE low = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2)
     UNION ALL SELECT id, other FROM (
         SELECT id, low AS other FROM friendship WHERE high = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2)
     ORDER BY id DESC LIMIT ?2";
/// `?1` = low, `?2` = high: stores the friendship unless it exists.
pub const INSERT_FRIENDSHIP: &str = "INSERT OR IGNORE INTO friendship (low, high) VALUES (?1, ?2)";
/// `?1` = low, `?2` = high → the friendship's `id`.
pub const FRIENDSHIP_ID: &str = "SELECT id FROM friendship WHERE low = ?1 AND high = ?2";

/// → `id`, `occurred`, `subject`, `story` of the author's posts.
pub const LIST_OUTBOUND: &str =
    "SELECT id, occurred, subject, story FROM post WHERE author = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2";
/// → `id`, `author`, `occurred`, `subject`, `story` of the reader's feed.
pub const LIST_INBOUND: &str = "SELECT i.id, p.author, p.occurred, p.subject, p.story
     FROM inbound i JOIN post p ON p.id = i.post
     WHERE i.reader = ?1 AND i.id < ?3 ORDER BY i.id DESC LIMIT ?2";

/// `?1` author, `?2` occurred, `?3` subject, `?4` story → the post's `id`.
pub const INSERT_POST: &str =
    "INSERT INTO post (author, occurred, subject, story) VALUES (?1, ?2, ?3, ?4) RETURNING id";
/// `?1` = author, `?2` = post id: one inbound item for every current friend.
pub const FAN_OUT: &str = "INSERT INTO inbound (reader, post)
     SELECT CASE WHEN low = ?1 THEN high ELSE low END, ?2 FROM friendship
     WHERE low = ?1 OR high = ?1 ORDER BY id";
/// `?1` = post id, `?2` = its [`document`](crate::search::document):
/// indexes the post for search.
pub const INDEX_POST: &str = "INSERT INTO post_words (rowid, words) VALUES (?1, ?2)";

/// `?1` = pages: merges the index's segments, writing at most about that
/// many pages, wherever a level holds 4 segments (FTS5's `usermerge`) or a
/// merge is under way. Run after a transaction's index inserts.
///
/// Every commit that indexes posts adds a segment, and searches read every
/// segment, so segments must be merged as they come. FTS5's own merging
/// (`automerge`) does it in the commit that tips it, in steps of 64 pages
/// times the index's depth: a few hundred pages, tens of milliseconds, that
/// every write of that commit waits for. A slice of [`MERGE_PAGES`] after
/// each commit's inserts does the same work in steps that small.
pub const MERGE_INDEX: &str = "INSERT INTO post_words (post_words, rank) VALUES ('merge', ?1)";

/// → how many segments the search index has: a search reads every one.
pub const INDEX_SEGMENTS: &str = "SELECT count(DISTINCT segid) FROM post_words_idx";

/// The merge slice: enough that the index keeps pace with the writes (one
/// new segment a commit, of a few pages), small enough to cost about a
/// millisecond.
pub const MERGE_PAGES: i64 = 16;

/// An FTS5 query matching `keyword`, one of [`keywords`](crate::search::keywords),
/// as a plain phrase: quoted, so that even an FTS keyword (`NEAR`) is a word.
pub fn phrase(keyword: &str) -> String {
    format!("\"{}\"", keyword.replace('"', "\"\""))
}

/// The search query for `keywords` keywords, bound as `?1..?n` (each a
/// [`phrase`]) and the limit as `?n+1`: posts scored by how many distinct
/// keywords they hold, each poster ranked by its best post (more keywords,
/// then newer) → `author`.
pub fn search(keywords: usize) -> String {
    let hits: Vec<String> =
        (1..=keywords).map(|i| format!("SELECT rowid AS post FROM post_words WHERE post_words MATCH ?{i}")).collect();
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
        let statements = MIGRATIONS.iter().map(|m| m.len()).sum::<usize>();
        assert_eq!(from_scratch.len(), statements + REINDEX_AFTER.len() + 1);
        let version = |v: usize| Step::Sql(format!("PRAGMA user_version = {v}"));
        assert_eq!(migration(SCHEMA_VERSION), [version(SCHEMA_VERSION)]);
        assert_eq!(migration(SCHEMA_VERSION + 1), [version(SCHEMA_VERSION + 1)]);
        // From version 1, the new index is built, then filled, before the
        // later migrations, and the version is recorded last.
        let from_one = migration(1);
        let built = MIGRATIONS[1].len();
        assert_eq!(from_one[built], Step::IndexEveryPost);
        assert_eq!(from_one.len(), built + 1 + MIGRATIONS[2..].iter().map(|m| m.len()).sum::<usize>() + 1);
        assert_eq!(from_one.last(), Some(&version(SCHEMA_VERSION)));
    }

    #[test]
    fn every_statement_is_a_single_statement() {
        for statement in MIGRATIONS.iter().flat_map(|m| m.iter()) {
            assert!(!statement.contains(';'), "{statement}");
        }
    }
}
