//! Spin's SQLite interface (`fermyon:spin/sqlite@2.0.0`), served by our host.
//!
//! With `newsfeed up --as-spin` each function runs composed with the Spin
//! adapter, whose storage calls arrive here as SQL statements. Serving them
//! over the same database file the embedded backend uses keeps one set of
//! data whichever way the app runs.
//!
//! As in Spin, a component may open only the databases its manifest entry
//! lists (`sqlite_databases`), and `default` is the only one there is. Each
//! `open` takes a connection from a small pool; a connection handed back in
//! the middle of a transaction (its instance trapped) is closed, which rolls
//! the transaction back, instead of returning to the pool.
//!
//! Every instance writes through its own connection, so writers would meet
//! on SQLite's lock and poll for it. Instead a statement that starts a write
//! first takes the writer's turn, an async lock held until its connection is
//! back in autocommit: writers queue in order, and nobody polls. SQLite's own
//! locking still guards correctness; the turn only orders the waiting.
//! Statements outside a writer's turn are reads, and run in place; those in
//! a turn run on the blocking pool, since a commit waits on the disk.

use crate::telemetry;
use rusqlite::types::Value as SqlValue;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

wasmtime::component::bindgen!({
    path: "runtime-host/wit/spin-sqlite.wit",
    world: "host",
    imports: { default: async | trappable },
    with: { "fermyon:spin/sqlite.connection": Connection },
});

use fermyon::spin::sqlite::{self, Error, QueryResult, RowResult, Value};

/// Connections kept open between requests.
const IDLE_CONNECTIONS: usize = 16;

/// How long a write waits for its turn, like the busy handler's limit.
const WRITE_WAIT: Duration = Duration::from_secs(5);

/// The label of the one database there is.
const DEFAULT: &str = "default";

/// The `default` database file and its idle connections; shared by every
/// instance.
pub struct Databases {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl Databases {
    pub fn new(default_path: &Path) -> Arc<Databases> {
        Arc::new(Databases {
            path: default_path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            writer: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    fn idle(&self) -> Option<rusqlite::Connection> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        crate::backend::sqlite::open_connection(&self.path)
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(conn);
            }
        }
    }
}

/// An open connection, owned by one instance's resource table.
pub struct Connection {
    /// `None` while a statement runs (in place, or on the blocking pool).
    conn: Option<rusqlite::Connection>,
    /// Held from a write's first statement until the transaction ends.
    /// Declared after `conn`: on drop the connection closes (rolling back)
    /// before the next writer's turn begins.
    write_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    databases: Arc<Databases>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.databases.give_back(conn);
        }
    }
}

/// One instance's SQLite access: the shared databases, and the labels its
/// manifest entry allows.
pub struct SpinSqliteCtx {
    pub databases: Arc<Databases>,
    pub allowed: Arc<[String]>,
}

/// What the generated bindings reach: the context and the instance's table.
pub struct SpinSqliteView<'a> {
    pub ctx: &'a SpinSqliteCtx,
    pub table: &'a mut ResourceTable,
}

/// Marks [`SpinSqliteView`] as the data the bindings work on.
pub struct SpinSqlite;

impl HasData for SpinSqlite {
    type Data<'a> = SpinSqliteView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SpinSqliteView<'_>,
) -> wasmtime::Result<()> {
    sqlite::add_to_linker::<T, SpinSqlite>(linker, view)
}

impl sqlite::Host for SpinSqliteView<'_> {}

