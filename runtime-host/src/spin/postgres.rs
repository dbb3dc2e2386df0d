//! Spin's PostgreSQL interface (`spin:postgres/postgres@4.0.0`), served by
//! our host for `newsfeed up --as-spin`, over tokio-postgres connections in
//! one deadpool-postgres pool per address, as Spin's own host does.
//!
//! As in Spin:
//! - a component may connect only to the addresses its manifest's
//!   `allowed_outbound_hosts` lists (`postgres://HOST:PORT`); any other is
//!   refused with `connection-failed("address postgres://HOST:PORT is not
//!   permitted")`, before any connection is made;
//! - each `connection` resource holds one pooled connection for its life,
//!   so `BEGIN` ... `COMMIT` across calls is one transaction.
//!
//! A connection dropped inside a transaction (its instance trapped, say) is
//! closed, which rolls the transaction back, instead of going back to the
//! pool. Values: the scalar types, text, bytes, and arrays of int4, int8
//! and text are converted both ways; other column types come back as
//! `unsupported`, other parameter types are a `bad-parameter` error.

#![allow(
    clippy::result_large_err,
    reason = "the error is the interface's own `error` variant, handed to the guest as it is"
)]

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{NoTls, Row, Statement};
use tracing::Instrument;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

wasmtime::component::bindgen!({
    path: "runtime-host/wit/spin-postgres.wit",
    world: "host",
    imports: { default: async | trappable },
    with: { "spin:postgres/postgres.connection": Connection },
    additional_derives: [PartialEq],
});

use spin::postgres::postgres::{
    self as pg, Column, DbDataType, DbError, DbValue, Error, ParameterValue, QueryError, RowSet,
};

/// The port a `postgres://HOST` address means when it names none.
const DEFAULT_PORT: u16 = 5432;

/// One pool per address (connection string), shared by every instance.
pub struct Pools {
    max_size: usize,
    by_address: Mutex<HashMap<String, Pool>>,
}

impl Pools {
    pub fn new(max_size: usize) -> Arc<Pools> {
        Arc::new(Pools { max_size, by_address: Mutex::default() })
    }

    fn pool(&self, address: &str) -> Result<Pool, Error> {
        let mut pools = self.by_address.lock().map_err(|_| Error::Other("the pool lock is poisoned".into()))?;
        if let Some(pool) = pools.get(address) {
            return Ok(pool.clone());
        }
        let config: tokio_postgres::Config = address.parse().map_err(|e| Error::ConnectionFailed(format!("{e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(self.max_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(3)))
            .create_timeout(Some(std::time::Duration::from_secs(3)))
            .build()
            .map_err(|e| Error::ConnectionFailed(e.to_string()))?;
        pools.insert(address.to_string(), pool.clone());
        Ok(pool)
    }
}

/// One entry of `allowed_outbound_hosts` that can allow PostgreSQL:
/// `postgres://HOST[:PORT]`, where HOST or PORT may be `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

impl AllowedHost {
    /// The PostgreSQL entries of a component's (expanded)
    /// `allowed_outbound_hosts`; entries for other schemes are skipped.
    pub fn parse_all(entries: &[String]) -> anyhow::Result<Vec<AllowedHost>> {
        let mut allowed = Vec::new();
        for entry in entries {
            let Some(rest) = entry.strip_prefix("postgres://").or_else(|| entry.strip_prefix("*://")) else {
                continue;
            };
            let (host, port) = match rest.rsplit_once(':') {
                Some((host, "*")) => (host, None),
                Some((host, port)) => {
                    let port = port.parse().map_err(|_| anyhow::anyhow!("bad port in allowed host {entry:?}"))?;
                    (host, Some(port))
                }
                None => (rest, Some(DEFAULT_PORT)),
            };
            if host.is_empty() || host.contains('/') {
                anyhow::bail!("allowed host {entry:?} is not postgres://HOST[:PORT]");
            }
            allowed.push(AllowedHost { host: host.to_string(), port });
        }
        Ok(allowed)
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        (self.host == "*" || self.host == host) && self.port.is_none_or(|allowed| allowed == port)
    }
}

/// Refuses, as Spin does, an address whose hosts are not all allowed.
fn ensure_allowed(allowed: &[AllowedHost], address: &str) -> Result<(), Error> {
    let config: tokio_postgres::Config = address.parse().map_err(|e| Error::ConnectionFailed(format!("{e}")))?;
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let tokio_postgres::config::Host::Tcp(host) = host else {
            return Err(Error::ConnectionFailed("Unix sockets are not supported on WebAssembly".into()));
        };
        let port = ports.get(i).or(if ports.len() == 1 { ports.first() } else { None }).copied();
        let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
        if !allowed.iter().any(|entry| entry.allows(host, port.unwrap_or(DEFAULT_PORT))) {
            return Err(Error::ConnectionFailed(format!("address postgres://{host}{port_text} is not permitted")));
        }
    }
    Ok(())
}

/// One open connection: a pooled client, and whether a transaction is open
/// on it (judged by the statements run).
pub struct Connection {
    client: Option<Object>,
    in_transaction: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.in_transaction {
            // Closing the connection makes the server roll back.
            if let Some(client) = self.client.take() {
                drop(Object::take(client));
            }
        }
    }
}

/// What one instance may reach: the shared pools, and its allowed hosts.
#[derive(Clone)]
pub struct SpinPostgresCtx {
    pub pools: Arc<Pools>,
    pub allowed: Arc<[AllowedHost]>,
}

/// The instance's view: its context and the resource table.
pub struct SpinPostgresView<'a> {
    pub ctx: &'a SpinPostgresCtx,
    pub table: &'a mut ResourceTable,
}

