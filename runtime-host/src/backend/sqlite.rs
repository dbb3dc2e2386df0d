//! The embedded backend: one SQLite file (WAL mode) with FTS5 for search.
//!
//! Writes: group commit. Every write is queued to one writer thread, which
//! owns the one writer connection (SQLite allows a single writer anyway). It
//! takes as many writes as are waiting, up to a cap (`--max-write-batch`), runs them in one
//! transaction, each inside its own SAVEPOINT so that a write failing by rule
//! (an unknown participant, say) rolls back alone, and commits once: one
//! fsync for the whole batch. Only then is each waiter answered, so no write
//! is acknowledged before the commit that holds it is on disk. A lone write
//! does not wait for company: it commits at once.
//!
//! A post's search entry is written at the end of its batch, after every
//! write's savepoint, in the same transaction. FTS5 flushes its pending terms
//! into a new segment of its index at every savepoint: indexed inside its
//! own savepoint, each post became one segment, and the merges that many
//! segments call for ran inside the batches (up to 80 ms at a time). Indexed
//! together, a batch's posts make one segment.
//!
//! Reads take a connection from a small pool and run concurrently with the
//! writer (WAL): they never wait for a batch, and they see every write
//! acknowledged before they started. The bounded reads (a participant, a
//! page of a list: indexed, tens of microseconds) run right where they are
//! called, on the async worker: handing them to tokio's blocking pool and
//! back costs two thread wake-ups, more than the read itself. Search, which
//! can take milliseconds, runs on the blocking pool, so that it never holds
//! up a worker.
//!
//! The schema and every statement come from `newsfeed-sql`, which the Spin
//! adapter shares: a file written here reads the same there.
//!
//! Durability: `synchronous = FULL`, so a transaction that has committed, and
//! so every answer acknowledged with 200, survives a crash of the process or
//! of the machine.

use super::types::{FeedItem, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};
use super::{check_post, page_request, post_text, Backend, BackendError, StoreResult};
use crate::metrics::Metrics;
use newsfeed_sql::cursor::{List, PageRequest};
use newsfeed_sql::sqlite::{self as sql, Step};
use newsfeed_sql::{check_text, search, ListBudget, SELF_FRIENDSHIP};
use opentelemetry::trace::SpanContext;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

/// Readers kept open between calls; more are opened under load, then closed.
const IDLE_READERS: usize = 16;

/// The most writes one commit holds, unless told otherwise. Past a few dozen
/// the fsync is already shared widely; the cap bounds how long the first
/// waiter of a batch waits.
pub const DEFAULT_MAX_BATCH: usize = 64;

/// One queued write: runs inside the batch's transaction, in its own
/// savepoint, and hands back what answers its waiter once the batch's commit
/// is known, with the search entry it leaves for the end of the batch.
struct Job {
    /// The span of the request it was made for, if its trace is sampled:
    /// the group commit's span links to it.
    requester: Option<SpanContext>,
    run: Change,
}
/// A job's work: its change, in its savepoint, and what answers its waiter.
type Change = Box<dyn FnOnce(&Connection) -> (Answer, Option<SearchEntry>) + Send>;
/// Answers one waiter, given how the batch's commit went.
type Answer = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// A post's search entry: its id and its [`document`](search::document).
struct SearchEntry {
    post: Id,
    document: String,
}

pub struct Sqlite {
    writes: mpsc::Sender<Job>,
    /// The writer thread: once it has ended, no write can succeed.
    writer: std::thread::JoinHandle<()>,
    readers: Arc<Readers>,
    /// The key that signs the lists' cursors, read once at open: it never
    /// changes ([`sql::CURSOR_KEY`]).
    cursor_key: Arc<[u8]>,
}

/// Free space below which the disk holding a database counts as full: a
/// commit needs room for its WAL frames (a batch of posts is megabytes), and
/// a disk this close to full fails the next writes.
pub const MIN_FREE_SPACE: u64 = 64 << 20;

