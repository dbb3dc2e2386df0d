//! The news feed's PostgreSQL schema and statements.
//!
//! The same tables as [`sqlite`](crate::sqlite), with PostgreSQL's own tools:
//! identity columns give each row its server-assigned, ever-growing id, which
//! orders every list newest first; search is a `tsvector` per post, indexed
//! with GIN. The words are Rust's ([`document`](crate::search::document)
//! and [`keywords`](crate::search::keywords)), taken as they are
//! (`array_to_tsvector`, and a `tsquery` of one quoted lexeme): PostgreSQL
//! never parses them again, so its word rule cannot differ from SQLite's
//! (its parser drops `²`, `½`, `①`, which Rust counts as word characters).
//!
//! Parameters are typed as the statements use them: ids and limits `int8`,
//! text `text`, a search's keywords one `text[]`.
//!
//! Every read answers at least one row, and every statement whose rows no
//! caller reads is meant for `execute`: the Spin PostgreSQL adapter runs
//! these statements too, and in Spin 4.0.0 to 4.0.2 (and 4.1.0-pre builds
//! before PR 3673) a synchronous `query` that yields no row never returns
//! (spinframework/spin issue 3671). Hence the aggregates, the scalar
//! subqueries and the sentinel rows below; they cost the host's backend
//! nothing it would notice.

/// The schema, one migration per entry. Version `n` has run the first `n`.
pub const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE participant (
        id   int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL
    )",
        // One row per friendship, stored with low < high; read from either side.
        "CREATE TABLE friendship (
        id   int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        low  int8 NOT NULL REFERENCES participant(id),
        high int8 NOT NULL REFERENCES participant(id),
        UNIQUE (low, high),
        CHECK (low < high)
    )",
        "CREATE INDEX friendship_by_high ON friendship(high)",
        "CREATE TABLE post (
        id       int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        author   int8 NOT NULL REFERENCES participant(id),
        occurred text NOT NULL,
        subject  text NOT NULL,
        story    text NOT NULL,
        words    tsvector NOT NULL
    )",
        "CREATE INDEX post_by_author ON post(author, id)",
        // Without fastupdate: every insert updates the index at once, instead of
        // queueing to a pending list that each search must scan. Measured in the
        // classic mix (32 users): search 383 -> 1,923/s, create_post 678 ->
        // 1,000/s, create_post p99 254 -> 72 ms.
        "CREATE INDEX post_words ON post USING gin (words) WITH (fastupdate = off)",
        "CREATE TABLE inbound (
        id     int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        reader int8 NOT NULL REFERENCES participant(id),
        post   int8 NOT NULL REFERENCES post(id)
    )",
        "CREATE INDEX inbound_by_reader ON inbound(reader, id)",
    ],
    // Version 2: the words are Rust's, taken as they are (`array_to_tsvector`)
    // instead of parsed again by `to_tsvector('simple', ...)`; every post
    // stored before is indexed anew ([`REINDEX_AFTER`]).
    &["COMMENT ON COLUMN post.words IS 'array_to_tsvector of the Rust words (newsfeed_sql::search::document)'"],
    &[
        // Version 3: paging. The key of the lists' cursors (`crate::cursor`):
        // one row of 32 bytes from PostgreSQL's strong random source, shared
        // by every host and adapter on this database; and a friends list read
        // by seeks on both sides.
        "CREATE TABLE cursor_key (key bytea NOT NULL)",
        "INSERT INTO cursor_key (key) SELECT sha256((gen_random_uuid()::text || gen_random_uuid()::text)::bytea)",
        "CREATE INDEX friendship_by_low ON friendship(low, id)",
        "DROP INDEX friendship_by_high",
        "CREATE INDEX friendship_by_high ON friendship(high, id)",
    ],
];

/// Migrations after which every stored post must be indexed again
/// ([`Step::IndexEveryPost`]).
const REINDEX_AFTER: &[usize] = &[2];

/// How many migrations the current schema has.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// One step of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run this statement (it answers no rows: `execute` it).
    Sql(&'static str),
    /// Index every stored post anew: read [`POSTS_AFTER`] batch by batch,
    /// and run [`INDEX_POST`] with each one's
    /// [`document`](crate::search::document).
    IndexEveryPost,
}

/// Taken (for the transaction) before the schema is read or changed, so that
/// of N hosts starting at once one migrates and the others then find nothing
/// left to do. Any fixed int8 works; this one is the ASCII bytes of "newsfeed".
/// Its one row (a `void`) is not read: `execute` it.
pub const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7954895654342714724)";
/// Where the schema's version is kept; created before it is first read.
pub const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS newsfeed_schema (version int4 NOT NULL)";
/// → the version, `0` for a new database (an aggregate: always one row).
pub const READ_SCHEMA_VERSION: &str = "SELECT coalesce(max(version), 0) FROM newsfeed_schema";
/// `$1` = the version reached.
pub const RECORD_SCHEMA_VERSION: &str = "INSERT INTO newsfeed_schema (version) VALUES ($1)";

