//! Component dependencies, composed the way `spin up` composes them.
//!
//! A `spin.toml` component may list dependencies: other components that
//! satisfy some of its imports, such as the Spin adapter for the
//! `newsfeed:feed` package. Spin plugs them in with a wac composition graph
//! when it loads the app; this module does the same, with the same rules, so
//! that what `newsfeed up --as-spin` runs is what Spin runs:
//!
//! - a dependency is named by a package (`ns:pkg`, optionally `@version`) or
//!   by one interface of it (`ns:pkg/iface`), and matches every import of
//!   the component that the name covers;
//! - each matched import is satisfied by the dependency's export of the same
//!   name (or of the name given by `export`), whose type must fit it;
//! - a dependency matching no import, or two dependencies matching one
//!   import, is an error.

use super::manifest::Inherited;
use anyhow::{bail, Context, Result};
use semver::Version;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

/// A dependency's key in `[component.NAME.dependencies]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyName {
    /// `namespace:name`.
    pub package: String,
    pub interface: Option<String>,
    pub version: Option<Version>,
}

/// One dependency, ready to compose.
pub struct Dependency {
    pub name: DependencyName,
    pub wasm: Vec<u8>,
    /// The export to use for every import matched; default: the import's name.
    pub export: Option<String>,
    /// Which of the component's capabilities it may use. Spin denies a
    /// dependency a host interface whose capability it does not inherit; we
    /// refuse to compose it.
    pub inherits: Inherited,
}

/// Spin's host interfaces that a dependency may use only by inheriting the
/// component's capability set of that name (import prefix, manifest key).
const CAPABILITIES: &[(&str, &str)] = &[
    ("fermyon:spin/sqlite", "sqlite_databases"),
    ("spin:sqlite/", "sqlite_databases"),
    ("spin:postgres/", "allowed_outbound_hosts"),
    ("fermyon:spin/postgres", "allowed_outbound_hosts"),
    ("fermyon:spin/variables", "variables"),
    ("spin:variables/", "variables"),
];

/// The capability set `import` needs, if it is one of Spin's host interfaces.
fn capability(import: &str) -> Option<&'static str> {
    CAPABILITIES.iter().find(|(prefix, _)| import.starts_with(prefix)).map(|(_, key)| *key)
}

impl FromStr for DependencyName {
    type Err = anyhow::Error;

    /// `ns:pkg`, `ns:pkg@1.2.3`, `ns:pkg/iface` or `ns:pkg/iface@1.2.3`.
    fn from_str(text: &str) -> Result<Self> {
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => (name, Some(Version::parse(version).with_context(|| format!("in {text:?}"))?)),
            None => (text, None),
        };
        let (package, interface) = match name.split_once('/') {
            Some((package, interface)) => (package, Some(interface.to_string())),
            None => (name, None),
        };
        let well_formed = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        match package.split_once(':') {
            Some((namespace, name))
                if well_formed(namespace) && well_formed(name) && interface.as_deref().is_none_or(well_formed) => {}
            _ => bail!("dependency name {text:?} is not `namespace:package[/interface][@version]`"),
        }
        Ok(DependencyName { package: package.to_string(), interface, version })
    }
}

impl fmt::Display for DependencyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.package)?;
        if let Some(interface) = &self.interface {
            write!(f, "/{interface}")?;
        }
        if let Some(version) = &self.version {
            write!(f, "@{version}")?;
        }
        Ok(())
    }
}

impl DependencyName {
    /// Whether this name covers `import`, a component import name such as
    /// `newsfeed:feed/storage@0.1.0`.
    pub fn matches(&self, import: &str) -> bool {
        let (name, version) = match import.split_once('@') {
            Some((name, version)) => (name, Version::parse(version).ok()),
            None => (import, None),
        };
        let Some((package, interface)) = name.split_once('/') else {
            return false;
        };
        package == self.package
            && self.interface.as_deref().is_none_or(|wanted| wanted == interface)
            && self.version.as_ref().is_none_or(|wanted| version.as_ref() == Some(wanted))
    }
}

/// The component with every import its dependencies match plugged, as one
/// new component with the same exports.
pub fn compose(component: &[u8], dependencies: Vec<Dependency>) -> Result<Vec<u8>> {
    if dependencies.is_empty() {
        return Ok(component.to_vec());
    }
    let mut graph = CompositionGraph::new();
    let (world, main) = instantiate(&mut graph, "root:component", component.to_vec())?;
    let imports: Vec<String> = graph.types()[world].imports.keys().cloned().collect();

    // Which dependency (index, instance) satisfies which import.
    let mut plugs: BTreeMap<String, Vec<(usize, NodeId)>> = BTreeMap::new();
    for (index, dependency) in dependencies.iter().enumerate() {
        let matched: Vec<&String> = imports.iter().filter(|import| dependency.name.matches(import)).collect();
        if matched.is_empty() {
            bail!("dependency {} matches none of the component's imports", dependency.name);
        }
        let (dependency_world, instance) =
            instantiate(&mut graph, &format!("dependency:n{index}"), dependency.wasm.clone())
                .with_context(|| format!("dependency {}", dependency.name))?;
        let needed = graph.types()[dependency_world].imports.keys().filter_map(|import| capability(import));
        if let Some(key) = needed.into_iter().find(|key| !dependency.inherits.includes(key)) {
            bail!(
                "dependency {} uses Spin's {key} but does not inherit them from the component, \
                 so Spin would deny it: set dependencies_inherit_configuration = true",
                dependency.name
            );
        }
        for import in matched {
            plugs.entry(import.clone()).or_default().push((index, instance));
        }
    }
    for (import, satisfied_by) in plugs {
        let [(index, instance)] = satisfied_by[..] else {
            let names: Vec<String> = satisfied_by.iter().map(|(i, _)| dependencies[*i].name.to_string()).collect();
            bail!("import {import} is matched by several dependencies: {}", names.join(", "));
        };
        let dependency = &dependencies[index];
        let export = dependency.export.clone().unwrap_or_else(|| import.clone());
        let plug = graph
            .alias_instance_export(instance, &export)
            .with_context(|| format!("dependency {} has no export {export} for import {import}", dependency.name))?;
        graph
            .set_instantiation_argument(main, &import, plug)
            .with_context(|| format!("dependency {}: its {export} does not fit import {import}", dependency.name))?;
    }
    let exports: Vec<String> = graph.types()[world].exports.keys().cloned().collect();
    for export in exports {
        let item = graph.alias_instance_export(main, &export)?;
        graph.export(item, &export)?;
    }
    graph.encode(EncodeOptions::default()).context("encoding the composed component")
}

