//! Least privilege at link time: each component is linked against the WIT
//! world its manifest entry names, and nothing more.
//!
//! The worlds are read from `wit/feed.wit` itself (built into the binary), so
//! the WIT stays the one place that says which function may call what. A
//! component importing anything its world lacks fails to link and is refused.

use super::feed::FeedCtx;
use super::host_state::HostState;
use crate::backend::wit as feed;
use anyhow::{bail, Context, Result};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::Engine;
use wit_parser::{Resolve, WorldItem};

const FEED_WIT: &str = include_str!("../../../wit/feed.wit");

/// The `newsfeed:feed` package's worlds.
pub struct Worlds {
    resolve: Resolve,
    package: wit_parser::PackageId,
}

impl Worlds {
    pub fn load() -> Result<Worlds> {
        let mut resolve = Resolve::new();
        let package = resolve.push_str("wit/feed.wit", FEED_WIT).context("parsing wit/feed.wit")?;
        Ok(Worlds { resolve, package })
    }

    /// The package's name without its version: `newsfeed:feed`.
    pub fn package_name(&self) -> String {
        let name = &self.resolve.packages[self.package].name;
        format!("{}:{}", name.namespace, name.name)
    }

    /// The names (`storage`, `search`, ...) of the feed interfaces that
    /// `world` imports, including `types`, which the others use.
    pub fn imports(&self, world: &str) -> Result<Vec<String>> {
        let id = self
            .resolve
            .select_world(&[self.package], Some(world))
            .with_context(|| format!("no world {world:?} in wit/feed.wit"))?;
        let names = self.resolve.worlds[id]
            .imports
            .values()
            .filter_map(|item| match item {
                WorldItem::Interface { id, .. } => self.resolve.interfaces[*id].name.clone(),
                _ => None,
            })
            .collect();
        Ok(names)
    }

    /// The feed interfaces `world` imports, as host interfaces to link.
    pub fn interfaces(&self, world: &str) -> Result<Vec<HostInterface>> {
        Ok(self.imports(world)?.into_iter().map(HostInterface::Feed).collect())
    }
}

/// An interface the host serves beyond WASI and WASI-HTTP, which every
/// component gets. A component is linked against a set of them (its
/// world's feed interfaces, or what Spin serves), and nothing more; a new
/// host interface is one variant here and its module's `add_to_linker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostInterface {
    /// An interface of the `newsfeed:feed` package (`storage`, `search`, ...).
    Feed(String),
    /// Spin's SQLite, `fermyon:spin/sqlite`.
    SpinSqlite,
    /// Spin's PostgreSQL, `spin:postgres/postgres`.
    SpinPostgres,
    /// Spin's variables, `fermyon:spin/variables`.
    SpinVariables,
}

/// A linker holding WASI, WASI-HTTP and exactly `interfaces`.
pub fn linker(engine: &Engine, interfaces: &[HostInterface]) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    for interface in interfaces {
        match interface {
            HostInterface::Feed(name) => add_feed_interface(&mut linker, name)?,
            HostInterface::SpinSqlite => crate::spin::sqlite::add_to_linker(&mut linker, HostState::spin_sqlite)?,
            HostInterface::SpinPostgres => crate::spin::postgres::add_to_linker(&mut linker, HostState::spin_postgres)?,
            HostInterface::SpinVariables => {
                crate::spin::variables::add_to_linker(&mut linker, |state: &mut HostState| &mut state.variables)?
            }
        }
    }
    Ok(linker)
}

fn add_feed_interface(linker: &mut Linker<HostState>, name: &str) -> Result<()> {
    fn feed(state: &mut HostState) -> &mut FeedCtx {
        &mut state.feed
    }
    match name {
        "types" => feed::types::add_to_linker::<_, HasSelf<FeedCtx>>(linker, feed)?,
        "storage" => feed::storage::add_to_linker::<_, HasSelf<FeedCtx>>(linker, feed)?,
        "participants" => feed::participants::add_to_linker::<_, HasSelf<FeedCtx>>(linker, feed)?,
        "friendships" => feed::friendships::add_to_linker::<_, HasSelf<FeedCtx>>(linker, feed)?,
        "publishing" => feed::publishing::add_to_linker::<_, HasSelf<FeedCtx>>(linker, feed)?,
        "search" => feed::search::add_to_linker::<_, HasSelf<FeedCtx>>(linker, feed)?,
        other => bail!("the host has no implementation of interface {other:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_world_imports_only_what_it_needs() {
        let worlds = Worlds::load().unwrap();
        let sorted = |world| {
            let mut names = worlds.imports(world).unwrap();
            names.sort();
            names
        };
        assert_eq!(sorted("search-function"), ["search", "types"]);
        assert_eq!(sorted("participant-function"), ["participants", "storage", "types"]);
        assert_eq!(sorted("inbound-function"), ["storage", "types"]);
        assert!(!sorted("friends-function").contains(&"publishing".to_string()));
        assert!(worlds.imports("no-such-world").is_err());
    }
}
