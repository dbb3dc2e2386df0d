//! One call's database session over Spin's PostgreSQL interface: read the
//! connection string from the `db_url` variable, open a connection (Spin
//! keeps one pooled connection per `Connection`, so a transaction spans
//! calls), check the schema (brought up to date, or refused when newer than
//! this adapter), and run statements.
//!
//! A failure on the way rolls a transaction back; so does the connection
//! closing if the instance dies mid-call: a failed call writes nothing.
//!
//! Why `execute` and `query_row`: in Spin 4.0.0 to 4.0.2, and in 4.1.0-pre
//! builds before PR 3673, a synchronous `query` that yields no row never
//! returns (spinframework/spin issue 3671), and its pooled connection is
//! never given back. So every statement whose rows are not read goes
//! through `execute` (BEGIN, COMMIT, ROLLBACK, the advisory lock, DDL,
//! writes), and every read is shaped in `newsfeed_sql::postgres` to answer
//! at least one row (an aggregate, a scalar subquery or a sentinel row).

use crate::types::Error;
use newsfeed_sql::postgres::{self as sql, Step};
use spin_sdk::pg4::{self as pg, Connection, DbValue, ParameterValue};

/// The application variable holding the connection string.
const DB_URL: &str = "db_url";

/// PostgreSQL's SQLSTATE for a table that does not exist.
const UNDEFINED_TABLE: &str = "42P01";

/// An open connection, its schema up to date.
pub struct Db {
    conn: Connection,
}

impl Db {
    pub fn open() -> Result<Db, Error> {
        let url = spin_sdk::variables::get(DB_URL)
            .map_err(|error| Error::Unavailable(format!("variable {DB_URL}: {error}")))?;
        let db = Db { conn: Connection::open(&url).map_err(failed)? };
        match db.schema_version()? {
            current if current == sql::SCHEMA_VERSION as i64 => {}
            newer if newer > sql::SCHEMA_VERSION as i64 => return Err(newer_schema(newer)),
            _ => db.transaction(Db::migrate)?,
        }
        Ok(db)
    }

    /// The schema's version, 0 for a database newsfeed has never touched
    /// (no version table yet): one round trip on every call but the first.
    fn schema_version(&self) -> Result<i64, Error> {
        match self.conn.query(sql::READ_SCHEMA_VERSION, &[]) {
            Ok(rows) => match rows.rows.first().and_then(|row| row.first()) {
                Some(DbValue::Int32(version)) => Ok(i64::from(*version)),
                other => Err(Error::Unavailable(format!("bad schema version {other:?}"))),
            },
            Err(pg::PgError::QueryFailed(pg::QueryError::DbError(db))) if db.code == UNDEFINED_TABLE => Ok(0),
            Err(error) => Err(failed(error)),
        }
    }

    /// Runs the pending migrations under the advisory lock that the host's
    /// PostgreSQL backend takes too, so that instances and hosts starting
    /// at once migrate once.
    fn migrate(&self) -> Result<(), Error> {
        self.execute(sql::MIGRATION_LOCK, &[])?;
        self.execute(sql::CREATE_VERSION_TABLE, &[])?;
        let done = self.schema_version()?;
        if done > sql::SCHEMA_VERSION as i64 {
            return Err(newer_schema(done));
        }
        if done < sql::SCHEMA_VERSION as i64 {
            for step in sql::migration(done as usize) {
                match step {
                    Step::Sql(statement) => drop(self.execute(statement, &[])?),
                    Step::IndexEveryPost => self.index_every_post()?,
                }
            }
            self.execute(sql::RECORD_SCHEMA_VERSION, &[ParameterValue::Int32(sql::SCHEMA_VERSION as i32)])?;
        }
        Ok(())
    }