fn instantiate(graph: &mut CompositionGraph, name: &str, wasm: Vec<u8>) -> Result<(wac_graph::types::WorldId, NodeId)> {
    let package = Package::from_bytes(name, None, wasm, graph.types_mut())?;
    let world = package.ty();
    let id = graph.register_package(package)?;
    Ok((world, graph.instantiate(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> DependencyName {
        text.parse().unwrap()
    }

    #[test]
    fn names_match_imports_as_spin_matches_them() {
        assert!(name("newsfeed:feed").matches("newsfeed:feed/storage@0.1.0"));
        assert!(name("newsfeed:feed").matches("newsfeed:feed/types"));
        assert!(name("newsfeed:feed@0.1.0").matches("newsfeed:feed/search@0.1.0"));
        assert!(!name("newsfeed:feed@0.1.0").matches("newsfeed:feed/search"));
        assert!(name("newsfeed:feed/search").matches("newsfeed:feed/search@0.1.0"));
        assert!(!name("newsfeed:feed/search").matches("newsfeed:feed/storage@0.1.0"));
        assert!(!name("newsfeed:feed").matches("newsfeed:feeds/storage"));
        assert!(!name("newsfeed:feed").matches("wasi:http/types@0.2.0"));
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in ["feed", "newsfeed:", ":feed", "newsfeed:feed/", "newsfeed:feed@one", "news feed:x"] {
            assert!(bad.parse::<DependencyName>().is_err(), "{bad}");
        }
        assert_eq!(name("a:b/c@1.0.0").to_string(), "a:b/c@1.0.0");
    }

    #[test]
    fn without_dependencies_the_component_is_unchanged() {
        assert_eq!(compose(b"\0asm", Vec::new()).unwrap(), b"\0asm");
    }

    /// A component importing `a:b/c@1.0.0` (a function `f`) and `x:y/z`.
    const MAIN: &str = r#"(component
        (import "a:b/c@1.0.0" (instance (export "f" (func (result u32)))))
        (import "x:y/z" (instance (export "g" (func))))
    )"#;

    /// A component exporting `a:b/c@1.0.0`, with `imports` spliced in.
    fn provider(imports: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(component {imports}
                (core module $m (func (export "f") (result i32) i32.const 7))
                (core instance $i (instantiate $m))
                (func $f (result u32) (canon lift (core func $i "f")))
                (instance $e (export "f" (func $f)))
                (export "a:b/c@1.0.0" (instance $e))
            )"#
        ))
        .unwrap()
    }

    fn dependency(key: &str, wasm: Vec<u8>) -> Dependency {
        Dependency { name: name(key), wasm, export: None, inherits: Inherited::All }
    }

    fn imports(component: &[u8]) -> Vec<String> {
        let mut graph = CompositionGraph::new();
        let (world, _) = instantiate(&mut graph, "t:t", component.to_vec()).unwrap();
        graph.types()[world].imports.keys().cloned().collect()
    }

    #[test]
    fn a_matched_import_is_plugged_and_the_others_stay() {
        let main = wat::parse_str(MAIN).unwrap();
        let composed = compose(&main, vec![dependency("a:b", provider(""))]).unwrap();
        assert_eq!(imports(&composed), ["x:y/z"]);
    }

    #[test]
    fn what_spin_refuses_is_refused() {
        let main = wat::parse_str(MAIN).unwrap();
        let error = |dependencies| format!("{:#}", compose(&main, dependencies).unwrap_err());
        assert!(error(vec![dependency("q:r", provider(""))]).contains("matches none"));
        let twice = vec![dependency("a:b", provider("")), dependency("a:b/c", provider(""))];
        assert!(error(twice).contains("several dependencies"));
        assert!(error(vec![dependency("x:y", provider(""))]).contains("no export x:y/z"));
        let mut denied = dependency("a:b", provider(r#"(import "fermyon:spin/sqlite@2.0.0" (instance))"#));
        denied.inherits = Inherited::Only(vec!["variables".into()]);
        assert!(error(vec![denied]).contains("sqlite_databases"));
        let mut denied = dependency("a:b", provider(r#"(import "spin:postgres/postgres@4.0.0" (instance))"#));
        denied.inherits = Inherited::Only(vec!["sqlite_databases".into()]);
        assert!(error(vec![denied]).contains("allowed_outbound_hosts"));
        let mut allowed = dependency("a:b", provider(r#"(import "spin:postgres/postgres@4.0.0" (instance))"#));
        allowed.inherits = Inherited::Only(vec!["allowed_outbound_hosts".into()]);
        assert!(compose(&main, vec![allowed]).is_ok());
    }
}