pub struct SpinPostgres;

impl HasData for SpinPostgres {
    type Data<'a> = SpinPostgresView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SpinPostgresView<'_>,
) -> wasmtime::Result<()> {
    pg::add_to_linker::<T, SpinPostgres>(linker, view)
}

impl pg::Host for SpinPostgresView<'_> {}

impl pg::HostConnection for SpinPostgresView<'_> {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        if let Err(refused) = ensure_allowed(&self.ctx.allowed, &address) {
            return Ok(Err(refused));
        }
        let pool = match self.ctx.pools.pool(&address) {
            Ok(pool) => pool,
            Err(error) => return Ok(Err(error)),
        };
        match pool.get().await {
            Ok(client) => Ok(Ok(self.table.push(Connection { client: Some(client), in_transaction: false })?)),
            Err(error) => Ok(Err(Error::ConnectionFailed(error.to_string()))),
        }
    }

    async fn query(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let connection = self.table.get_mut(&connection)?;
        Ok(run(connection, &statement, params, |client, prepared, params| {
            Box::pin(async move {
                let rows = client.query(&prepared, &params).await?;
                crate::telemetry::returned_rows(rows.len());
                Ok(row_set(&prepared, &rows))
            })
        })
        .instrument(crate::telemetry::statement_span("spin_outbound_pg.query", "postgresql", &statement))
        .await
        .and_then(|rows| rows))
    }

    async fn execute(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let connection = self.table.get_mut(&connection)?;
        Ok(run(connection, &statement, params, |client, prepared, params| {
            Box::pin(async move { Ok(Ok(client.execute(&prepared, &params).await?)) })
        })
        .instrument(crate::telemetry::statement_span("spin_outbound_pg.execute", "postgresql", &statement))
        .await
        .and_then(|count| count))
    }

    async fn drop(&mut self, connection: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;
type Ran<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send + 'a>>;

/// Prepares `statement` (cached per connection), converts `params`, runs
/// `work`, and keeps track of whether a transaction is open.
async fn run<T>(
    connection: &mut Connection,
    statement: &str,
    params: Vec<ParameterValue>,
    work: impl for<'a> FnOnce(&'a Object, Statement, Vec<&'a (dyn ToSql + Sync)>) -> Ran<'a, T>,
) -> Result<T, Error> {
    let params: Params = params.into_iter().map(to_sql).collect::<Result<_, _>>()?;
    let client = connection.client.as_ref().ok_or_else(|| Error::Other("the connection is closed".into()))?;
    let prepared = client.prepare_cached(statement).await.map_err(query_failed)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let result = work(client, prepared, refs).await.map_err(query_failed);
    if let Some(open) = transaction_effect(statement) {
        connection.in_transaction = open;
    }
    result
}

/// `Some(true)` for a statement that opens a transaction, `Some(false)` for
/// one that ends it, `None` otherwise.
fn transaction_effect(statement: &str) -> Option<bool> {
    let mut words = statement.split_whitespace().map(|word| word.trim_end_matches(';').to_ascii_uppercase());
    match (words.next()?.as_str(), words.next().as_deref()) {
        ("BEGIN" | "START", _) => Some(true),
        ("ROLLBACK", Some("TO")) => None,
        ("COMMIT" | "END" | "ROLLBACK" | "ABORT", _) => Some(false),
        _ => None,
    }
}

/// NULL of whatever type the statement wants there.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn to_sql(value: ParameterValue) -> Result<Box<dyn ToSql + Sync + Send>, Error> {
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(v),
        ParameterValue::Int8(v) => Box::new(v),
        ParameterValue::Int16(v) => Box::new(v),
        ParameterValue::Int32(v) => Box::new(v),
        ParameterValue::Int64(v) => Box::new(v),
        ParameterValue::Floating32(v) => Box::new(v),
        ParameterValue::Floating64(v) => Box::new(v),
        ParameterValue::Str(v) => Box::new(v),
        ParameterValue::Binary(v) => Box::new(v),
        ParameterValue::ArrayInt32(v) => Box::new(v),
        ParameterValue::ArrayInt64(v) => Box::new(v),
        ParameterValue::ArrayStr(v) => Box::new(v),
        ParameterValue::DbNull => Box::new(Null),
        other => return Err(Error::BadParameter(format!("newsfeed's host does not support parameter {other:?}"))),
    })
}