impl sqlite::HostConnection for SpinSqliteView<'_> {
    async fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        if !self.ctx.allowed.contains(&database) {
            return Ok(Err(Error::AccessDenied));
        }
        if database != DEFAULT {
            return Ok(Err(Error::NoSuchDatabase));
        }
        let databases = self.ctx.databases.clone();
        // Opening a file blocks; taking an idle connection does not.
        let opened = match databases.idle() {
            Some(conn) => Ok(conn),
            None => blocking(move || databases.connect().map_err(io_error)).await?,
        };
        Ok(match opened {
            Ok(conn) => {
                let databases = self.ctx.databases.clone();
                Ok(self.table.push(Connection { conn: Some(conn), write_turn: None, databases })?)
            }
            Err(error) => Err(error),
        })
    }

    async fn execute(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let span = telemetry::statement_span("spin_sqlite.execute", "sqlite", &statement);
        let executed = async {
            let entry = self.table.get_mut(&connection)?;
            if entry.write_turn.is_none() && starts_write(&statement) {
                let writer = entry.databases.writer.clone();
                match tokio::time::timeout(WRITE_WAIT, writer.lock_owned()).await {
                    Ok(turn) => self.table.get_mut(&connection)?.write_turn = Some(turn),
                    Err(_) => return Ok(Err(Error::Io("database is locked".into()))),
                }
            }
            let Some(conn) = self.table.get_mut(&connection)?.conn.take() else {
                return Ok(Err(Error::InvalidConnection));
            };
            // A statement outside the writer's turn is a read: it runs in
            // place, as the backend's reads do. In WAL mode it never waits on
            // a writer, and it holds the thread as the guest's own code
            // does; a hop to the blocking pool cost more than most of these
            // statements take. A write (its commit waits on the disk) hops.
            let holds_turn = self.table.get_mut(&connection)?.write_turn.is_some();
            let (conn, result) = match holds_turn {
                false => {
                    let result = run(&conn, &statement, parameters);
                    (conn, result)
                }
                true => {
                    blocking(move || {
                        let result = run(&conn, &statement, parameters);
                        (conn, result)
                    })
                    .await?
                }
            };
            let entry = self.table.get_mut(&connection)?;
            if conn.is_autocommit() {
                entry.write_turn = None;
            }
            entry.conn = Some(conn);
            Ok::<_, wasmtime::Error>(result)
        }
        .instrument(span.clone())
        .await;
        match &executed {
            Ok(Ok(result)) => span.in_scope(|| telemetry::returned_rows(result.rows.len())),
            Ok(Err(error)) => telemetry::fail(&span, "sqlite", &format!("{error:?}")),
            Err(trap) => telemetry::fail(&span, "trap", &trap.to_string()),
        }
        executed
    }

    async fn drop(&mut self, connection: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

/// Whether `statement` starts writing: a write outside a transaction, or a
/// transaction that takes the write lock at once. A guess from its first
/// words, which decides who waits in line and where a statement runs; a
/// write it misses still waits on SQLite's lock (the busy handler), on the
/// thread that runs it.
fn starts_write(statement: &str) -> bool {
    let mut words = statement.split_whitespace();
    let is = |word: Option<&str>, any: &[&str]| word.is_some_and(|w| any.iter().any(|a| w.eq_ignore_ascii_case(a)));
    let first = words.next();
    is(first, &["INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"])
        || (is(first, &["BEGIN"]) && is(words.next(), &["IMMEDIATE", "EXCLUSIVE"]))
}

/// Runs SQLite work on tokio's blocking pool, never on a reactor thread. If
/// the work panics, the instance traps.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> wasmtime::Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|join| wasmtime::Error::msg(format!("sqlite task failed: {join}")))
}

/// One statement, its parameters bound in order, all its rows read.
fn run(conn: &rusqlite::Connection, statement: &str, parameters: Vec<Value>) -> Result<QueryResult, Error> {
    let mut prepared = conn.prepare_cached(statement).map_err(io_error)?;
    let columns: Vec<String> = prepared.column_names().into_iter().map(String::from).collect();
    let parameters = rusqlite::params_from_iter(parameters.into_iter().map(to_sql));
    let mut rows = prepared.query(parameters).map_err(io_error)?;
    let mut results = Vec::new();
    while let Some(row) = rows.next().map_err(io_error)? {
        let values = (0..columns.len())
            .map(|i| row.get::<_, SqlValue>(i).map(from_sql))
            .collect::<rusqlite::Result<_>>()
            .map_err(io_error)?;
        results.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: results })
}

fn to_sql(value: Value) -> SqlValue {
    match value {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    }
}

fn from_sql(value: SqlValue) -> Value {
    match value {
        SqlValue::Integer(i) => Value::Integer(i),
        SqlValue::Real(f) => Value::Real(f),
        SqlValue::Text(s) => Value::Text(s),
        SqlValue::Blob(b) => Value::Blob(b),
        SqlValue::Null => Value::Null,
    }
}