/// The steps that bring a schema at version `done` up to date. Run them,
/// then [`RECORD_SCHEMA_VERSION`], in the transaction that took
/// [`MIGRATION_LOCK`] and read `done`.
pub fn migration(done: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for (version, statements) in (1..).zip(MIGRATIONS).skip(done) {
        steps.extend(statements.iter().copied().map(Step::Sql));
        // A new database has no post to index.
        if REINDEX_AFTER.contains(&version) && done > 0 {
            steps.push(Step::IndexEveryPost);
        }
    }
    steps
}

/// How many posts [`POSTS_AFTER`] reads at once while indexing anew.
pub const REINDEX_BATCH: i64 = 500;
/// `$1` = the last id indexed (0 at first), `$2` = how many → `ids`,
/// `subjects`, `stories` of the next posts by id, as three arrays (one row,
/// the arrays NULL when none is left).
pub const POSTS_AFTER: &str =
    "SELECT array_agg(id ORDER BY id), array_agg(subject ORDER BY id), array_agg(story ORDER BY id)
     FROM (SELECT id, subject, story FROM post WHERE id > $1 ORDER BY id LIMIT $2) p";
/// `$1` = post id, `$2` = its [`document`](crate::search::document).
pub const INDEX_POST: &str = "UPDATE post SET words = array_to_tsvector(string_to_array($2, ' ')) WHERE id = $1";

/// The most bytes of words one `tsvector` holds (its positions are 20
/// bits). `array_to_tsvector` does not check it, and an overlong vector or
/// word is silently stored wrong, so it is checked here, before the
/// statement runs.
pub const MAX_INDEXED_BYTES: usize = (1 << 20) - 1;

/// Whether PostgreSQL can index `document` (each word shorter than a
/// `tsvector` lexeme's limit is already the rule of
/// [`words`](crate::search::words)). `Err` is the client's message.
pub fn check_document(document: &str) -> Result<(), String> {
    let spaces = document.bytes().filter(|&b| b == b' ').count();
    match document.len() - spaces > MAX_INDEXED_BYTES {
        true => Err(TOO_MANY_WORDS.to_string()),
        false => Ok(()),
    }
}

/// The answer to a post whose words overflow a `tsvector`: the input's
/// fault, not the backend's.
pub const TOO_MANY_WORDS: &str = "the post holds too many distinct words to index";

/// PostgreSQL's SQLSTATE for a program limit exceeded (`54000`), which a
/// `tsvector` too large raises.
pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";

/// `$1` = id → `name`, NULL for an unknown participant (a sentinel row:
/// always one row).
pub const PARTICIPANT_NAME: &str = "SELECT (SELECT name FROM participant WHERE id = $1)";
/// `$1`, `$2` = ids → whether each exists (one row, two booleans).
pub const EXISTING_PARTICIPANTS: &str =
    "SELECT EXISTS (SELECT 1 FROM participant WHERE id = $1), EXISTS (SELECT 1 FROM participant WHERE id = $2)";
/// `$1` = name → the new `id`.
pub const INSERT_PARTICIPANT: &str = "INSERT INTO participant (name) VALUES ($1) RETURNING id";

// The lists: one statement each, so one round trip and one snapshot that
// reads the cursor key (`crate::cursor`), tells whether the participant
// exists and reads a page of its list. `$1` = the participant, `$2` = how
// many rows, `$3` = the id to seek below. The columns: the key, the
// participant's id (NULL: unknown), then the item's own id and its fields.
// Always at least one row (the key's): a row with a NULL item is an empty
// list. (Spin's PostgreSQL interface must never be asked for zero rows:
// Spin issue 3671.)

/// → key, participant, `id`, the friend's id. A seek on each side, merged.
pub const LIST_FRIENDS: &str = "SELECT k.key, p.id, f.id, f.other
     FROM cursor_key k LEFT JOIN participant p ON p.id = $1 LEFT JOIN LATERAL (
         (SELECT id, high AS other FROM friendship WHERE low = $1 AND id < $3 ORDER BY id DESC LIMIT $2)
         UNION ALL
         (SELECT id, low AS other FROM friendship WHERE high = $1 AND id < $3 ORDER BY id DESC LIMIT $2)
         ORDER BY id DESC LIMIT $2
     ) f ON true
     ORDER BY f.id DESC";
/// `$1` = low, `$2` = high: stores the friendship unless it exists. Waits
/// for a concurrent insert of the same pair to end, so that
/// [`FRIENDSHIP_ID`], run next, finds the row either way. No rows: `execute` it.
pub const INSERT_FRIENDSHIP: &str = "INSERT INTO friendship (low, high) VALUES ($1, $2) ON CONFLICT DO NOTHING";
/// `$1` = low, `$2` = high → the friendship's `id` (NULL if none: always one row).
pub const FRIENDSHIP_ID: &str = "SELECT (SELECT id FROM friendship WHERE low = $1 AND high = $2)";