/// Whether the file system holding `path` has [`MIN_FREE_SPACE`] free (for
/// an unprivileged process).
pub fn check_free_space(path: &Path) -> StoreResult<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let stats = rustix::fs::statvfs(dir).map_err(|error| {
        BackendError::Unavailable(format!("cannot read the free space of {}: {error}", dir.display()))
    })?;
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    match free >= MIN_FREE_SPACE {
        true => Ok(()),
        false => {
            Err(BackendError::Unavailable(format!("the disk holding {} is full: {free} bytes free", path.display())))
        }
    }
}

/// The reader connections: opened as needed, up to [`IDLE_READERS`] kept.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Runs `query` on a reader connection, on the calling thread.
    fn with<T>(&self, query: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = self.idle.lock().map_err(poisoned)?.pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let result = query(&mut conn);
        // A connection left inside a transaction (a failed COMMIT) is closed,
        // which rolls it back, rather than pooled.
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().map_err(poisoned)?;
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }
}

impl From<rusqlite::Error> for BackendError {
    fn from(error: rusqlite::Error) -> Self {
        BackendError::Unavailable(error.to_string())
    }
}

/// How often, and how many times, a statement retries a database locked by
/// another connection's write: SQLite's own busy timeout sleeps up to 100 ms
/// between tries, far longer than a commit takes.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_micros(500);
const BUSY_RETRIES: i32 = 10_000;

/// The one way the host opens the SQLite file, for its own backend and for
/// the Spin SQLite interface (`--as-spin`) alike, so that both see the same
/// database: WAL, every commit synced, foreign keys enforced, and a locked
/// database retried every 0.5 ms for up to 5 s.
pub fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_handler(Some(|attempt| {
        std::thread::sleep(BUSY_RETRY);
        attempt < BUSY_RETRIES
    }))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Sqlite {
    /// Opens (creating if need be) the database file, brings its schema up
    /// to date, and starts the writer thread, which commits up to
    /// `max_batch` writes at once (1: a commit for every write); batches are
    /// counted in `metrics`.
    pub fn open(path: &Path, max_batch: usize, metrics: Arc<Metrics>) -> StoreResult<Sqlite> {
        let max_batch = max_batch.max(1);
        let mut writer = open_connection(path)?;
        migrate(&mut writer)?;
        let cursor_key: Vec<u8> = writer.query_row(sql::CURSOR_KEY, [], |row| row.get(0))?;
        let (writes, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_batches(writer, queue, max_batch, &metrics))
            .map_err(|error| BackendError::Unavailable(format!("starting the writer thread: {error}")))?;
        let readers = Readers { path: path.to_path_buf(), idle: Mutex::new(Vec::new()) };
        Ok(Sqlite { writes, writer, readers: Arc::new(readers), cursor_key: cursor_key.into() })
    }

    /// A read that may take long (one statement, so one snapshot), on the
    /// blocking pool.
    async fn read_apart<T, F>(&self, query: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        blocking(move || readers.with(|conn| query(conn))).await
    }

    /// Queues `change` for the writer and waits until the commit that holds
    /// it is durable (or the change failed, and nothing of it was written).
    async fn write<T, F>(&self, change: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_indexed(move |conn| Ok((change(conn)?, None))).await
    }

    /// [`write`](Self::write) for a change that may leave a search entry,
    /// written in the same commit if the change succeeds.
    async fn write_indexed<T, F>(&self, change: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<(T, Option<SearchEntry>)> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let requester = crate::telemetry::current_span_context();
        let run = Box::new(move |conn: &Connection| {
            let (result, entry) = match in_savepoint(conn, change) {
                Ok((value, entry)) => (Ok(value), entry),
                Err(error) => (Err(error), None),
            };
            let answer: Answer = Box::new(move |committed| {
                let _ = answer.send(result.and_then(|value| committed.map(|()| value)));
            });
            (answer, entry)
        });
        self.writes
            .send(Job { requester, run })
            .map_err(|_| BackendError::Unavailable("the writer has stopped".into()))?;
        answered
            .await
            .unwrap_or_else(|_| Err(BackendError::Unavailable("the write was lost: the writer failed".into())))
    }
}

