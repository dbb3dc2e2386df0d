//! `newsfeed build`: runs each component's `[component.NAME.build] command`
//! from the manifest, as `spin build` does, after making sure the
//! `wasm32-wasip2` Rust target is installed.

use crate::spin::manifest::App;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

pub fn run(manifest: &Path) -> Result<()> {
    let app = App::load(manifest)?;
    ensure_wasm_target()?;
    for name in app.components.keys() {
        build_component(&app, name)?;
    }
    eprintln!("Finished building all components");
    Ok(())
}

/// Runs one component's build command, if it has one.
pub fn build_component(app: &App, name: &str) -> Result<()> {
    let Some(build) = app.components.get(name).and_then(|c| c.build.as_ref()) else {
        return Ok(());
    };
    let workdir = match &build.workdir {
        Some(dir) => app.dir.join(dir),
        None => app.dir.clone(),
    };
    eprintln!("Building component {name} with `{}`", build.command);
    let status = Command::new("sh")
        .arg("-c")
        .arg(&build.command)
        .current_dir(&workdir)
        .status()
        .with_context(|| format!("running the build command of {name}"))?;
    if !status.success() {
        bail!("building component {name} failed ({status})");
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
