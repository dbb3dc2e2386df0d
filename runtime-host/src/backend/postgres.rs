//! The PostgreSQL backend: the backend for several `newsfeed` hosts at once,
//! each stateless, all on one shared database.
//!
//! Async all the way: `tokio-postgres` connections in a `deadpool-postgres`
//! pool (the pair Spin's own PostgreSQL host uses), every statement prepared
//! once per connection and cached there. No blocking pool, no writer thread:
//! PostgreSQL runs concurrent transactions and groups their commits itself.
//!
//! The schema, every statement and the search rules come from
//! `newsfeed-sql` (`postgres` and `search`), shared with the PostgreSQL
//! adapter for hosted Spin; answers match the SQLite backend's.
//!
//! Durability: each connection sets `synchronous_commit = on`, so a call
//! returns only once PostgreSQL has made its commit durable.
//!
//! A database that is down, unreachable or hung (its processes stopped)
//! makes a call fail with [`BackendError::Unavailable`] (503) within the call
//! bound, half the request deadline, so the answer is a 503 and never the
//! deadline's 500; the pool drops closed connections and opens new ones, so
//! the host recovers by itself when the database comes back.
//!
//! A database that is not reachable at start does not stop the host: it
//! serves, answers 503 and reports not ready, and brings the schema up to
//! date as soon as the database answers. Readiness ([`Backend::ping`]) asks
//! on a connection of its own, under a short bound, so a busy pool never
//! makes a healthy host look unready and a hung database never makes
//! `/readyz` hang.

use super::types::{FeedItem, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};
use super::{check_post, page_request, post_text, Backend, BackendError, StoreResult};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use newsfeed_sql::cursor::{List, PageRequest};
use newsfeed_sql::postgres as sql;
use newsfeed_sql::{check_text, search, ListBudget, SELF_FRIENDSHIP};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

/// Connections a host keeps at most, unless told otherwise: as many as the
/// load tests' users, and two hosts stay within PostgreSQL's default of 100.
pub const DEFAULT_POOL: usize = 32;

/// How long a call waits for a connection, or for a new one to open,
/// before it answers 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a readiness probe may take, connection included.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait between attempts to reach a database that was not
/// reachable at start.
const RETRY_EVERY: Duration = Duration::from_secs(1);

pub struct Postgres {
    pool: Pool,
    config: tokio_postgres::Config,
    /// The most one call may take, waiting for a connection included.
    call_timeout: Duration,
    /// Whether the schema is known to be up to date: until then every call
    /// answers [`BackendError::Unavailable`].
    schema_ready: Arc<AtomicBool>,
    /// Readiness's own connection, once opened.
    probe: tokio::sync::Mutex<Option<Probe>>,
}

/// A connection of readiness's own, and the task that drives it.
struct Probe {
    client: tokio_postgres::Client,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        // A connection to a hung server would wait on it forever.
        self.driver.abort();
    }
}

/// Why the schema could not be brought up to date.
enum MigrationFailure {
    /// No answer from the database (down, unreachable, hung): try again.
    Unreachable(BackendError),
    /// The database answered and refused (a newer schema, bad credentials).
    Refused(BackendError),
}

impl MigrationFailure {
    fn classify(error: BackendError, answered: bool) -> Self {
        match answered {
            true => MigrationFailure::Refused(error),
            false => MigrationFailure::Unreachable(error),
        }
    }
}

impl From<tokio_postgres::Error> for MigrationFailure {
    fn from(error: tokio_postgres::Error) -> Self {
        let answered = error.as_db_error().is_some();
        Self::classify(error.into(), answered)
    }
}

impl From<deadpool_postgres::PoolError> for MigrationFailure {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        let answered = matches!(&error, deadpool_postgres::PoolError::Backend(e) if e.as_db_error().is_some());
        Self::classify(error.into(), answered)
    }
}

impl From<tokio_postgres::Error> for BackendError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.code() {
            // A post whose words overflow a tsvector (1 MiB): the input's
            // fault, not the backend's.
            Some(code) if *code == SqlState::PROGRAM_LIMIT_EXCEEDED => {
                BackendError::Invalid(sql::TOO_MANY_WORDS.into())
            }
            _ => BackendError::Unavailable(describe(&error)),
        }
    }
}

/// The error with its causes: tokio-postgres keeps the server's message
/// (or the I/O error) in its source, not in its own text.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let causes = std::iter::successors(std::error::Error::source(error), |cause| cause.source());
            std::iter::once(error.to_string())
                .chain(causes.map(|cause| cause.to_string()))
                .collect::<Vec<_>>()
                .join(": ")
        }
    }
}