    /// Indexes every stored post anew, with the Rust words, a batch at a time.
    fn index_every_post(&self) -> Result<(), Error> {
        let mut last = 0;
        loop {
            let batch = [ParameterValue::Int64(last), ParameterValue::Int64(sql::REINDEX_BATCH)];
            let row = self.query_row(sql::POSTS_AFTER, &batch)?;
            let (ids, subjects, stories) = match (&row[0], &row[1], &row[2]) {
                (DbValue::ArrayInt64(ids), DbValue::ArrayStr(subjects), DbValue::ArrayStr(stories)) => {
                    (ids, subjects, stories)
                }
                _ => return Ok(()),
            };
            for ((id, subject), story) in ids.iter().zip(subjects).zip(stories) {
                let (Some(id), Some(subject), Some(story)) = (id, subject, story) else {
                    return Err(Error::Unavailable("a post without id, subject or story".into()));
                };
                let document = newsfeed_sql::search::document(subject, story);
                sql::check_document(&document).map_err(Error::Invalid)?;
                self.execute(sql::INDEX_POST, &[ParameterValue::Int64(*id), ParameterValue::Str(document)])?;
                last = *id;
            }
        }
    }

    /// Runs `work` between `BEGIN` and `COMMIT`, rolling back if it fails.
    pub fn transaction<T>(&self, work: impl FnOnce(&Db) -> Result<T, Error>) -> Result<T, Error> {
        self.execute("BEGIN", &[])?;
        let done = work(self).and_then(|value| self.execute("COMMIT", &[]).map(|_| value));
        if done.is_err() {
            // The call's error is the one to report; a failed rollback still
            // ends with the connection, which rolls back on close.
            let _ = self.execute("ROLLBACK", &[]);
        }
        done
    }

    /// Runs one statement whose rows are not read.
    pub fn execute(&self, statement: &str, parameters: &[ParameterValue]) -> Result<u64, Error> {
        self.conn.execute(statement, parameters).map_err(failed)
    }

    /// Runs one read, shaped to answer at least one row, and returns its rows.
    pub fn query(&self, statement: &str, parameters: &[ParameterValue]) -> Result<Vec<Vec<DbValue>>, Error> {
        Ok(self.conn.query(statement, parameters).map_err(failed)?.rows)
    }

    /// Runs one read that answers exactly one row, and returns it.
    pub fn query_row(&self, statement: &str, parameters: &[ParameterValue]) -> Result<Vec<DbValue>, Error> {
        self.query(statement, parameters)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Unavailable(format!("no row from {}", statement.lines().next().unwrap_or_default())))
    }
}

/// The value of an `int8` column.
pub fn int(value: &DbValue) -> Result<i64, Error> {
    match value {
        DbValue::Int64(value) => Ok(*value),
        other => Err(Error::Unavailable(format!("expected an int8, found {other:?}"))),
    }
}

/// The value of a `bytea` column.
pub fn bytes(value: &DbValue) -> Result<Vec<u8>, Error> {
    match value {
        DbValue::Binary(value) => Ok(value.clone()),
        other => Err(Error::Unavailable(format!("expected bytea, found {other:?}"))),
    }
}

/// The value of a `text` column.
pub fn text(value: &DbValue) -> Result<String, Error> {
    match value {
        DbValue::Str(value) => Ok(value.clone()),
        other => Err(Error::Unavailable(format!("expected text, found {other:?}"))),
    }
}

/// The value of a `bool` column.
pub fn boolean(value: &DbValue) -> Result<bool, Error> {
    match value {
        DbValue::Boolean(value) => Ok(*value),
        other => Err(Error::Unavailable(format!("expected a bool, found {other:?}"))),
    }
}

fn newer_schema(version: i64) -> Error {
    Error::Unavailable(format!(
        "the database's schema is version {version}, newer than this adapter's {}: upgrade newsfeed",
        sql::SCHEMA_VERSION
    ))
}

/// A failed statement: the input's fault when a post's words overflow a
/// `tsvector` (400, as on the host's PostgreSQL backend), the backend's
/// otherwise (503).
fn failed(error: pg::PgError) -> Error {
    match &error {
        pg::PgError::QueryFailed(pg::QueryError::DbError(db)) if db.code == sql::PROGRAM_LIMIT_EXCEEDED => {
            Error::Invalid(sql::TOO_MANY_WORDS.into())
        }
        _ => Error::Unavailable(format!("{error:?}")),
    }
}