/// Runs `change` in its own savepoint: kept if it succeeds, rolled back
/// alone if it fails or panics, the rest of the batch untouched.
fn in_savepoint<T>(conn: &Connection, change: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    conn.execute_batch("SAVEPOINT write")?;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| change(conn)))
        .unwrap_or_else(|_| Err(BackendError::Unavailable("a write panicked".into())));
    let undo = "ROLLBACK TO write; RELEASE write";
    match result {
        Ok(value) => match conn.execute_batch("RELEASE write") {
            Ok(()) => Ok(value),
            // Its caller hears it failed, so none of it may be committed:
            // undo it, or, if even that fails, roll back the whole batch
            // (the writer then fails every write of it).
            Err(error) => {
                if conn.execute_batch(undo).is_err() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(error.into())
            }
        },
        Err(error) => {
            if conn.execute_batch(undo).is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(error)
        }
    }
}

/// The writer thread: until every [`Sqlite`] handle is gone, takes the
/// writes waiting, commits them together, then answers them.
fn write_batches(conn: Connection, queue: mpsc::Receiver<Job>, max_batch: usize, metrics: &Metrics) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(max_batch - 1));
        let size = batch.len();
        // The group commit's own span, linked to each request it carries
        // whose trace is sampled; with none, there is no one to show it to.
        let requesters: Vec<SpanContext> = batch.iter_mut().filter_map(|job| job.requester.take()).collect();
        let span = match requesters.is_empty() {
            true => tracing::Span::none(),
            false => tracing::info_span!(
                target: crate::telemetry::TARGET,
                "group commit",
                otel.name = "sqlite.group_commit",
                db.system = "sqlite",
                db.operation.name = "COMMIT",
                db.operation.batch.size = size as i64,
                error.type = tracing::field::Empty,
            ),
        };
        crate::telemetry::link(&span, requesters);
        let _entered = span.enter();
        let begun = conn.execute_batch("BEGIN IMMEDIATE").map_err(BackendError::from);
        // Jobs not run are dropped: their waiters hear the write was lost.
        let mut answers: Vec<Answer> = Vec::with_capacity(size);
        let mut entries = Vec::new();
        let mut rolled_back = false;
        if begun.is_ok() {
            for job in batch {
                let (answer, entry) = (job.run)(&conn);
                answers.push(answer);
                entries.extend(entry);
                // A write that fails on I/O (a full disk, say) can make SQLite
                // roll back the whole transaction: the writes before it are
                // gone, and one run after it would commit on its own. End the
                // batch here; all of it failed.
                if conn.is_autocommit() {
                    rolled_back = true;
                    break;
                }
            }
        }
        let committed = match (begun, rolled_back) {
            (Err(error), _) => Err(error),
            (Ok(()), true) => Err(BackendError::Unavailable("the batch was rolled back by a failed write".into())),
            (Ok(()), false) => index(&conn, &entries).and_then(|()| conn.execute_batch("COMMIT")).map_err(|error| {
                // A failed index insert or COMMIT may leave the transaction open.
                let _ = conn.execute_batch("ROLLBACK");
                BackendError::from(error)
            }),
        };
        metrics.batch(size, committed.is_ok());
        if let Err(error) = &committed {
            crate::telemetry::fail(&span, error.kind(), &error.to_string());
            tracing::error!("a batch of {size} writes failed to commit: {error}");
        }
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// Writes a batch's search entries, outside any savepoint (one FTS5
/// segment), then does a slice of the index's merging.
fn index(conn: &Connection, entries: &[SearchEntry]) -> rusqlite::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(sql::INDEX_POST)?;
    for entry in entries {
        insert.execute(params![entry.post, entry.document])?;
    }
    conn.prepare_cached(sql::MERGE_INDEX)?.execute(params![sql::MERGE_PAGES])?;
    Ok(())
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(BackendError::Unavailable(format!("storage task failed: {error}"))))
}

fn poisoned<E>(_: E) -> BackendError {
    BackendError::Unavailable("a storage task panicked".into())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let done: usize = tx.query_row(sql::READ_SCHEMA_VERSION, [], |row| row.get(0))?;
    if done > sql::SCHEMA_VERSION {
        return Err(BackendError::Unavailable(format!(
            "the database's schema is version {done}, newer than this newsfeed's {}: upgrade newsfeed",
            sql::SCHEMA_VERSION
        )));
    }
    for step in sql::migration(done) {
        match step {
            Step::Sql(statement) => tx.execute_batch(&statement)?,
            Step::IndexEveryPost => index_every_post(&tx)?,
        }
    }
    tx.commit()?;
    Ok(())
}

