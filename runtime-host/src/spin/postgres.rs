//! Spin's PostgreSQL interface (`spin:postgres/postgres@4.0.0`), served by
//! our host for `newsfeed up --as-spin`, over tokio-postgres connections in
//! one deadpool-postgres pool per address, as Spin's own host
//! (`crates/factor-outbound-pg`) does.
//!
//! As in Spin:
//! - a component may connect only to the addresses its manifest's
//!   `allowed_outbound_hosts` lists (`postgres://HOST:PORT`); any other is
//!   refused with `connection-failed("address postgres://HOST:PORT is not
//!   permitted")`, before any connection is made. Unlike Spin, every
//!   `hostaddr` is checked too: tokio-postgres connects there, whatever
//!   `host` says, so checking `host` alone could be side-stepped;
//! - each `connection` resource holds one pooled connection for its life,
//!   so `BEGIN` ... `COMMIT` across calls is one transaction;
//! - pools are kept for the [`POOL_CACHE`] addresses used last, and a
//!   connection goes back to its pool reset (`RecyclingMethod::Clean`:
//!   `DISCARD ALL` and friends), so no `SET`, prepared statement or session
//!   advisory lock passes from one component to the next;
//! - a column of a type Spin does not convert comes back `unsupported`.
//!
//! Unlike Spin 4.0.0 to 4.0.2 (issue 3671), a `query` that yields no row
//! answers an empty row set; the real-Spin suite (`tests/e2e/real_spin.rs`)
//! covers the adapter on the buggy versions.
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

/// How many addresses keep a pool, as in Spin: the pool of the address used
/// least recently is dropped (its idle connections closed) to make room.
pub const POOL_CACHE: usize = 16;

/// One pool per address (connection string), shared by every instance; at
/// most [`POOL_CACHE`] of them, the most recently used last.
pub struct Pools {
    max_size: usize,
    by_address: Mutex<Vec<(String, Pool)>>,
}

impl Pools {
    pub fn new(max_size: usize) -> Arc<Pools> {
        Arc::new(Pools { max_size, by_address: Mutex::default() })
    }

    fn pool(&self, address: &str) -> Result<Pool, Error> {
        let mut pools = self.by_address.lock().map_err(|_| Error::Other("the pool lock is poisoned".into()))?;
        if let Some(at) = pools.iter().position(|(known, _)| known == address) {
            let used = pools.remove(at);
            let pool = used.1.clone();
            pools.push(used);
            return Ok(pool);
        }
        let config: tokio_postgres::Config = address.parse().map_err(|e| Error::ConnectionFailed(format!("{e}")))?;
        // `Clean`, as Spin does: a connection handed to the next component
        // carries no session state (settings, advisory locks) of the last.
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Clean });
        let pool = Pool::builder(manager)
            .max_size(self.max_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(3)))
            .create_timeout(Some(std::time::Duration::from_secs(3)))
            .build()
            .map_err(|e| Error::ConnectionFailed(e.to_string()))?;
        if pools.len() >= POOL_CACHE {
            pools.remove(0);
        }
        pools.push((address.to_string(), pool.clone()));
        Ok(pool)
    }

    /// How many addresses have a pool now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_address.lock().map_or(0, |pools| pools.len())
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

