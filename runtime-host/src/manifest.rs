//! `spin.toml`: the part of Spin's manifest (v2) that `newsfeed` runs.
//!
//! We read the same file as Spin, with a real TOML parser, and keep only what
//! the host needs: the HTTP routes, each component's wasm file, its build
//! command, and the WIT world it is linked against
//! (`[component.NAME.tool.newsfeed] world = "..."`, a table Spin ignores).

use crate::routing::Route;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An app, as read from a manifest file.
#[derive(Debug, Clone)]
pub struct App {
    /// The folder holding the manifest: relative paths start here.
    pub dir: PathBuf,
    pub routes: Vec<(Route, String)>,
    pub components: BTreeMap<String, ComponentSpec>,
}

#[derive(Debug, Clone)]
pub struct ComponentSpec {
    /// The component's wasm file, made absolute.
    pub source: PathBuf,
    /// The WIT world whose imports the host provides; `None` gives WASI and
    /// HTTP only.
    pub world: Option<String>,
    pub build: Option<BuildSpec>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BuildSpec {
    pub command: String,
    /// Where to run the command, relative to the manifest; default: there.
    pub workdir: Option<PathBuf>,
    /// Globs of the sources whose change calls for a rebuild.
    #[serde(default)]
    pub watch: Vec<String>,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: u32,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: String,
    component: String,
}

#[derive(Deserialize)]
struct RawComponent {
    source: String,
    build: Option<BuildSpec>,
    #[serde(default)]
    tool: BTreeMap<String, toml::Table>,
}

impl App {
    pub fn load(path: &Path) -> Result<App> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
        App::parse(&text, dir).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, dir: PathBuf) -> Result<App> {
        let raw: RawManifest = toml::from_str(text)?;
        if raw.spin_manifest_version != 2 {
            bail!("spin_manifest_version must be 2, not {}", raw.spin_manifest_version);
        }
        let mut components = BTreeMap::new();
        for (name, component) in raw.component {
            let world = match component.tool.get("newsfeed").and_then(|t| t.get("world")) {
                None => None,
                Some(toml::Value::String(world)) => Some(world.clone()),
                Some(other) => {
                    bail!("component {name}: tool.newsfeed.world must be a string, not {other}")
                }
            };
            let source = dir.join(&component.source);
            components.insert(name, ComponentSpec { source, world, build: component.build });
        }
        let mut routes = Vec::new();
        for trigger in raw.trigger.http {
            if !components.contains_key(&trigger.component) {
                bail!("route {} names component {:?}, which is not defined", trigger.route, trigger.component);
            }
            routes.push((Route::parse(&trigger.route)?, trigger.component));
        }
        Ok(App { dir, routes, components })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
        spin_manifest_version = 2
        [application]
        name = "t"
        [[trigger.http]]
        route = "/participant/:id"
        component = "participant"
        [component.participant]
        source = "p.wasm"
        allowed_outbound_hosts = []
        [component.participant.build]
        command = "cargo build"
        watch = ["src/**/*.rs"]
        [component.participant.tool.newsfeed]
        world = "participant-function"
        [component.plain]
        source = "plain.wasm"
    "#;

    #[test]
    fn reads_routes_sources_builds_and_worlds() {
        let app = App::parse(MANIFEST, PathBuf::from("/app")).unwrap();
        assert_eq!(app.routes.len(), 1);
        assert_eq!(app.routes[0].1, "participant");
        let participant = &app.components["participant"];
        assert_eq!(participant.source, PathBuf::from("/app/p.wasm"));
        assert_eq!(participant.world.as_deref(), Some("participant-function"));
        assert_eq!(participant.build.as_ref().unwrap().watch, vec!["src/**/*.rs"]);
        assert_eq!(app.components["plain"].world, None);
    }

    #[test]
    fn refuses_unknown_components_and_versions() {
        let dangling = MANIFEST.replace("component = \"participant\"", "component = \"nobody\"");
        assert!(App::parse(&dangling, PathBuf::from("/")).is_err());
        let v1 = MANIFEST.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(App::parse(&v1, PathBuf::from("/")).is_err());
        assert!(App::parse("not toml [", PathBuf::from("/")).is_err());
    }
}