impl From<deadpool_postgres::PoolError> for BackendError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            other => BackendError::Unavailable(format!("no database connection: {other}")),
        }
    }
}

impl Postgres {
    /// Makes a pool of at most `pool_size` connections to `url`
    /// (`postgres://USER@HOST:PORT/DB`), each call bounded by
    /// `call_timeout`, and brings the schema up to date. A database that
    /// does not answer now is tried again in the background until it does;
    /// one that answers and refuses (a schema newer than this code, bad
    /// credentials) is an error.
    pub async fn connect(url: &str, pool_size: usize, call_timeout: Duration) -> StoreResult<Postgres> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|error| BackendError::Invalid(format!("bad PostgreSQL URL: {error}")))?;
        config.connect_timeout(CONNECT_TIMEOUT).options("-c synchronous_commit=on").application_name("newsfeed");
        // `Fast` recycling drops a connection the server has closed, so a
        // restarted database is reconnected to on the next call.
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|error| BackendError::Unavailable(format!("building the connection pool: {error}")))?;
        let schema_ready = Arc::new(AtomicBool::new(false));
        match migrate(&pool).await {
            Ok(()) => schema_ready.store(true, Ordering::Release),
            Err(MigrationFailure::Refused(error)) => return Err(error),
            Err(MigrationFailure::Unreachable(error)) => {
                tracing::warn!("PostgreSQL does not answer ({error}); serving, not ready, until it does");
                tokio::spawn(migrate_when_reachable(pool.clone(), schema_ready.clone()));
            }
        }
        Ok(Postgres { pool, config, call_timeout, schema_ready, probe: tokio::sync::Mutex::new(None) })
    }

    /// Runs `call` if the schema is ready, within the call bound.
    async fn bounded<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        if !self.schema_ready.load(Ordering::Acquire) {
            return Err(BackendError::Unavailable("PostgreSQL has not answered since start".into()));
        }
        tokio::time::timeout(self.call_timeout, call).await.unwrap_or_else(|_| {
            Err(BackendError::Unavailable(format!("PostgreSQL did not answer within {:?}", self.call_timeout)))
        })
    }

    /// `SELECT 1` on readiness's own connection, opened anew if it has
    /// closed or failed.
    async fn probe(&self) -> StoreResult<()> {
        let mut probe = self.probe.lock().await;
        if probe.as_ref().is_none_or(|probe| probe.client.is_closed()) {
            *probe = None;
            let (client, connection) = self.config.connect(NoTls).await?;
            let driver = tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!("readiness connection ended: {error}");
                }
            });
            *probe = Some(Probe { client, driver });
        }
        let Some(Probe { client, .. }) = probe.as_ref() else {
            return Err(BackendError::Unavailable("no readiness connection".into()));
        };
        let answered = client.simple_query(sql::PING).await;
        if answered.is_err() {
            *probe = None;
        }
        answered.map(drop).map_err(BackendError::from)
    }

    /// A page of one of the lists: runs its statement (the columns: the
    /// cursor key, the participant's id, then the item's id, NULL for an
    /// empty list, and its fields; always one row at least), checks the
    /// cursor with the key, and reads each item's fields with `item`, one row
    /// at a time until the list's [`ListBudget`] is spent (`text`: the bytes
    /// of post text an item holds). The rows past it are left unread.
    async fn page<T>(
        &self,
        statement: &str,
        request: &PageRequest,
        item: impl Fn(&Row) -> T,
        text: fn(&T) -> usize,
    ) -> StoreResult<(Vec<T>, Option<String>)> {
        let id = request.participant();
        let client = self.pool.get().await?;
        let prepared = client.prepare_cached(statement).await?;
        let (rows_wanted, below) = (request.rows(), request.seek_unchecked());
        let params: [&(dyn ToSql + Sync); 3] = [&id, &rows_wanted, &below];
        let rows = client.query_raw(&prepared, params).await?;
        let mut rows = std::pin::pin!(rows);
        let Some(head) = rows.next().await.transpose()? else { return Err(no_row(statement)) };
        let key: Vec<u8> = head.get(0);
        if head.get::<_, Option<Id>>(1).is_none() {
            return Err(BackendError::unknown_participant(id));
        }
        // The rows were read below the cursor's id before its tag was
        // checked: none leaves here unless it passes.
        request.seek(&key).map_err(BackendError::Invalid)?;
        let (mut budget, mut items, mut cut_short) = (ListBudget::default(), Vec::new(), false);
        let mut row = Some(head);
        while let Some(current) = row.take() {
            if let Some(item_id) = current.get::<_, Option<Id>>(2) {
                if !budget.has_room() {
                    cut_short = true;
                    break;
                }
                let read = item(&current);
                budget.spend(text(&read));
                items.push((item_id, read));
            }
            row = rows.next().await.transpose()?;
        }
        Ok(request.page(&key, items, cut_short))
    }

    /// Runs one cached statement on a pooled connection.
    async fn query(&self, statement: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let client = self.pool.get().await?;
        query(&client, statement, params).await
    }
}