fn io_error(error: rusqlite::Error) -> Error {
    Error::Io(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::sqlite::HostConnection;
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        ctx: SpinSqliteCtx,
        table: ResourceTable,
    }

    fn fixture(allowed: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let databases = Databases::new(&dir.path().join("spin.db"));
        let allowed = allowed.iter().map(|label| label.to_string()).collect();
        Fixture { _dir: dir, ctx: SpinSqliteCtx { databases, allowed }, table: ResourceTable::new() }
    }

    impl Fixture {
        fn view(&mut self) -> SpinSqliteView<'_> {
            SpinSqliteView { ctx: &self.ctx, table: &mut self.table }
        }

        async fn open(&mut self) -> Resource<Connection> {
            self.view().open(DEFAULT.into()).await.unwrap().unwrap()
        }

        async fn execute(&mut self, conn: &Resource<Connection>, statement: &str) -> Result<QueryResult, Error> {
            let borrowed = Resource::new_borrow(conn.rep());
            self.view().execute(borrowed, statement.into(), Vec::new()).await.unwrap()
        }
    }

    #[tokio::test]
    async fn only_the_listed_databases_open_and_default_is_the_only_one() {
        let mut fixture = fixture(&["default", "other"]);
        assert!(matches!(fixture.view().open("secret".into()).await.unwrap(), Err(Error::AccessDenied)));
        assert!(matches!(fixture.view().open("other".into()).await.unwrap(), Err(Error::NoSuchDatabase)));
        assert!(fixture.view().open(DEFAULT.into()).await.unwrap().is_ok());
        let mut denied = self::fixture(&[]);
        assert!(matches!(denied.view().open(DEFAULT.into()).await.unwrap(), Err(Error::AccessDenied)));
    }

    #[tokio::test]
    async fn every_kind_of_value_comes_back_with_its_column() {
        let mut fixture = fixture(&["default"]);
        let conn = fixture.open().await;
        let result =
            fixture.execute(&conn, "SELECT 7 AS i, 2.5 AS r, 'x' AS t, x'00ff' AS b, NULL AS n").await.unwrap();
        assert_eq!(result.columns, ["i", "r", "t", "b", "n"]);
        assert!(matches!(
            &result.rows[0].values[..],
            [Value::Integer(7), Value::Real(2.5), Value::Text(t), Value::Blob(b), Value::Null]
                if t == "x" && b == &[0, 255]
        ));
        assert!(matches!(fixture.execute(&conn, "SELECT * FROM nowhere").await, Err(Error::Io(_))));
    }

    #[test]
    fn writes_are_told_from_reads_by_their_first_words() {
        for write in
            ["INSERT INTO t VALUES (1)", "  begin immediate", "BEGIN EXCLUSIVE", "delete from t", "CREATE TABLE x (y)"]
        {
            assert!(starts_write(write), "{write}");
        }
        for read in
            ["SELECT 1", "BEGIN", "COMMIT", "ROLLBACK", "PRAGMA user_version", "WITH x AS (SELECT 1) SELECT 2", ""]
        {
            assert!(!starts_write(read), "{read}");
        }
    }

    #[tokio::test]
    async fn a_write_holds_the_writers_turn_until_its_transaction_ends() {
        let mut fixture = fixture(&["default"]);
        let conn = fixture.open().await;
        fixture.execute(&conn, "CREATE TABLE t (x)").await.unwrap();
        assert!(fixture.ctx.databases.writer.try_lock().is_ok(), "a write outside a transaction kept the turn");
        fixture.execute(&conn, "BEGIN IMMEDIATE").await.unwrap();
        fixture.execute(&conn, "INSERT INTO t VALUES (1)").await.unwrap();
        assert!(fixture.ctx.databases.writer.try_lock().is_err(), "a write transaction runs without the turn");
        fixture.execute(&conn, "COMMIT").await.unwrap();
        assert!(fixture.ctx.databases.writer.try_lock().is_ok(), "the turn outlived the transaction");
    }

    #[tokio::test]
    async fn a_connection_dropped_mid_transaction_rolls_back_and_is_not_reused() {
        let mut fixture = fixture(&["default"]);
        let conn = fixture.open().await;
        fixture.execute(&conn, "CREATE TABLE t (x)").await.unwrap();
        fixture.execute(&conn, "BEGIN IMMEDIATE").await.unwrap();
        fixture.execute(&conn, "INSERT INTO t VALUES (1)").await.unwrap();
        fixture.view().drop(conn).await.unwrap();
        assert!(fixture.ctx.databases.idle().is_none(), "a connection inside a transaction went back to the pool");
        assert!(fixture.ctx.databases.writer.try_lock().is_ok(), "the writer's turn outlived its connection");

        let conn = fixture.open().await;
        let count = fixture.execute(&conn, "SELECT COUNT(*) FROM t").await.unwrap();
        assert!(matches!(count.rows[0].values[..], [Value::Integer(0)]));
        fixture.view().drop(conn).await.unwrap();
        assert!(fixture.ctx.databases.idle().is_some(), "an idle connection was not kept");
    }
}
