//! What `/readyz` asks, one implementation of
//! [`Readiness`](crate::http::server::Readiness) for each way the functions
//! reach their data, chosen at start:
//!
//! - [`HostBackend`]: the host's own backend (SQLite or PostgreSQL) answers;
//! - [`SpinSqlite`] (`--as-spin`, `spin.toml`): the database file that Spin's
//!   SQLite interface serves opens and reads, and its disk has room;
//! - [`SpinPostgres`] (`--as-spin`, `spin-postgres.toml`): the address each
//!   component's adapter is configured with (its `db_url` variable) is one
//!   its `allowed_outbound_hosts` permits, and the server there answers.
//!
//! Each check is bounded by [`CHECK_TIMEOUT`], so `/readyz` answers within
//! about two seconds whatever the database does.

use crate::backend::sqlite::check_free_space;
use crate::backend::Backend;
use crate::http::server::Readiness;
use crate::spin::postgres::{permits, AllowedHost};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The most one readiness check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The component variable that holds a Spin PostgreSQL adapter's address.
pub const DB_URL_VARIABLE: &str = "db_url";

async fn bounded(check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")))
}

/// The host's own backend.
pub struct HostBackend(pub Arc<dyn Backend>);

#[async_trait::async_trait]
impl Readiness for HostBackend {
    async fn check(&self) -> Result<(), String> {
        bounded(async { self.0.ping().await.map_err(|error| error.to_string()) }).await
    }
}

/// The database file behind Spin's SQLite interface.
pub struct SpinSqlite {
    pub path: PathBuf,
}

#[async_trait::async_trait]
impl Readiness for SpinSqlite {
    async fn check(&self) -> Result<(), String> {
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || -> Result<(), String> {
            check_free_space(&path).map_err(|error| error.to_string())?;
            let conn = rusqlite::Connection::open(&path).map_err(|error| error.to_string())?;
            conn.busy_timeout(CHECK_TIMEOUT).map_err(|error| error.to_string())?;
            // Reads the schema page: the file is a database, and readable.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())).map_err(|error| error.to_string())
        });
        bounded(async { read.await.map_err(|error| error.to_string())? }).await
    }
}

/// The PostgreSQL servers the components' adapters are configured with.
pub struct SpinPostgres {
    /// Each distinct (address, what its component may reach).
    pub targets: Vec<(String, Arc<[AllowedHost]>)>,
}

#[async_trait::async_trait]
impl Readiness for SpinPostgres {
    async fn check(&self) -> Result<(), String> {
        for (address, allowed) in &self.targets {
            permits(allowed, address)?;
            bounded(async {
                let (client, connection) =
                    tokio_postgres::connect(address, tokio_postgres::NoTls).await.map_err(|error| error.to_string())?;
                let driver = tokio::spawn(connection);
                let answered = client.simple_query("SELECT 1").await.map(drop).map_err(|error| error.to_string());
                drop(client);
                driver.abort();
                answered
            })
            .await?;
        }
        Ok(())
    }
}