/// → key, participant, `id`, `occurred`, `subject`, `story`.
pub const LIST_OUTBOUND: &str = "SELECT k.key, p.id, o.id, o.occurred, o.subject, o.story
     FROM cursor_key k LEFT JOIN participant p ON p.id = $1 LEFT JOIN LATERAL (
         SELECT id, occurred, subject, story FROM post WHERE author = $1 AND id < $3 ORDER BY id DESC LIMIT $2
     ) o ON true
     ORDER BY o.id DESC";
/// → key, participant, `id`, `author`, `occurred`, `subject`, `story`.
pub const LIST_INBOUND: &str = "SELECT k.key, p.id, i.id, i.author, i.occurred, i.subject, i.story
     FROM cursor_key k LEFT JOIN participant p ON p.id = $1 LEFT JOIN LATERAL (
         SELECT i.id, q.author, q.occurred, q.subject, q.story
         FROM inbound i JOIN post q ON q.id = i.post
         WHERE i.reader = $1 AND i.id < $3 ORDER BY i.id DESC LIMIT $2
     ) i ON true
     ORDER BY i.id DESC";

/// The whole publish in one statement, so one transaction and one round
/// trip: `$1` author, `$2` occurred, `$3` subject, `$4` story, `$5` the
/// post's [`document`](crate::search::document) (checked first with
/// [`check_document`]). Stores the post with its search vector and fans it
/// out, with one `INSERT ... SELECT`, to every friend the author has in the
/// statement's snapshot → how many posts were stored: 1 if the author
/// exists, 0 if not (and nothing was).
pub const PUBLISH: &str = "WITH author AS (SELECT id FROM participant WHERE id = $1),
          stored AS (
              INSERT INTO post (author, occurred, subject, story, words)
              SELECT id, $2, $3, $4, array_to_tsvector(string_to_array($5, ' ')) FROM author
              RETURNING id),
          fanned AS (
              INSERT INTO inbound (reader, post)
              SELECT CASE WHEN f.low = $1 THEN f.high ELSE f.low END, stored.id
              FROM friendship f, stored WHERE f.low = $1 OR f.high = $1 ORDER BY f.id)
     SELECT count(*) FROM stored";

/// `$1` = the keywords (each one of [`keywords`](crate::search::keywords)),
/// `$2` = limit: posts scored by how many distinct keywords they hold, each
/// poster ranked by its best post (more keywords, then newer) → the
/// `author`s, best first, as one array (one row; empty when none). Each
/// keyword is one quoted lexeme (`quote_literal`), so the `tsquery` holds
/// it as it is.
pub const SEARCH: &str = "WITH hit AS (
              SELECT p.id AS post, p.author, count(*) AS score
              FROM unnest($1::text[]) AS k(word)
              JOIN post p ON p.words @@ quote_literal(k.word)::tsquery
              GROUP BY p.id, p.author),
          ranked AS (
              SELECT author, score, post,
                     row_number() OVER (PARTITION BY author ORDER BY score DESC, post DESC) AS nth
              FROM hit),
          best AS (
              SELECT author, score, post FROM ranked WHERE nth = 1 ORDER BY score DESC, post DESC LIMIT $2)
     SELECT coalesce(array_agg(author ORDER BY score DESC, post DESC), '{}') FROM best";

/// A cheap round trip: the database answers.
pub const PING: &str = "SELECT 1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_migration_runs_only_what_is_pending() {
        assert_eq!(migration(0).len(), MIGRATIONS.iter().map(|m| m.len()).sum::<usize>(), "nothing to index");
        assert_eq!(migration(SCHEMA_VERSION), []);
        let from_1 = migration(1);
        assert_eq!(from_1[MIGRATIONS[1].len()], Step::IndexEveryPost, "indexed right after version 2");
        assert_eq!(from_1.len(), MIGRATIONS[1].len() + 1 + MIGRATIONS[2].len());
    }

    #[test]
    fn a_document_too_large_for_a_tsvector_is_refused() {
        let word = "x".repeat(1000);
        let fits: Vec<String> = (0..1000).map(|i| format!("{word}{i:04}")).collect();
        assert!(check_document(&fits.join(" ")).is_ok());
        let over: Vec<String> = (0..1100).map(|i| format!("{word}{i:04}")).collect();
        assert_eq!(check_document(&over.join(" ")), Err(TOO_MANY_WORDS.to_string()));
    }

    #[test]
    fn every_statement_is_a_single_statement() {
        let all = MIGRATIONS.iter().flat_map(|m| m.iter()).chain([
            &PUBLISH,
            &SEARCH,
            &LIST_FRIENDS,
            &LIST_OUTBOUND,
            &LIST_INBOUND,
            &POSTS_AFTER,
        ]);
        for statement in all {
            assert!(!statement.contains(';'), "{statement}");
        }
    }
}