/// Refuses, as Spin does, an address whose hosts are not all allowed, and
/// (unlike Spin) one whose `hostaddr`s are not all allowed: tokio-postgres
/// connects to the `i`th `hostaddr` when there is one, to the `i`th host
/// otherwise, so every name and every IP address it may use is checked,
/// each with the port it would use.
fn ensure_allowed(allowed: &[AllowedHost], address: &str) -> Result<(), Error> {
    let config: tokio_postgres::Config = address.parse().map_err(|e| Error::ConnectionFailed(format!("{e}")))?;
    let ports = config.get_ports();
    let port = |i: usize| ports.get(i).or(if ports.len() == 1 { ports.first() } else { None }).copied();
    let mut targets = Vec::new();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let tokio_postgres::config::Host::Tcp(host) = host else {
            return Err(Error::ConnectionFailed("Unix sockets are not supported on WebAssembly".into()));
        };
        targets.push((host.clone(), port(i)));
    }
    for (i, ip) in config.get_hostaddrs().iter().enumerate() {
        let ip = match ip {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        targets.push((ip, port(i)));
    }
    for (host, port) in targets {
        let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
        if !allowed.iter().any(|entry| entry.allows(&host, port.unwrap_or(DEFAULT_PORT))) {
            return Err(Error::ConnectionFailed(format!("address postgres://{host}{port_text} is not permitted")));
        }
    }
    Ok(())
}

/// Whether a component that may reach `allowed` may connect to `address`:
/// the same check as its `open`, for readiness to ask without connecting.
pub fn permits(allowed: &[AllowedHost], address: &str) -> Result<(), String> {
    ensure_allowed(allowed, address).map_err(|error| match error {
        Error::ConnectionFailed(reason) => reason,
        other => format!("{other:?}"),
    })
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
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::BYTEA => DbDataType::Binary,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
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
        Type::INT2 => get::<i16>(row, i)?.map(DbValue::Int16),
        Type::INT4 => get::<i32>(row, i)?.map(DbValue::Int32),
        Type::INT8 => get::<i64>(row, i)?.map(DbValue::Int64),
        Type::FLOAT4 => get::<f32>(row, i)?.map(DbValue::Floating32),
        Type::FLOAT8 => get::<f64>(row, i)?.map(DbValue::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get::<String>(row, i)?.map(DbValue::Str),
        Type::BYTEA => get::<Vec<u8>>(row, i)?.map(DbValue::Binary),
        Type::INT4_ARRAY => get::<Vec<Option<i32>>>(row, i)?.map(DbValue::ArrayInt32),
        Type::INT8_ARRAY => get::<Vec<Option<i64>>>(row, i)?.map(DbValue::ArrayInt64),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            get::<Vec<Option<String>>>(row, i)?.map(DbValue::ArrayStr)
        }
        // As Spin: `char`, `name`, `void`, `timestamptz` (Spin's `datetime`,
        // which this host does not convert) and the rest come back as their
        // raw bytes, NULL as NULL.
        _ => get::<Raw>(row, i)?.map(|raw| DbValue::Unsupported(raw.0)),
    };
    Ok(value.unwrap_or(DbValue::DbNull))
}

/// A value of any type, as the server sent it.
struct Raw(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
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
    fn every_hostaddr_is_checked_as_well_as_every_host() {
        let allowed = AllowedHost::parse_all(&["postgres://db.invalid:5432".to_string()]).unwrap();
        let check = |address: &str| ensure_allowed(&allowed, address);
        assert!(check("postgres://u@db.invalid:5432/x").is_ok());
        let refused = check("postgres://u@db.invalid:5432/x?hostaddr=127.0.0.1").unwrap_err();
        assert_eq!(refused, Error::ConnectionFailed("address postgres://127.0.0.1:5432 is not permitted".into()));
        assert!(check("hostaddr=127.0.0.1 port=5432 user=u").is_err(), "a hostaddr alone");
        assert!(check("host=db.invalid hostaddr=::1 port=5432 user=u").is_err());
        let by_ip = AllowedHost::parse_all(&["postgres://127.0.0.1:5432".to_string()]).unwrap();
        assert!(ensure_allowed(&by_ip, "hostaddr=127.0.0.1 port=5432 user=u").is_ok());
    }

    #[tokio::test]
    async fn pools_are_kept_for_the_addresses_used_last_only() {
        let pools = Pools::new(2);
        for n in 0..POOL_CACHE + 5 {
            pools.pool(&format!("postgres://u@127.0.0.1:{}/x", 10000 + n)).unwrap();
        }
        assert_eq!(pools.len(), POOL_CACHE);
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