fn index_every_post(tx: &Connection) -> StoreResult<()> {
    let mut posts = tx.prepare(sql::EVERY_POST)?;
    let mut rows = posts.query([])?;
    let mut index = tx.prepare(sql::INDEX_POST)?;
    while let Some(row) = rows.next()? {
        let (id, subject, story): (Id, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        index.execute(params![id, search::document(&subject, &story)])?;
    }
    Ok(())
}

fn require_participant(tx: &Connection, id: Id) -> StoreResult<()> {
    let known = tx.prepare_cached(sql::PARTICIPANT_EXISTS)?.exists(params![id])?;
    if known {
        Ok(())
    } else {
        Err(BackendError::unknown_participant(id))
    }
}

/// A page of one of the lists (`statement`, the first column each item's
/// id, the rest read by `item`), its cursor checked and made with `key`.
///
/// The page is one statement, so one snapshot, with no transaction around
/// it: the key never changes and a participant is never deleted, so neither
/// needs to be read in the same snapshot. Whether the participant exists is
/// asked only when the answer would not show it: an empty page, or a cursor
/// refused (an unknown participant is a 404 before a bad cursor is a 400, as
/// on every backend).
///
/// The rows are read one at a time until the page is full: `limit` items,
/// or the list's [`ListBudget`] spent (`text`: the bytes of post text an
/// item holds). A row past that is not decoded: it only says that a next
/// page exists, and the rows after it are never read.
fn page<T>(
    conn: &Connection,
    statement: &str,
    request: &PageRequest,
    key: &[u8],
    item: impl Fn(&Row) -> rusqlite::Result<T>,
    text: fn(&T) -> usize,
) -> StoreResult<(Vec<T>, Option<String>)> {
    let id = request.participant();
    let seek = match request.seek(key) {
        Ok(seek) => seek,
        Err(refused) => {
            require_participant(conn, id)?;
            return Err(BackendError::Invalid(refused));
        }
    };
    let mut stmt = conn.prepare_cached(statement)?;
    let mut rows = stmt.query(params![id, request.rows(), seek])?;
    let (mut items, mut last, mut budget) = (Vec::new(), None, ListBudget::default());
    while let Some(row) = rows.next()? {
        if items.len() == request.limit() || !budget.has_room() {
            return Ok((items, last.map(|last| request.cursor_after(key, last))));
        }
        let read = item(row)?;
        budget.spend(text(&read));
        last = Some(row.get(0)?);
        items.push(read);
    }
    if items.is_empty() {
        require_participant(conn, id)?;
    }
    Ok((items, None))
}

#[async_trait::async_trait]
impl Backend for Sqlite {
    async fn get_participant(&self, id: Id) -> StoreResult<Participant> {
        // One statement: it is its own snapshot, no transaction needed.
        self.readers.with(|conn| {
            conn.prepare_cached(sql::PARTICIPANT_NAME)?
                .query_row(params![id], |row| Ok(Participant { id, name: row.get(0)? }))
                .optional()?
                .ok_or_else(|| BackendError::unknown_participant(id))
        })
    }

    async fn list_friends(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<FriendsPage> {
        let request = page_request(List::Friends, id, limit, before.as_deref())?;
        let (items, next) = self.readers.with(|conn| {
            let friendship = |row: &Row| Ok(Friendship { id: row.get(0)?, from: id, to: row.get(1)? });
            page(conn, sql::LIST_FRIENDS, &request, &self.cursor_key, friendship, |_| 0)
        })?;
        Ok(FriendsPage { items, next })
    }

    async fn list_outbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<OutboundPage> {
        let request = page_request(List::Outbound, id, limit, before.as_deref())?;
        let (items, next) = self.readers.with(|conn| {
            page(
                conn,
                sql::LIST_OUTBOUND,
                &request,
                &self.cursor_key,
                |row| Ok(Post { author: id, occurred: row.get(1)?, subject: row.get(2)?, story: row.get(3)? }),
                post_text,
            )
        })?;
        Ok(OutboundPage { items, next })
    }

    async fn list_inbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<InboundPage> {
        let request = page_request(List::Inbound, id, limit, before.as_deref())?;
        let (items, next) = self.readers.with(|conn| {
            page(
                conn,
                sql::LIST_INBOUND,
                &request,
                &self.cursor_key,
                |row| {
                    let post =
                        Post { author: row.get(1)?, occurred: row.get(2)?, subject: row.get(3)?, story: row.get(4)? };
                    Ok(FeedItem { reader: id, post })
                },
                |item| post_text(&item.post),
            )
        })?;
        Ok(InboundPage { items, next })
    }

    async fn create_participant(&self, name: String) -> StoreResult<Participant> {
        check_text("name", &name).map_err(BackendError::Invalid)?;
        self.write(move |tx| {
            let id = tx.prepare_cached(sql::INSERT_PARTICIPANT)?.query_row(params![name], |row| row.get(0))?;
            Ok(Participant { id, name })
        })
        .await
    }

    async fn befriend(&self, a: Id, b: Id) -> StoreResult<Friendship> {
        if a == b {
            return Err(BackendError::Invalid(SELF_FRIENDSHIP.into()));
        }
        self.write(move |tx| {
            require_participant(tx, a)?;
            require_participant(tx, b)?;
            let (low, high) = (a.min(b), a.max(b));
            tx.prepare_cached(sql::INSERT_FRIENDSHIP)?.execute(params![low, high])?;
            let id = tx.prepare_cached(sql::FRIENDSHIP_ID)?.query_row(params![low, high], |row| row.get(0))?;
            Ok(Friendship { id, from: a, to: b })
        })
        .await
    }

    async fn publish(&self, post: Post) -> StoreResult<Post> {
        check_post(&post)?;
        // Folded here, off the writer thread, which every write waits for.
        let document = search::document(&post.subject, &post.story);
        self.write_indexed(move |tx| {
            require_participant(tx, post.author)?;
            let id: Id = tx
                .prepare_cached(sql::INSERT_POST)?
                .query_row(params![post.author, post.occurred, post.subject, post.story], |row| row.get(0))?;
            tx.prepare_cached(sql::FAN_OUT)?.execute(params![post.author, id])?;
            Ok((post, Some(SearchEntry { post: id, document })))
        })
        .await
    }

    async fn find_posters(&self, keywords: Vec<String>, limit: u32) -> StoreResult<Vec<Id>> {
        let distinct = search::keywords(&keywords).map_err(BackendError::Invalid)?;
        if distinct.is_empty() {
            return Ok(Vec::new());
        }
        self.read_apart(move |tx| {
            let mut stmt = tx.prepare_cached(&sql::search(distinct.len()))?;
            let mut values: Vec<rusqlite::types::Value> =
                distinct.iter().map(|k| rusqlite::types::Value::Text(sql::phrase(k))).collect();
            values.push(rusqlite::types::Value::Integer(i64::from(limit)));
            let rows = stmt.query_map(rusqlite::params_from_iter(values), |row| row.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Ready while the writer runs, the disk has room and a reader answers.
    async fn ping(&self) -> StoreResult<()> {
        if self.writer.is_finished() {
            return Err(BackendError::Unavailable("the writer has stopped".into()));
        }
        check_free_space(&self.readers.path)?;
        self.readers.with(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(author: Id, subject: &str, story: &str) -> Post {
        Post { author, occurred: "2026-11-24".into(), subject: subject.into(), story: story.into() }
    }

    async fn backend_with(names: &[&str]) -> (tempfile::TempDir, Sqlite) {
        let dir = tempfile::tempdir().unwrap();
        let backend = Sqlite::open(&dir.path().join("feed.db"), DEFAULT_MAX_BATCH, Arc::default()).unwrap();
        for name in names {
            backend.create_participant(name.to_string()).await.unwrap();
        }
        (dir, backend)
    }

    #[tokio::test]
    async fn publish_fans_out_to_current_friends_only() {
        let (_dir, backend) = backend_with(&["a", "b", "c"]).await;
        backend.befriend(1, 2).await.unwrap();
        backend.publish(post(1, "s", "early")).await.unwrap();
        backend.befriend(3, 1).await.unwrap();
        backend.publish(post(1, "s", "late")).await.unwrap();
        let feed = |id| backend.list_inbound(id, 10, None);
        let stories = feed(2).await.unwrap().items.into_iter().map(|i| i.post.story).collect::<Vec<_>>();
        assert_eq!(stories, ["late", "early"]);
        assert_eq!(feed(3).await.unwrap().items.len(), 1);
        assert_eq!(backend.list_outbound(1, 1, None).await.unwrap().items[0].story, "late");
    }

    #[tokio::test]
    async fn friendships_are_symmetric_idempotent_and_checked() {
        let (_dir, backend) = backend_with(&["a", "b"]).await;
        let first = backend.befriend(2, 1).await.unwrap();
        assert_eq!(backend.befriend(1, 2).await.unwrap(), Friendship { id: first.id, from: 1, to: 2 });
        let friends = backend.list_friends(1, 10, None).await.unwrap();
        assert_eq!(friends, FriendsPage { items: vec![Friendship { id: first.id, from: 1, to: 2 }], next: None });
        assert!(matches!(backend.befriend(1, 1).await, Err(BackendError::Invalid(_))));
        assert!(matches!(backend.befriend(1, 9).await, Err(BackendError::NotFound(_))));
        assert!(matches!(backend.list_friends(9, 10, None).await, Err(BackendError::NotFound(_))));
    }

    #[tokio::test]
    async fn a_failed_publish_writes_nothing() {
        let (_dir, backend) = backend_with(&["a"]).await;
        assert!(matches!(backend.publish(post(9, "s", "ghost")).await, Err(BackendError::NotFound(_))));
        assert!(backend.find_posters(vec!["ghost".into()], 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn search_ranks_by_best_post_and_ignores_query_syntax() {
        let (_dir, backend) = backend_with(&["a", "b", "c"]).await;
        backend.publish(post(1, "s", "the quick fox")).await.unwrap();
        backend.publish(post(2, "s", "a quick brown fox")).await.unwrap();
        backend.publish(post(3, "Fox News", "nothing")).await.unwrap();
        let find = |words: &[&str], limit| backend.find_posters(words.iter().map(|w| w.to_string()).collect(), limit);
        assert_eq!(find(&["brown", "FOX"], 10).await.unwrap(), vec![2, 3, 1]);
        assert_eq!(find(&["fox"], 2).await.unwrap(), vec![3, 2]);
        assert_eq!(find(&["qui"], 10).await.unwrap(), Vec::<Id>::new());
        for hostile in ["fox OR dog", "\"", "fox*", "NEAR(a b)", "story:fox", "-", "'); DROP TABLE post; --"] {
            assert!(find(&[hostile], 10).await.is_ok(), "{hostile}");
        }
        // Quotes are not part of a word: `"fox"` is the word fox.
        assert_eq!(find(&["\"fox\""], 10).await.unwrap(), vec![3, 2, 1]);
        // A keyword holding separators is the words it holds.
        assert_eq!(find(&["brown-fox"], 10).await.unwrap(), vec![2, 3, 1]);
    }

    fn segments(backend: &Sqlite) -> i64 {
        backend.readers.with(|conn| Ok(conn.query_row(sql::INDEX_SEGMENTS, [], |row| row.get(0))?)).unwrap()
    }

    #[tokio::test]
    async fn a_batch_of_posts_is_indexed_as_one_segment() {
        let (_dir, backend) = backend_with(&["a"]).await;
        // Hold the writer, and queue the three posts only once it is inside
        // the hold: they then wait behind it and commit together (three
        // segments would still be too few to merge). Sent at once, the
        // writer could take the hold with the first post as one batch.
        let (entered, inside) = tokio::sync::oneshot::channel();
        let hold = backend.write(move |_| {
            let _ = entered.send(());
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        });
        let words = ["first", "second", "third"];
        let posts = async {
            let _ = inside.await;
            tokio::join!(
                backend.publish(post(1, "s", words[0])),
                backend.publish(post(1, "s", words[1])),
                backend.publish(post(1, "s", words[2]))
            )
        };
        let (held, (first, second, third)) = tokio::join!(hold, posts);
        assert!(held.is_ok() && first.is_ok() && second.is_ok() && third.is_ok());
        assert_eq!(segments(&backend), 1);
        for word in words {
            assert_eq!(backend.find_posters(vec![word.into()], 10).await.unwrap(), vec![1], "{word}");
        }
    }

    #[tokio::test]
    async fn a_write_whose_savepoint_cannot_be_released_is_not_committed() {
        let (_dir, backend) = backend_with(&["a"]).await;
        // The change ends its own savepoint, so releasing it fails.
        let failed = backend
            .write(|tx| {
                tx.execute("INSERT INTO participant (name) VALUES ('ghost')", [])?;
                tx.execute_batch("RELEASE write")?;
                Ok(())
            })
            .await;
        assert!(matches!(failed, Err(BackendError::Unavailable(_))), "{failed:?}");
        assert!(
            matches!(backend.get_participant(2).await, Err(BackendError::NotFound(_))),
            "the failed write was committed"
        );
        assert_eq!(backend.create_participant("b".into()).await.unwrap().name, "b", "the writer goes on");
    }

    #[tokio::test]
    async fn a_dead_writer_is_not_ready() {
        let (_dir, backend) = backend_with(&["a"]).await;
        assert_eq!(backend.ping().await, Ok(()));
        // A job that panics outside any savepoint ends the writer thread.
        let (answered, dead) = std::sync::mpsc::channel::<()>();
        backend
            .writes
            .send(Job {
                requester: None,
                run: Box::new(move |_| {
                    let _answered = answered;
                    panic!("the writer dies")
                }),
            })
            .unwrap();
        let _ = dead.recv();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while backend.ping().await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "a dead writer still reads as ready");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(matches!(backend.ping().await, Err(BackendError::Unavailable(_))));
    }

    #[tokio::test]
    async fn the_search_index_is_merged_as_it_is_written() {
        let (_dir, backend) = backend_with(&["a"]).await;
        for n in 0..100 {
            backend.publish(post(1, "s", &format!("story {n}"))).await.unwrap();
        }
        // One segment a commit, merged four at a time: 100 commits leave 4
        // (1 + 2 + 1 + 0, the digits of 100 in base 4). Unmerged but for
        // FTS5's last resort (16 segments of a level), they would leave 10.
        assert!(segments(&backend) <= 6, "{} segments", segments(&backend));
        assert_eq!(backend.find_posters(vec!["story".into()], 10).await.unwrap(), vec![1]);
    }

    #[tokio::test]
    async fn a_database_newer_than_the_code_is_refused() {
        let (dir, backend) = backend_with(&["a"]).await;
        drop(backend);
        let path = dir.path().join("feed.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", sql::SCHEMA_VERSION + 1).unwrap();
        let refused = Sqlite::open(&path, DEFAULT_MAX_BATCH, Arc::default()).err().expect("a newer schema opened");
        assert!(refused.to_string().contains("newer than this newsfeed"), "{refused}");
    }

    #[tokio::test]
    async fn a_version_1_database_is_migrated_and_its_posts_indexed_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.db");
        let old = Connection::open(&path).unwrap();
        for statement in sql::MIGRATIONS[0] {
            old.execute_batch(statement).unwrap();
        }
        old.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO participant (name) VALUES ('a');
             INSERT INTO post (author, occurred, subject, story) VALUES (1, '2026-11-24', 'Old', 'kept-words');
             INSERT INTO post_text (rowid, subject, story) VALUES (1, 'Old', 'kept-words');",
        )
        .unwrap();
        drop(old);
        let backend = Sqlite::open(&path, DEFAULT_MAX_BATCH, Arc::default()).unwrap();
        for word in ["old", "kept", "words"] {
            assert_eq!(backend.find_posters(vec![word.into()], 10).await.unwrap(), vec![1], "{word}");
        }
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let (dir, backend) = backend_with(&["a", "b"]).await;
        backend.befriend(1, 2).await.unwrap();
        backend.publish(post(1, "s", "kept")).await.unwrap();
        drop(backend);
        let reopened = Sqlite::open(&dir.path().join("feed.db"), DEFAULT_MAX_BATCH, Arc::default()).unwrap();
        assert_eq!(reopened.list_inbound(2, 10, None).await.unwrap().items[0].post.story, "kept");
        assert_eq!(reopened.find_posters(vec!["kept".into()], 10).await.unwrap(), vec![1]);
    }
}