/// Indexes every stored post anew, with the Rust words, a batch at a time.
async fn index_every_post(client: &impl GenericClient) -> StoreResult<()> {
    let mut last: Id = 0;
    loop {
        let rows = query(client, sql::POSTS_AFTER, &[&last, &sql::REINDEX_BATCH]).await?;
        let Some(row) = rows.first() else { return Err(no_row(sql::POSTS_AFTER)) };
        let (Some(ids), Some(subjects), Some(stories)) = (
            row.get::<_, Option<Vec<Id>>>(0),
            row.get::<_, Option<Vec<String>>>(1),
            row.get::<_, Option<Vec<String>>>(2),
        ) else {
            return Ok(());
        };
        for ((id, subject), story) in ids.iter().zip(&subjects).zip(&stories) {
            let document = search::document(subject, story);
            sql::check_document(&document).map_err(BackendError::Invalid)?;
            query(client, sql::INDEX_POST, &[id, &document]).await?;
        }
        last = ids.last().copied().unwrap_or(last);
    }
}

/// Runs the pending migrations under an advisory lock, so that of N hosts
/// starting at once one migrates and the rest find nothing to do.
async fn migrate(pool: &Pool) -> Result<(), MigrationFailure> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.batch_execute(sql::MIGRATION_LOCK).await?;
    tx.batch_execute(sql::CREATE_VERSION_TABLE).await?;
    let done: i32 = tx.query_one(sql::READ_SCHEMA_VERSION, &[]).await?.get(0);
    let done = usize::try_from(done).unwrap_or(0);
    if done > sql::SCHEMA_VERSION {
        return Err(MigrationFailure::Refused(BackendError::Unavailable(format!(
            "the database's schema is version {done}, newer than this newsfeed's {}: upgrade newsfeed",
            sql::SCHEMA_VERSION
        ))));
    }
    if done < sql::SCHEMA_VERSION {
        for step in sql::migration(done) {
            match step {
                sql::Step::Sql(statement) => tx.batch_execute(statement).await?,
                sql::Step::IndexEveryPost => index_every_post(&tx).await.map_err(MigrationFailure::Refused)?,
            }
        }
        let version = i32::try_from(sql::SCHEMA_VERSION).unwrap_or(i32::MAX);
        tx.execute(sql::RECORD_SCHEMA_VERSION, &[&version]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Tries to migrate until it works, then marks the schema ready. A refusal
/// is logged and tried again too: an operator may fix it while the host
/// runs.
async fn migrate_when_reachable(pool: Pool, schema_ready: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, migrate(&pool)).await {
            Ok(Ok(())) => {
                tracing::info!("PostgreSQL answers: the schema is up to date");
                schema_ready.store(true, Ordering::Release);
                return;
            }
            Ok(Err(MigrationFailure::Refused(error))) => tracing::error!("PostgreSQL refused the migration: {error}"),
            Ok(Err(MigrationFailure::Unreachable(error))) => tracing::debug!("PostgreSQL does not answer yet: {error}"),
            Err(_elapsed) => tracing::debug!("PostgreSQL does not answer yet"),
        }
    }
}

async fn query(client: &impl GenericClient, statement: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
    let prepared = client.prepare_cached(statement).await?;
    Ok(client.query(&prepared, params).await?)
}

#[async_trait::async_trait]
impl Backend for Postgres {
    async fn get_participant(&self, id: Id) -> StoreResult<Participant> {
        self.bounded(async {
            let row = self.query(sql::PARTICIPANT_NAME, &[&id]).await?.pop();
            let name: Option<String> = row.and_then(|row| row.get(0));
            name.map(|name| Participant { id, name }).ok_or_else(|| BackendError::unknown_participant(id))
        })
        .await
    }