fn row_set(statement: &Statement, rows: &[Row]) -> Result<RowSet, Error> {
    let columns = statement
        .columns()
        .iter()
        .map(|column| Column { name: column.name().to_string(), data_type: data_type(column.type_()) })
        .collect();
    let rows = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| value(row, i)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<_, _>>()?;
    Ok(RowSet { columns, rows })
}

fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::CHAR => DbDataType::Int8,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DbDataType::Str,
        Type::BYTEA => DbDataType::Binary,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => DbDataType::ArrayStr,
        _ => DbDataType::Other(ty.name().to_string()),
    }
}

fn value(row: &Row, i: usize) -> Result<DbValue, Error> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<Option<T>, Error> {
        row.try_get(i).map_err(|e| Error::ValueConversionFailed(e.to_string()))
    }
    let ty = row.columns()[i].type_();
    let value = match *ty {
        Type::BOOL => get::<bool>(row, i)?.map(DbValue::Boolean),
        Type::CHAR => get::<i8>(row, i)?.map(DbValue::Int8),
        Type::INT2 => get::<i16>(row, i)?.map(DbValue::Int16),
        Type::INT4 => get::<i32>(row, i)?.map(DbValue::Int32),
        Type::INT8 => get::<i64>(row, i)?.map(DbValue::Int64),
        Type::FLOAT4 => get::<f32>(row, i)?.map(DbValue::Floating32),
        Type::FLOAT8 => get::<f64>(row, i)?.map(DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get::<String>(row, i)?.map(DbValue::Str),
        Type::BYTEA => get::<Vec<u8>>(row, i)?.map(DbValue::Binary),
        Type::INT4_ARRAY => get::<Vec<Option<i32>>>(row, i)?.map(DbValue::ArrayInt32),
        Type::INT8_ARRAY => get::<Vec<Option<i64>>>(row, i)?.map(DbValue::ArrayInt64),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => get::<Vec<Option<String>>>(row, i)?.map(DbValue::ArrayStr),
        _ => Some(DbValue::Unsupported(Vec::new())),
    };
    Ok(value.unwrap_or(DbValue::DbNull))
}

fn query_failed(error: tokio_postgres::Error) -> Error {
    match error.as_db_error() {
        Some(db) => Error::QueryFailed(QueryError::DbError(DbError {
            as_text: db.to_string(),
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            extras: Vec::new(),
        })),
        None => Error::QueryFailed(QueryError::Text(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_hosts_and_ports_are_let_through() {
        let entries =
            ["postgres://127.0.0.1:5432", "postgres://db.internal", "https://example.com", "postgres://*:6000"];
        let allowed = AllowedHost::parse_all(&entries.map(String::from)).unwrap();
        assert_eq!(allowed.len(), 3, "the https entry is not PostgreSQL's");
        let check = |address: &str| ensure_allowed(&allowed, address);
        assert!(check("postgres://u@127.0.0.1:5432/db").is_ok());
        assert!(check("postgres://u@db.internal/db").is_ok(), "no port: 5432");
        assert!(check("host=anywhere port=6000 user=u").is_ok());
        let refused = check("postgres://u@127.0.0.1:5433/db").unwrap_err();
        assert_eq!(refused, Error::ConnectionFailed("address postgres://127.0.0.1:5433 is not permitted".into()));
        assert!(check("postgres://u@elsewhere:5432/db").is_err());
        assert!(AllowedHost::parse_all(&["postgres://h:port".to_string()]).is_err());
    }

    #[test]
    fn transactions_are_told_by_their_first_words() {
        assert_eq!(transaction_effect("BEGIN"), Some(true));
        assert_eq!(transaction_effect("start transaction read only"), Some(true));
        assert_eq!(transaction_effect("COMMIT;"), Some(false));
        assert_eq!(transaction_effect("rollback"), Some(false));
        assert_eq!(transaction_effect("ROLLBACK TO SAVEPOINT s"), None);
        assert_eq!(transaction_effect("SELECT 1"), None);
    }
}
