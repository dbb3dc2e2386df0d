//! `newsfeed build`: runs each component's `[component.NAME.build] command`
//! from the manifest, as `spin build` does, after making sure the
//! `wasm32-wasip2` Rust target is installed; and the same for every other
//! Spin manifest beside it, so that the app starts from any of them
//! (`spin-postgres.toml` needs the PostgreSQL adapter, `spin.toml` the
//! SQLite one).

use crate::spin::manifest::App;
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

pub fn run(manifest: &Path) -> Result<()> {
    ensure_wasm_target()?;
    build_every_manifest(manifest)
}

/// Builds the components of `manifest` and of the manifests beside it.
fn build_every_manifest(manifest: &Path) -> Result<()> {
    let mut apps = vec![App::load(manifest)?];
    for other in manifests_beside(manifest)? {
        apps.push(App::load(&other)?);
    }
    // Manifests share components, and components share commands (every one
    // here is `cargo build-components`): one command run in one folder
    // once, naming the components it builds, in the order first met.
    let mut steps: Vec<((PathBuf, String), BTreeSet<&str>)> = Vec::new();
    for app in &apps {
        for name in app.components.keys() {
            let Some(step) = build_step(app, name) else { continue };
            match steps.iter_mut().find(|(known, _)| *known == step) {
                Some((_, names)) => {
                    names.insert(name);
                }
                None => steps.push((step, BTreeSet::from([name.as_str()]))),
            }
        }
    }
    for ((workdir, command), names) in &steps {
        let names = names.iter().copied().collect::<Vec<_>>().join(", ");
        run_step(workdir, command, &names)?;
    }
    eprintln!("Finished building all components");
    Ok(())
}

/// The other Spin manifests in `manifest`'s folder (TOML files with a
/// `spin_manifest_version`), by name.
fn manifests_beside(manifest: &Path) -> Result<Vec<PathBuf>> {
    let dir = manifest.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let this = manifest.canonicalize().with_context(|| format!("resolving {}", manifest.display()))?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "toml") || path.canonicalize().is_ok_and(|p| p == this) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if toml::from_str::<toml::Table>(&text).is_ok_and(|table| table.contains_key("spin_manifest_version")) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// A component's build command and the folder it runs in.
fn build_step(app: &App, name: &str) -> Option<(PathBuf, String)> {
    let build = app.components.get(name)?.build.as_ref()?;
    let workdir = match &build.workdir {
        Some(dir) => app.dir.join(dir),
        None => app.dir.clone(),
    };
    Some((workdir, build.command.clone()))
}

/// Runs one component's build command, if it has one.
pub fn build_component(app: &App, name: &str) -> Result<()> {
    let Some((workdir, command)) = build_step(app, name) else {
        return Ok(());
    };
    run_step(&workdir, &command, name)
}

/// Runs a build `command` in `workdir`, which builds the components `names`.
fn run_step(workdir: &Path, command: &str, names: &str) -> Result<()> {
    eprintln!("Building {names} with `{command}`");
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(workdir)
        .status()
        .with_context(|| format!("running the build command of {names}"))?;
    if !status.success() {
        bail!("building {names} failed ({status})");
    }
    Ok(())
}

/// Installs the wasm target with rustup when it is missing.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup (is it installed?)")?;
    if String::from_utf8_lossy(&installed.stdout).lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    eprintln!("Installing the {WASM_TARGET} target with rustup");
    let status = Command::new("rustup").args(["target", "add", WASM_TARGET]).status()?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest of one component whose build command notes its name.
    fn manifest(component: &str, note: &str) -> String {
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"t\"\n\
             [[trigger.http]]\nroute = \"/...\"\ncomponent = \"{component}\"\n\
             [component.{component}]\nsource = \"{component}.wasm\"\n\
             [component.{component}.build]\ncommand = \"echo {note} >> built\"\n"
        )
    }

    #[test]
    fn every_manifest_beside_the_one_named_is_built_and_each_command_runs_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spin.toml"), manifest("participant", "sqlite-adapter")).unwrap();
        std::fs::write(dir.path().join("spin-postgres.toml"), manifest("participant", "postgres-adapter")).unwrap();
        // The same command in a third manifest: already built.
        std::fs::write(dir.path().join("spin-copy.toml"), manifest("other", "sqlite-adapter")).unwrap();
        // TOML that is no Spin manifest, and a file that is no TOML.
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "spin_manifest_version = 2").unwrap();

        build_every_manifest(&dir.path().join("spin.toml")).unwrap();
        let built = std::fs::read_to_string(dir.path().join("built")).unwrap();
        assert_eq!(built.lines().collect::<Vec<_>>(), ["sqlite-adapter", "postgres-adapter"]);
    }
}
