//! One call's database session over Spin's SQLite: open the `default`
//! database, bring its schema up to date, and run one transaction.
//!
//! Spin's `execute` runs one statement per call on one connection, so a
//! transaction is `BEGIN` ... `COMMIT` across calls; a failure on the way
//! rolls it back, and so does the connection closing if the instance dies
//! mid-call: a failed call writes nothing.

use crate::types::Error;
use newsfeed_sql::sqlite::{self as sql, Step};
use spin_sdk::sqlite::{Connection, Value};

/// An open connection to the `default` database.
pub struct Db {
    conn: Connection,
}

/// Runs `reads` in one read transaction: every statement sees one snapshot.
pub fn read<T>(reads: impl FnOnce(&Db) -> Result<T, Error>) -> Result<T, Error> {
    Db::open()?.transaction("BEGIN", reads)
}

/// Runs `change` in one write transaction, durable when this returns `Ok`.
pub fn write<T>(change: impl FnOnce(&Db) -> Result<T, Error>) -> Result<T, Error> {
    Db::open()?.transaction("BEGIN IMMEDIATE", change)
}

impl Db {
    /// Opens the database, its schema up to date. Enough for a call of one
    /// statement: a single statement sees one snapshot and is atomic.
    pub fn open() -> Result<Db, Error> {
        let db = Db { conn: Connection::open_default().map_err(unavailable)? };
        match db.schema_version()? {
            current if current == sql::SCHEMA_VERSION => {}
            newer if newer > sql::SCHEMA_VERSION => return Err(newer_schema(newer)),
            _ => db.transaction("BEGIN IMMEDIATE", Db::migrate)?,
        }
        Ok(db)
    }

    fn schema_version(&self) -> Result<usize, Error> {
        let version = self.query_one(sql::READ_SCHEMA_VERSION, &[])?.int()?;
        usize::try_from(version).map_err(|_| Error::Unavailable(format!("bad schema version {version}")))
    }

    /// Runs the migrations not yet run. Inside the write transaction, so of
    /// two instances starting on an empty file one migrates, the other waits
    /// and then finds nothing left to do.
    fn migrate(&self) -> Result<(), Error> {
        let done = self.schema_version()?;
        if done > sql::SCHEMA_VERSION {
            return Err(newer_schema(done));
        }
        for step in sql::migration(done) {
            match step {
                Step::Sql(statement) => drop(self.query(&statement, &[])?),
                Step::IndexEveryPost => {
                    for mut post in self.query(sql::EVERY_POST, &[])? {
                        let (id, subject, story) = (post.int()?, post.text()?, post.text()?);
                        let document = newsfeed_sql::search::document(&subject, &story);
                        self.query(sql::INDEX_POST, &[Value::Integer(id), Value::Text(document)])?;
                    }
                }
            }
        }
        Ok(())
    }

    fn transaction<T>(&self, begin: &str, work: impl FnOnce(&Db) -> Result<T, Error>) -> Result<T, Error> {
        self.query(begin, &[])?;
        let done = work(self).and_then(|value| self.query("COMMIT", &[]).map(|_| value));
        if done.is_err() {
            // The call's error is the one to report; a failed rollback still
            // ends with the connection, which rolls back on close.
            let _ = self.query("ROLLBACK", &[]);
        }
        done
    }

    /// Runs one statement and returns its rows.
    pub fn query(&self, statement: &str, parameters: &[Value]) -> Result<Vec<Row>, Error> {
        let result = self.conn.execute(statement, parameters).map_err(unavailable)?;
        Ok(result.rows.into_iter().map(|row| Row(row.values.into_iter())).collect())
    }

    /// Runs one statement that returns exactly one row.
    pub fn query_one(&self, statement: &str, parameters: &[Value]) -> Result<Row, Error> {
        self.query(statement, parameters)?
            .pop()
            .ok_or_else(|| Error::Unavailable(format!("no row from {:?}", first_line(statement))))
    }
}

/// One row, read column by column from the left.
pub struct Row(std::vec::IntoIter<Value>);

impl Row {
    pub fn int(&mut self) -> Result<i64, Error> {
        match self.0.next() {
            Some(Value::Integer(value)) => Ok(value),
            other => Err(unexpected("an integer", other)),
        }
    }

    pub fn blob(&mut self) -> Result<Vec<u8>, Error> {
        match self.0.next() {
            Some(Value::Blob(value)) => Ok(value),
            other => Err(unexpected("a blob", other)),
        }
    }

    pub fn text(&mut self) -> Result<String, Error> {
        match self.0.next() {
            Some(Value::Text(value)) => Ok(value),
            other => Err(unexpected("text", other)),
        }
    }
}

fn unexpected(wanted: &str, found: Option<Value>) -> Error {
    Error::Unavailable(format!("the database returned {found:?} where {wanted} was expected"))
}

/// A database written by a newer newsfeed: this adapter would misread it.
fn newer_schema(version: usize) -> Error {
    Error::Unavailable(format!(
        "the database's schema is version {version}, newer than this adapter's {}: upgrade newsfeed",
        sql::SCHEMA_VERSION
    ))
}

fn unavailable(error: spin_sdk::sqlite::Error) -> Error {
    Error::Unavailable(format!("sqlite: {error}"))
}

fn first_line(statement: &str) -> &str {
    statement.lines().next().unwrap_or(statement)
}
