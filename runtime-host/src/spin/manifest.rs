//! `spin.toml`: the part of Spin's manifest (v2) that `newsfeed` runs.
//!
//! We read the same file as Spin, with a real TOML parser, and keep only what
//! the host needs: the HTTP routes, each component's wasm file, its build
//! command, the WIT world it is linked against
//! (`[component.NAME.tool.newsfeed] world = "..."`, a table Spin ignores), the
//! SQLite databases it may open, the outbound hosts it may reach, its
//! variables, its component dependencies, and the application variables.

use super::compose::DependencyName;
use super::routing::Route;
use super::variables::AppVariable;
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
    /// The application variables (`[variables]`).
    pub variables: BTreeMap<String, AppVariable>,
}

#[derive(Debug, Clone)]
pub struct ComponentSpec {
    /// The component's wasm file, made absolute.
    pub source: PathBuf,
    /// The WIT world whose imports the host provides; `None` gives WASI and
    /// HTTP only.
    pub world: Option<String>,
    pub build: Option<BuildSpec>,
    /// The SQLite database labels it may open (`sqlite_databases`).
    pub sqlite_databases: Vec<String>,
    /// Where it may connect (`allowed_outbound_hosts`), templates unexpanded.
    pub allowed_outbound_hosts: Vec<String>,
    /// Its variables (`[component.NAME.variables]`): name → template.
    pub variables: BTreeMap<String, String>,
    /// Components that satisfy some of its imports (`[component.NAME.dependencies]`).
    pub dependencies: Vec<DependencySpec>,
}

/// A local dependency: `"ns:pkg" = { path = "dep.wasm" }`.
#[derive(Debug, Clone)]
pub struct DependencySpec {
    pub name: DependencyName,
    /// The dependency's wasm file, made absolute.
    pub path: PathBuf,
    pub export: Option<String>,
    /// Which of the component's capabilities it may use, through
    /// `dependencies_inherit_configuration = true` or its own
    /// `inherit_configuration`.
    pub inherits: Inherited,
}

/// The capability sets a dependency inherits from its component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inherited {
    All,
    /// Only these keys (`"sqlite_databases"`, `"allowed_outbound_hosts"`,
    /// `"variables"`, ...); none when empty.
    Only(Vec<String>),
}

impl Inherited {
    /// Whether the capability set named `key` (a manifest key) is inherited.
    pub fn includes(&self, key: &str) -> bool {
        match self {
            Inherited::All => true,
            Inherited::Only(keys) => keys.iter().any(|k| k == key),
        }
    }
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
    #[serde(default)]
    variables: BTreeMap<String, AppVariable>,
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
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    dependencies_inherit_configuration: Option<bool>,
    #[serde(default)]
    dependencies: BTreeMap<String, RawDependency>,
}

#[derive(Deserialize)]
struct RawDependency {
    path: Option<String>,
    export: Option<String>,
    inherit_configuration: Option<RawInherit>,
}

/// `inherit_configuration = true`, or a list of the keys to inherit.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawInherit {
    All(bool),
    Some(Vec<String>),
}

impl RawComponent {
    fn dependencies(&self, name: &str, dir: &Path) -> Result<Vec<DependencySpec>> {
        let mut specs = Vec::new();
        for (key, dependency) in &self.dependencies {
            let context = || format!("component {name}, dependency {key:?}");
            let Some(path) = &dependency.path else {
                bail!("{}: newsfeed runs only local dependencies (`path = ...`)", context());
            };
            let inherits = match (&dependency.inherit_configuration, self.dependencies_inherit_configuration) {
                (Some(_), Some(_)) => {
                    bail!("{}: inherit_configuration and dependencies_inherit_configuration together", context())
                }
                (Some(RawInherit::All(true)), None) | (None, Some(true)) => Inherited::All,
                (Some(RawInherit::Some(keys)), None) => Inherited::Only(keys.clone()),
                _ => Inherited::Only(Vec::new()),
            };
            specs.push(DependencySpec {
                name: key.parse().with_context(context)?,
                path: dir.join(path),
                export: dependency.export.clone(),
                inherits,
            });
        }
        Ok(specs)
    }
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
            let dependencies = component.dependencies(&name, &dir)?;
            let spec = ComponentSpec {
                source: dir.join(&component.source),
                world,
                build: component.build,
                sqlite_databases: component.sqlite_databases,
                allowed_outbound_hosts: component.allowed_outbound_hosts,
                variables: component.variables,
                dependencies,
            };
            components.insert(name, spec);
        }
        let mut routes = Vec::new();
        for trigger in raw.trigger.http {
            if !components.contains_key(&trigger.component) {
                bail!("route {} names component {:?}, which is not defined", trigger.route, trigger.component);
            }
            routes.push((Route::parse(&trigger.route)?, trigger.component));
        }
        Ok(App { dir, routes, components, variables: raw.variables })
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
        allowed_outbound_hosts = ["postgres://{{ db_host }}"]
        sqlite_databases = ["default"]
        dependencies_inherit_configuration = true
        [component.participant.dependencies]
        "newsfeed:feed" = { path = "adapter.wasm" }
        [component.participant.build]
        command = "cargo build"
        watch = ["src/**/*.rs"]
        [component.participant.tool.newsfeed]
        world = "participant-function"
        [component.participant.variables]
        db_url = "{{ db_url }}"
        [variables]
        db_url = { required = true, secret = true }
        db_host = { default = "127.0.0.1:5432" }
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
        assert_eq!(participant.sqlite_databases, ["default"]);
        let adapter = &participant.dependencies[0];
        assert_eq!((adapter.name.to_string(), &adapter.inherits), ("newsfeed:feed".into(), &Inherited::All));
        assert_eq!(adapter.path, PathBuf::from("/app/adapter.wasm"));
        assert!(app.components["plain"].dependencies.is_empty());
        assert_eq!(participant.allowed_outbound_hosts, ["postgres://{{ db_host }}"]);
        assert_eq!(participant.variables["db_url"], "{{ db_url }}");
        assert!(app.variables["db_url"].required && app.variables["db_url"].secret);
        assert_eq!(app.variables["db_host"].default.as_deref(), Some("127.0.0.1:5432"));
    }

    #[test]
    fn dependencies_inherit_sqlite_only_when_told() {
        let dependency = |manifest: &str| {
            App::parse(manifest, PathBuf::from("/"))
                .map(|app| app.components["participant"].dependencies[0].inherits.includes("sqlite_databases"))
        };
        let without = MANIFEST.replace("dependencies_inherit_configuration = true", "");
        assert!(!dependency(&without).unwrap());
        let some = without
            .replace("path = \"adapter.wasm\"", "path = \"a.wasm\", inherit_configuration = [\"sqlite_databases\"]");
        assert!(dependency(&some).unwrap());
        let both = MANIFEST.replace("path = \"adapter.wasm\"", "path = \"a.wasm\", inherit_configuration = true");
        assert!(dependency(&both).is_err());
        let registry = MANIFEST.replace("path = \"adapter.wasm\"", "version = \"1.0.0\"");
        assert!(dependency(&registry).is_err());
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
