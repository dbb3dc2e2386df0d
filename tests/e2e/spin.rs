//! The Spin artifacts: what `spin up` would run, checked without Spin.
//!
//! Spin cannot be installed on these machines, so these tests check what can
//! be checked here: that each function composed with the Spin adapter imports
//! only what Spin 4 serves, that the composed app (`newsfeed up --as-spin`)
//! answers exactly like the native path, and that both keep one database.

use crate::common;

use common::postgres::{shared, spin_host};
use common::{built_wasm, repo_root, Host};
use newsfeed::spin::compose::{compose, Dependency};
use newsfeed::spin::manifest::App;
use wasmparser::{Parser, Payload};

/// The top-level import names of a component (not those of the modules and
/// components nested inside it).
fn imports(component: &[u8]) -> Vec<String> {
    let (mut names, mut depth) = (Vec::new(), 0);
    for payload in Parser::new(0).parse_all(component) {
        match payload.unwrap() {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(section) if depth == 1 => {
                names.extend(section.into_iter().map(|import| import.unwrap().name.name.to_string()));
            }
            _ => {}
        }
    }
    names
}

/// What Spin 4 serves a component that may use SQLite: WASI 0.2 and Spin's
/// SQLite interface.
fn spin_serves(import: &str) -> bool {
    import.starts_with("wasi:") || import == "fermyon:spin/sqlite@2.0.0"
}

/// What Spin 4 serves a component that reaches PostgreSQL: WASI 0.2,
/// Spin's PostgreSQL interface and its variables interface.
fn spin_serves_postgres(import: &str) -> bool {
    import.starts_with("wasi:") || import == "spin:postgres/postgres@4.0.0" || import == "fermyon:spin/variables@2.0.0"
}

/// Each function of `manifest` composed with its dependencies, as Spin
/// composes them: (name, composed component).
fn composed(manifest: &str) -> Vec<(String, Vec<u8>)> {
    common::build_components();
    let app = App::load(&repo_root().join(manifest)).unwrap();
    app.components
        .iter()
        // The catch-all 404 and the web pages need no storage and have no
        // dependency.
        .filter(|(name, _)| !matches!(name.as_str(), "notfound" | "web"))
        .map(|(name, spec)| {
            let function = std::fs::read(&spec.source).unwrap();
            assert!(imports(&function).iter().any(|i| i.starts_with("newsfeed:feed/")), "{name} uses no feed import");
            let dependencies = spec
                .dependencies
                .iter()
                .map(|d| Dependency {
                    name: d.name.clone(),
                    wasm: std::fs::read(&d.path).unwrap(),
                    export: d.export.clone(),
                    inherits: d.inherits.clone(),
                })
                .collect();
            (name.clone(), compose(&function, dependencies).unwrap())
        })
        .collect()
}

#[test]
fn each_function_composed_with_the_postgres_adapter_imports_only_wasi_postgres_and_variables() {
    for (name, composed) in composed("spin-postgres.toml") {
        let imported = imports(&composed);
        let foreign: Vec<&String> = imported.iter().filter(|i| !spin_serves_postgres(i)).collect();
        assert!(foreign.is_empty(), "{name} composed still imports {foreign:?}");
        assert!(imported.contains(&"spin:postgres/postgres@4.0.0".to_string()), "{name}: {imported:?}");
        assert!(imported.contains(&"fermyon:spin/variables@2.0.0".to_string()), "{name}: {imported:?}");
    }
}

#[test]
fn each_function_composed_with_the_adapter_imports_only_what_spin_serves() {
    let app = App::load(&repo_root().join("spin.toml")).unwrap();
    for (name, composed) in composed("spin.toml") {
        assert_eq!(app.components[&name].sqlite_databases, ["default"], "{name}");
        let imported = imports(&composed);
        let foreign: Vec<&String> = imported.iter().filter(|i| !spin_serves(i)).collect();
        assert!(foreign.is_empty(), "{name} composed still imports {foreign:?}");
        assert!(imported.contains(&"fermyon:spin/sqlite@2.0.0".to_string()), "{name}: {imported:?}");
    }
}

#[test]
fn each_adapter_exports_the_whole_feed_package() {
    common::build_components();
    type Serves = fn(&str) -> bool;
    let adapters: [(&str, Serves); 2] =
        [("spin-sqlite-adapter", spin_serves), ("spin-postgres-adapter", spin_serves_postgres)];
    for (adapter, serves) in adapters {
        let wasm = std::fs::read(built_wasm(adapter)).unwrap();
        let mut exports = Vec::new();
        for payload in Parser::new(0).parse_all(&wasm) {
            if let Payload::ComponentExportSection(section) = payload.unwrap() {
                exports.extend(section.into_iter().map(|export| export.unwrap().name.name.to_string()));
            }
        }
        for interface in ["types", "storage", "participants", "friendships", "publishing", "search"] {
            assert!(
                exports.contains(&format!("newsfeed:feed/{interface}@0.1.0")),
                "{adapter} {interface}: {exports:?}"
            );
        }
        assert!(imports(&wasm).iter().all(|i| serves(i)), "{adapter}: {:?}", imports(&wasm));
    }
}

#[test]
fn the_composed_app_answers_exactly_like_the_native_path() {
    let (native, spin) = (Host::start(), Host::builder().flags(&["--as-spin"]).start());
    common::script::assert_same_answers(&native, &spin);
}

