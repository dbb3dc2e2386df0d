//! Spin compatibility: the app is described, assembled and served the way
//! Spin does it, so the same `spin.toml` and components run under both.
//!
//! - [`manifest`]: `spin.toml` (Spin's manifest v2) and our own
//!   `[component.NAME.tool.newsfeed]` table;
//! - [`routing`]: Spin's route syntax and its most-specific-match rule;
//! - [`compose`]: plugging a component's dependencies into it, with Spin's
//!   rules for matching dependency names to imports (`--as-spin`);
//! - [`sqlite`]: Spin's SQLite interface, `fermyon:spin/sqlite@2.0.0`, served
//!   by our host over the same database file as the embedded backend;
//! - [`postgres`]: Spin's PostgreSQL interface, `spin:postgres/postgres@4.0.0`,
//!   with Spin's `allowed_outbound_hosts` check;
//! - [`variables`]: application and component variables, and Spin's
//!   variables interface, `fermyon:spin/variables@2.0.0`.
//!
//! Depends on nothing else in the host but `backend::sqlite::open_connection`,
//! the one way the host opens the SQLite file.

pub mod compose;
pub mod manifest;
pub mod postgres;
pub mod routing;
pub mod sqlite;
pub mod variables;

use anyhow::{Context, Result};
use manifest::ComponentSpec;
use postgres::AllowedHost;
use std::collections::BTreeMap;
use std::sync::Arc;
use variables::Values;

/// What one component may use of Spin's host interfaces, from its manifest
/// entry: the SQLite databases it may open, the PostgreSQL addresses it may
/// reach, and its variables' values.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    pub sqlite_databases: Arc<[String]>,
    pub postgres_hosts: Arc<[AllowedHost]>,
    pub variables: Arc<BTreeMap<String, String>>,
}

impl Capabilities {
    /// The component's capabilities, its templates expanded with the
    /// application variables' `values`.
    pub fn of(spec: &ComponentSpec, values: &Values) -> Result<Capabilities> {
        let hosts: Vec<String> = spec
            .allowed_outbound_hosts
            .iter()
            .map(|template| values.expand(template))
            .collect::<Result<_>>()
            .context("allowed_outbound_hosts")?;
        Ok(Capabilities {
            sqlite_databases: spec.sqlite_databases.clone().into(),
            postgres_hosts: AllowedHost::parse_all(&hosts)?.into(),
            variables: Arc::new(values.component(&spec.variables)?),
        })
    }

    /// Only the SQLite databases: what our own host's platform lets a
    /// component use of Spin's interfaces.
    pub fn sqlite_only(spec: &ComponentSpec) -> Capabilities {
        Capabilities { sqlite_databases: spec.sqlite_databases.clone().into(), ..Capabilities::default() }
    }
}
