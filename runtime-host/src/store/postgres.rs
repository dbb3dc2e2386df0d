//! The PostgreSQL backend: the store for several `newsfeed` hosts at once,
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
//! A database that is down or unreachable makes a call fail with
//! [`StoreError::Unavailable`] (503) within the pool's timeouts; the pool
//! drops closed connections and opens new ones, so the host recovers by
//! itself when the database comes back.

use super::types::{FeedItem, FriendsPage, Friendship, Id, InboundPage, OutboundPage, Participant, Post};
use super::{check_post, page_request, Backend, StoreError, StoreResult};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use newsfeed_sql::cursor::{List, PageRequest};
use newsfeed_sql::postgres as sql;
use newsfeed_sql::{check_text, search, SELF_FRIENDSHIP};
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

pub struct Postgres {
    pool: Pool,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.code() {
            // A post whose words overflow a tsvector (1 MiB): the input's
            // fault, not the store's.
            Some(code) if *code == SqlState::PROGRAM_LIMIT_EXCEEDED => StoreError::Invalid(sql::TOO_MANY_WORDS.into()),
            _ => StoreError::Unavailable(describe(&error)),
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

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            other => StoreError::Unavailable(format!("no database connection: {other}")),
        }
    }
}

impl Postgres {
    /// Connects a pool of at most `pool_size` connections to `url`
    /// (`postgres://USER@HOST:PORT/DB`) and brings the schema up to date.
    /// Fails if the database cannot be reached now.
    pub async fn connect(url: &str, pool_size: usize) -> StoreResult<Postgres> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|error| StoreError::Invalid(format!("bad PostgreSQL URL: {error}")))?;
        config.connect_timeout(CONNECT_TIMEOUT).options("-c synchronous_commit=on").application_name("newsfeed");
        // `Fast` recycling drops a connection the server has closed, so a
        // restarted database is reconnected to on the next call.
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|error| StoreError::Unavailable(format!("building the connection pool: {error}")))?;
        let store = Postgres { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Runs the pending migrations under an advisory lock, so that of N
    /// hosts starting at once one migrates and the rest find nothing to do.
    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(sql::MIGRATION_LOCK).await?;
        tx.batch_execute(sql::CREATE_VERSION_TABLE).await?;
        let done: i32 = tx.query_one(sql::READ_SCHEMA_VERSION, &[]).await?.get(0);
        let done = usize::try_from(done).unwrap_or(0);
        if done > sql::SCHEMA_VERSION {
            return Err(StoreError::Unavailable(format!(
                "the database's schema is version {done}, newer than this newsfeed's {}: upgrade newsfeed",
                sql::SCHEMA_VERSION
            )));
        }
        if done < sql::SCHEMA_VERSION {
            for step in sql::migration(done) {
                match step {
                    sql::Step::Sql(statement) => tx.batch_execute(statement).await?,
                    sql::Step::IndexEveryPost => index_every_post(&tx).await?,
                }
            }
            let version = i32::try_from(sql::SCHEMA_VERSION).unwrap_or(i32::MAX);
            tx.execute(sql::RECORD_SCHEMA_VERSION, &[&version]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A page of one of the lists: runs its statement (the columns: the
    /// cursor key, the participant's id, then the item's id, NULL for an
    /// empty list, and its fields), checks the cursor with the key, and
    /// reads each item's fields with `item`.
    async fn page<T>(
        &self,
        statement: &str,
        request: &PageRequest,
        item: impl Fn(&Row) -> T,
    ) -> StoreResult<(Vec<T>, Option<String>)> {
        let id = request.participant();
        let rows = self.query(statement, &[&id, &request.rows(), &request.seek_unchecked()]).await?;
        let head = rows.first().ok_or_else(|| no_row(statement))?;
        let key: Vec<u8> = head.get(0);
        if head.get::<_, Option<Id>>(1).is_none() {
            return Err(StoreError::unknown_participant(id));
        }
        request.seek(&key).map_err(StoreError::Invalid)?;
        let items = rows.iter().filter_map(|row| Some((row.get::<_, Option<Id>>(2)?, item(row))));
        Ok(request.page(&key, items.collect()))
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
            sql::check_document(&document).map_err(StoreError::Invalid)?;
            query(client, sql::INDEX_POST, &[id, &document]).await?;
        }
        last = ids.last().copied().unwrap_or(last);
    }
}

async fn query(client: &impl GenericClient, statement: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
    let prepared = client.prepare_cached(statement).await?;
    Ok(client.query(&prepared, params).await?)
}

#[async_trait::async_trait]
impl Backend for Postgres {
    async fn get_participant(&self, id: Id) -> StoreResult<Participant> {
        let row = self.query(sql::PARTICIPANT_NAME, &[&id]).await?.pop();
        let name: Option<String> = row.and_then(|row| row.get(0));
        name.map(|name| Participant { id, name }).ok_or_else(|| StoreError::unknown_participant(id))
    }

    async fn list_friends(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<FriendsPage> {
        let request = page_request(List::Friends, id, limit, before.as_deref())?;
        let friendship = |row: &Row| Friendship { id: row.get(2), from: id, to: row.get(3) };
        let (items, next) = self.page(sql::LIST_FRIENDS, &request, friendship).await?;
        Ok(FriendsPage { items, next })
    }

    async fn list_outbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<OutboundPage> {
        let request = page_request(List::Outbound, id, limit, before.as_deref())?;
        let post = |row: &Row| Post { author: id, occurred: row.get(3), subject: row.get(4), story: row.get(5) };
        let (items, next) = self.page(sql::LIST_OUTBOUND, &request, post).await?;
        Ok(OutboundPage { items, next })
    }

    async fn list_inbound(&self, id: Id, limit: u32, before: Option<String>) -> StoreResult<InboundPage> {
        let request = page_request(List::Inbound, id, limit, before.as_deref())?;
        let item = |row: &Row| FeedItem {
            reader: id,
            post: Post { author: row.get(3), occurred: row.get(4), subject: row.get(5), story: row.get(6) },
        };
        let (items, next) = self.page(sql::LIST_INBOUND, &request, item).await?;
        Ok(InboundPage { items, next })
    }

    async fn create_participant(&self, name: String) -> StoreResult<Participant> {
        check_text("name", &name).map_err(StoreError::Invalid)?;
        let rows = self.query(sql::INSERT_PARTICIPANT, &[&name]).await?;
        let id = rows.first().map(|row| row.get(0)).ok_or_else(|| no_row(sql::INSERT_PARTICIPANT))?;
        Ok(Participant { id, name })
    }

    async fn befriend(&self, a: Id, b: Id) -> StoreResult<Friendship> {
        if a == b {
            return Err(StoreError::Invalid(SELF_FRIENDSHIP.into()));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = query(&tx, sql::EXISTING_PARTICIPANTS, &[&a, &b]).await?;
        let row = rows.first().ok_or_else(|| no_row(sql::EXISTING_PARTICIPANTS))?;
        if let Some((missing, _)) =
            [(a, row.get::<_, bool>(0)), (b, row.get(1))].into_iter().find(|(_, exists)| !exists)
        {
            return Err(StoreError::unknown_participant(missing));
        }
        let (low, high) = (a.min(b), a.max(b));
        query(&tx, sql::INSERT_FRIENDSHIP, &[&low, &high]).await?;
        let rows = query(&tx, sql::FRIENDSHIP_ID, &[&low, &high]).await?;
        let id = rows.first().and_then(|row| row.get(0)).ok_or_else(|| no_row(sql::FRIENDSHIP_ID))?;
        tx.commit().await?;
        Ok(Friendship { id, from: a, to: b })
    }

    async fn publish(&self, post: Post) -> StoreResult<Post> {
        check_post(&post)?;
        let document = search::document(&post.subject, &post.story);
        sql::check_document(&document).map_err(StoreError::Invalid)?;
        let params: [&(dyn ToSql + Sync); 5] = [&post.author, &post.occurred, &post.subject, &post.story, &document];
        let stored: i64 = self.query(sql::PUBLISH, &params).await?.first().map_or(0, |row| row.get(0));
        match stored {
            0 => Err(StoreError::unknown_participant(post.author)),
            _ => Ok(post),
        }
    }

    async fn find_posters(&self, keywords: Vec<String>, limit: u32) -> StoreResult<Vec<Id>> {
        let distinct = search::keywords(&keywords).map_err(StoreError::Invalid)?;
        if distinct.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.query(sql::SEARCH, &[&distinct, &i64::from(limit)]).await?;
        rows.first().map(|row| row.get(0)).ok_or_else(|| no_row(sql::SEARCH))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.query(sql::PING, &[]).await.map(drop)
    }
}

fn no_row(statement: &str) -> StoreError {
    StoreError::Unavailable(format!("no row from {}", statement.lines().next().unwrap_or_default()))
}
