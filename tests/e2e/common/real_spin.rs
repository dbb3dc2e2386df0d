//! A real `spin up`: the Spin CLI from `SPIN_BIN`, or `spin` on PATH,
//! serving one of the app's manifests from a temporary directory (Spin
//! writes its state, `.spin/`, next to the manifest) on a free loopback
//! port, wrapped as a [`Host`] so that the API cases run against it as they
//! run against `newsfeed up`.
//!
//! Nothing here skips: with no Spin binary, or a Spin that does not start,
//! the test that asked for it fails, saying why.

use super::{build_components, repo_root, Host};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// How long one request may take before the test fails: a hang (Spin issue
/// 3671 made every request hang) must fail the test, not stall CI.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How long `spin up` may take to start serving.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The Spin CLI: `SPIN_BIN` when it names a file, else `spin` on PATH; a
/// clear failure otherwise.
pub fn spin_bin() -> PathBuf {
    let given = std::env::var_os("SPIN_BIN").map(PathBuf::from);
    if let Some(bin) = given.as_ref().filter(|bin| bin.is_file()) {
        return bin.clone();
    }
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("spin"))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        panic!(
            "the real-Spin suite needs a Spin 4.x CLI and found none (SPIN_BIN={given:?}, and no `spin` on PATH): \
             set SPIN_BIN=/path/to/spin or put `spin` on PATH"
        )
    })
}

/// The app's manifest `source` rewritten into `dir` with absolute paths:
/// each component's wasm and each dependency (the adapter) where
/// `newsfeed build` put them.
fn manifest_in(dir: &Path, source: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join(source)).unwrap();
    let mut manifest: toml::Table = text.parse().unwrap();
    for (_, component) in manifest["component"].as_table_mut().unwrap().iter_mut() {
        let component = component.as_table_mut().unwrap();
        let wasm = repo_root().join(component["source"].as_str().unwrap());
        component.insert("source".into(), wasm.display().to_string().into());
        for (_, dependency) in component.get_mut("dependencies").and_then(|d| d.as_table_mut()).into_iter().flatten() {
            let path = repo_root().join(dependency["path"].as_str().unwrap());
            dependency["path"] = path.display().to_string().into();
        }
    }
    let path = dir.join("spin.toml");
    std::fs::write(&path, toml::to_string(&manifest).unwrap()).unwrap();
    path
}

/// `spin up -f <source>` on a free loopback port, in a new temporary
/// directory, with `env` (the `SPIN_VARIABLE_*`) set.
pub fn spin_up(source: &str, env: &[(&str, String)]) -> Host {
    spin_up_in(tempfile::tempdir().unwrap(), source, env)
}

/// As [`spin_up`], in `state` (to start again over the same `.spin/`).
pub fn spin_up_in(state: tempfile::TempDir, source: &str, env: &[(&str, String)]) -> Host {
    let spin = spin_bin();
    build_components();
    let manifest = manifest_in(state.path(), source);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = state.path().join("spin-stderr.log");
    let mut command = Command::new(&spin);
    // `spin up` runs the app in a child process (`spin trigger http`): a
    // group of their own, so that dropping the host stops both.
    command
        .process_group(0)
        .args(["up", "--listen", &format!("127.0.0.1:{port}"), "-f"])
        .arg(&manifest)
        .current_dir(state.path())
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", spin.display()));
    let (sender, stdout) = std::sync::mpsc::channel();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| drop(sender.send(line))));
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match stdout.recv_timeout(left) {
            Ok(line) if line.trim_start().starts_with("Serving http") => break,
            Ok(_) => {}
            Err(_) => {
                super::kill_group(&mut child);
                panic!(
                    "{} up -f {source} did not start serving within {START_TIMEOUT:?}: {}",
                    spin.display(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
    }
    let client = reqwest::blocking::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap();
    Host { child, base, admin: None, metrics: None, stdout: Mutex::new(stdout), state, client }
}

/// What `spin up` wrote to stderr so far: each component's stderr (the
/// adapter's reasons for a 503, say) and Spin's own messages.
pub fn stderr_of(host: &Host) -> String {
    std::fs::read_to_string(host.state.path().join("spin-stderr.log")).unwrap_or_default()
}

/// The SQLite file `spin up` keeps its default database in.
pub fn sqlite_file(host: &Host) -> PathBuf {
    host.state.path().join(".spin/sqlite_db.db")
}