#[test]
fn both_paths_keep_one_database_file() {
    let spin = Host::builder().flags(&["--as-spin"]).start();
    let (a, b) = (spin.participant("a"), spin.participant("b"));
    assert_eq!(spin.befriend(a, b).status, 200);
    assert_eq!(spin.publish(a, "s", "written under spin").status, 200);
    let native = Host::builder().state_dir(spin.crash()).start();
    assert_eq!(native.get(&format!("/participant/{b}/inbound")).json[0]["story"], "written under spin");
    assert_eq!(native.publish(b, "s", "written natively").status, 200);
    let spin = Host::builder().state_dir(native.crash()).flags(&["--as-spin"]).start();
    assert_eq!(spin.get(&format!("/participant/{a}/inbound")).json[0]["story"], "written natively");
    assert_eq!(spin.get("/outbound?keywords=natively+spin").json.as_array().unwrap().len(), 2);
}

#[test]
fn a_dependency_that_may_not_use_the_database_is_refused_as_spin_would() {
    common::build_components();
    let output = Host::builder()
        .flags(&["--as-spin"])
        .edit(|manifest| {
            let participant = manifest["component"]["participant"].as_table_mut().unwrap();
            participant.remove("dependencies_inherit_configuration");
        })
        .output();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("dependencies_inherit_configuration"), "{stderr}");
}

/// The PostgreSQL adapter under `--as-spin` answers the script exactly like
/// the host's own PostgreSQL backend, each on a new database of one server.
#[test]
fn the_postgres_adapter_answers_exactly_like_the_postgres_backend() {
    let server = shared();
    let backend = Host::builder().flags(&["--database", &server.new_database()]).start();
    let spin = spin_host(&server.new_database(), &format!("127.0.0.1:{}", server.port));
    common::script::assert_same_answers(&backend, &spin);
}

/// `allowed_outbound_hosts` is enforced as Spin does: with `db_host` naming
/// another port than the database's, the adapter's connection is refused
/// before it is made (the app answers 503 and the database is never
/// touched), and a required variable without a value stops the start.
#[test]
fn a_postgres_address_not_allowed_is_refused_and_required_variables_must_be_set() {
    let server = shared();
    let url = server.new_database();
    let elsewhere = format!("127.0.0.1:{}", server.port + 1);
    let refused = spin_host(&url, &elsewhere);
    let answer = refused.send("POST", "/participant", Some(r#"{"name": "x"}"#));
    assert_eq!(answer.status, 503, "{answer:?}");
    let database = url.rsplit('/').next().unwrap();
    let touched = server.psql(database, "SELECT count(*) FROM pg_tables WHERE tablename = 'newsfeed_schema'");
    assert_eq!(touched.trim(), "0", "a connection was made to a host not allowed");

    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newsfeed"))
        .args(["up", "--as-spin", "--listen", "127.0.0.1:0", "-f"])
        .arg(repo_root().join("spin-postgres.toml"))
        .arg("--state-dir")
        .arg(state.path())
        .env_remove("SPIN_VARIABLE_DB_URL")
        .env("SPIN_VARIABLE_DB_HOST", &elsewhere)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("db_url") && said.contains("SPIN_VARIABLE_DB_URL"), "{said}");
}

/// Both manifests use only keys that Spin's manifest v2 knows: Spin parses
/// it with `deny_unknown_fields` (`crates/manifest/src/schema/v2.rs`), so an
/// unknown key would stop `spin up`. Our own settings live under `tool`.
#[test]
fn both_manifests_use_only_keys_spin_manifest_v2_knows() {
    fn keys_within(table: &toml::Table, known: &[&str], what: &str) {
        for key in table.keys() {
            assert!(known.contains(&key.as_str()), "{what}: Spin's manifest v2 has no key {key:?}");
        }
    }
    for manifest in common::MANIFESTS {
        let text = std::fs::read_to_string(repo_root().join(manifest)).unwrap();
        let app: toml::Table = text.parse().unwrap();
        assert_eq!(app["spin_manifest_version"].as_integer(), Some(2), "{manifest}");
        keys_within(&app, &["spin_manifest_version", "application", "variables", "trigger", "component"], manifest);
        let application = ["name", "version", "description", "authors", "targets", "trigger", "tool"];
        keys_within(app["application"].as_table().unwrap(), &application, manifest);
        for (name, variable) in app.get("variables").and_then(|v| v.as_table()).into_iter().flatten() {
            keys_within(variable.as_table().unwrap(), &["description", "required", "default", "secret"], name);
        }
        const COMPONENT: &[&str] = &[
            "source",
            "description",
            "variables",
            "environment",
            "files",
            "exclude_files",
            "allowed_http_hosts",
            "allowed_outbound_hosts",
            "key_value_stores",
            "sqlite_databases",
            "ai_models",
            "targets",
            "build",
            "tool",
            "dependencies_inherit_configuration",
            "dependencies",
            "profile",
        ];
        for (name, component) in app["component"].as_table().unwrap() {
            let component = component.as_table().unwrap();
            keys_within(component, COMPONENT, &format!("{manifest} component {name}"));
            if let Some(build) = component.get("build") {
                keys_within(build.as_table().unwrap(), &["command", "workdir", "watch"], name);
            }
        }
    }
}

/// Under Spin an unmatched path would get Spin's bare 404; both manifests
/// route every other path (`/...`) to a component that answers the
/// contract's JSON 404, importing nothing but WASI and HTTP.
#[test]
fn both_manifests_send_unknown_paths_to_the_json_404_component() {
    common::build_components();
    for manifest in common::MANIFESTS {
        let app = App::load(&repo_root().join(manifest)).unwrap();
        let catch_all = app.routes.iter().find(|(route, _)| route.to_string() == "/...");
        assert_eq!(catch_all.map(|(_, component)| component.as_str()), Some("notfound"), "{manifest}");
        let notfound = std::fs::read(&app.components["notfound"].source).unwrap();
        let imported = imports(&notfound);
        assert!(imported.iter().all(|i| i.starts_with("wasi:")), "{manifest}: {imported:?}");
    }
}
