//! One call's database session over Spin's PostgreSQL interface: read the
//! connection string from the `db_url` variable, open a connection (Spin
//! keeps one pooled connection per `Connection`, so a transaction spans
//! calls), bring the schema up to date, and run statements.
//!
//! A failure on the way rolls a transaction back; so does the connection
//! closing if the instance dies mid-call: a failed call writes nothing.

use crate::types::Error;
use newsfeed_sql::postgres as sql;
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
        let db = Db { conn: Connection::open(&url).map_err(unavailable)? };
        if db.schema_version()? < sql::SCHEMA_VERSION as i64 {
            db.transaction(Db::migrate)?;
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
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Runs the pending migrations under the advisory lock that the host's
    /// PostgreSQL backend takes too, so that instances and hosts starting
    /// at once migrate once.
    fn migrate(&self) -> Result<(), Error> {
        self.query(sql::MIGRATION_LOCK, &[])?;
        self.query(sql::CREATE_VERSION_TABLE, &[])?;
        let done = self.schema_version()?;
        if done > sql::SCHEMA_VERSION as i64 {
            return Err(Error::Unavailable(format!(
                "the database's schema is version {done}, newer than this adapter's {}",
                sql::SCHEMA_VERSION
            )));
        }
        if done < sql::SCHEMA_VERSION as i64 {
            for statement in sql::migration(done as usize) {
                self.query(statement, &[])?;
            }
            self.query(sql::RECORD_SCHEMA_VERSION, &[ParameterValue::Int32(sql::SCHEMA_VERSION as i32)])?;
        }
        Ok(())
    }

    /// Runs `work` between `BEGIN` and `COMMIT`, rolling back if it fails.
    pub fn transaction<T>(&self, work: impl FnOnce(&Db) -> Result<T, Error>) -> Result<T, Error> {
        self.query("BEGIN", &[])?;
        let done = work(self).and_then(|value| self.query("COMMIT", &[]).map(|_| value));
        if done.is_err() {
            // The call's error is the one to report; a failed rollback still
            // ends with the connection, which rolls back on close.
            let _ = self.query("ROLLBACK", &[]);
        }
        done
    }

    /// Runs one statement and returns its rows.
    pub fn query(&self, statement: &str, parameters: &[ParameterValue]) -> Result<Vec<Vec<DbValue>>, Error> {
        Ok(self.conn.query(statement, parameters).map_err(unavailable)?.rows)
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

fn unavailable(error: pg::PgError) -> Error {
    Error::Unavailable(format!("{error:?}"))
}