    async fn list_friends(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<FriendsPage> {
        let request = page_request(List::Friends, id, limit, before.as_deref())?;
        let friendship = |row: &Row| Friendship { id: row.get(2), from: id, to: row.get(3) };
        let (items, next) = self.bounded(self.page(sql::LIST_FRIENDS, &request, friendship, |_| 0)).await?;
        Ok(FriendsPage { items, next })
    }

    async fn list_outbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<OutboundPage> {
        let request = page_request(List::Outbound, id, limit, before.as_deref())?;
        let post = |row: &Row| Post { author: id, occurred: row.get(3), subject: row.get(4), story: row.get(5) };
        let (items, next) = self.bounded(self.page(sql::LIST_OUTBOUND, &request, post, post_text)).await?;
        Ok(OutboundPage { items, next })
    }

    async fn list_inbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<InboundPage> {
        let request = page_request(List::Inbound, id, limit, before.as_deref())?;
        let item = |row: &Row| FeedItem {
            reader: id,
            post: Post { author: row.get(3), occurred: row.get(4), subject: row.get(5), story: row.get(6) },
        };
        let text = |item: &FeedItem| post_text(&item.post);
        let (items, next) = self.bounded(self.page(sql::LIST_INBOUND, &request, item, text)).await?;
        Ok(InboundPage { items, next })
    }

    async fn create_participant(&self, name: String) -> StoreResult<Participant> {
        self.bounded(async {
            check_text("name", &name).map_err(BackendError::Invalid)?;
            let rows = self.query(sql::INSERT_PARTICIPANT, &[&name]).await?;
            let id = rows.first().map(|row| row.get(0)).ok_or_else(|| no_row(sql::INSERT_PARTICIPANT))?;
            Ok(Participant { id, name })
        })
        .await
    }

    async fn befriend(&self, a: Id, b: Id) -> StoreResult<Friendship> {
        self.bounded(async {
            if a == b {
                return Err(BackendError::Invalid(SELF_FRIENDSHIP.into()));
            }
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let rows = query(&tx, sql::EXISTING_PARTICIPANTS, &[&a, &b]).await?;
            let row = rows.first().ok_or_else(|| no_row(sql::EXISTING_PARTICIPANTS))?;
            if let Some((missing, _)) =
                [(a, row.get::<_, bool>(0)), (b, row.get(1))].into_iter().find(|(_, exists)| !exists)
            {
                return Err(BackendError::unknown_participant(missing));
            }
            let (low, high) = (a.min(b), a.max(b));
            query(&tx, sql::INSERT_FRIENDSHIP, &[&low, &high]).await?;
            let rows = query(&tx, sql::FRIENDSHIP_ID, &[&low, &high]).await?;
            let id = rows.first().and_then(|row| row.get(0)).ok_or_else(|| no_row(sql::FRIENDSHIP_ID))?;
            tx.commit().await?;
            Ok(Friendship { id, from: a, to: b })
        })
        .await
    }

    async fn publish(&self, post: Post) -> StoreResult<Post> {
        self.bounded(async {
            check_post(&post)?;
            let document = search::document(&post.subject, &post.story);
            sql::check_document(&document).map_err(BackendError::Invalid)?;
            let params: [&(dyn ToSql + Sync); 5] =
                [&post.author, &post.occurred, &post.subject, &post.story, &document];
            let stored: i64 = self.query(sql::PUBLISH, &params).await?.first().map_or(0, |row| row.get(0));
            match stored {
                0 => Err(BackendError::unknown_participant(post.author)),
                _ => Ok(post),
            }
        })
        .await
    }

    async fn find_posters(&self, keywords: Vec<String>, limit: u32) -> StoreResult<Vec<Id>> {
        self.bounded(async {
            let distinct = search::keywords(&keywords).map_err(BackendError::Invalid)?;
            if distinct.is_empty() {
                return Ok(Vec::new());
            }
            let rows = self.query(sql::SEARCH, &[&distinct, &i64::from(limit)]).await?;
            rows.first().map(|row| row.get(0)).ok_or_else(|| no_row(sql::SEARCH))
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        if !self.schema_ready.load(Ordering::Acquire) {
            return Err(BackendError::Unavailable("PostgreSQL has not answered since start".into()));
        }
        match tokio::time::timeout(PROBE_TIMEOUT, self.probe()).await {
            Ok(answered) => answered,
            Err(_elapsed) => {
                // The connection waits on a hung server: the next probe
                // opens a new one.
                if let Ok(mut probe) = self.probe.try_lock() {
                    *probe = None;
                }
                Err(BackendError::Unavailable(format!("PostgreSQL did not answer within {PROBE_TIMEOUT:?}")))
            }
        }
    }
}

fn no_row(statement: &str) -> BackendError {
    BackendError::Unavailable(format!("no row from {}", statement.lines().next().unwrap_or_default()))
}
