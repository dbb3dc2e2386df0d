//! The end-to-end harness: builds the components once, starts the real
//! `newsfeed` binary on a free loopback port with a temporary state dir, and
//! talks to it over real HTTP. Every answer is checked against
//! `openapi.yaml` on the way.

#![allow(dead_code)] // Each test file uses its own part of the harness.

pub mod browser;
pub mod in_process;
pub mod openapi;
pub mod postgres;
pub mod real_spin;
pub mod script;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The app's manifests: SQLite (the default) and PostgreSQL, for hosted Spin.
pub const MANIFESTS: [&str; 2] = ["spin.toml", "spin-postgres.toml"];

/// Builds every component of both manifests, once per test binary, with the
/// host's own `newsfeed build`, then the test-only `faults`, `faults-lean`
/// and `tagged-participant` components beside them in one more run of the
/// manifests' build command (so that cargo reuses every dependency it built).
pub fn build_components() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        for manifest in MANIFESTS {
            let status = Command::new(env!("CARGO_BIN_EXE_newsfeed"))
                .args(["build", "-f"])
                .arg(repo_root().join(manifest))
                .status()
                .expect("running newsfeed build");
            assert!(status.success(), "newsfeed build -f {manifest} failed");
        }
        let status = Command::new(env!("CARGO"))
            .args(["build-components", "-p", "faults", "-p", "faults-lean", "-p", "tagged-participant"])
            .current_dir(repo_root())
            .status()
            .expect("building the test-only components");
        assert!(status.success(), "building the test-only components failed");
    });
}

/// The load generator, `newsfeed-load`: a package of its own (`tools/load`),
/// so cargo gives these tests no `CARGO_BIN_EXE_` for it. `cargo test
/// --workspace` builds it beside the `newsfeed` binary under test (its own
/// package's test needs it) with the same dependencies; run alone, this
/// binary builds it there when it is missing or older than its sources.
pub fn load_generator() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let newsfeed = Path::new(env!("CARGO_BIN_EXE_newsfeed"));
            let profile_dir = newsfeed.parent().expect("the newsfeed binary's folder");
            let binary = profile_dir.join("newsfeed-load");
            let sources = [repo_root().join("tools/load"), repo_root().join("Cargo.lock")];
            let built = std::fs::metadata(&binary).and_then(|meta| meta.modified()).ok();
            if built.is_some_and(|built| sources.iter().all(|source| newest_change(source) <= built)) {
                return binary;
            }
            let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
                Some("debug") => "dev",
                Some(other) => other,
                None => panic!("no profile folder in {}", newsfeed.display()),
            };
            let status = Command::new(env!("CARGO"))
                .args(["build", "-p", "newsfeed-load", "--bin", "newsfeed-load", "--profile", profile])
                .arg("--target-dir")
                .arg(profile_dir.parent().expect("the target dir"))
                .current_dir(repo_root())
                .status()
                .expect("running cargo build -p newsfeed-load");
            assert!(status.success(), "cargo build -p newsfeed-load failed");
            binary
        })
        .clone()
}

/// When `path`, or anything under it, last changed.
fn newest_change(path: &Path) -> std::time::SystemTime {
    let meta = std::fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let own = meta.modified().expect("file times");
    if !meta.is_dir() {
        return own;
    }
    std::fs::read_dir(path)
        .expect("listing a source folder")
        .fold(own, |newest, entry| newest.max(newest_change(&entry.expect("a source folder entry").path())))
}

/// A built component's wasm file.
pub fn built_wasm(crate_name: &str) -> PathBuf {
    repo_root().join("target/wasm32-wasip2/wasm").join(format!("{}.wasm", crate_name.replace('-', "_")))
}

/// The app's manifest `source` (`spin.toml` or `spin-postgres.toml`) plus
/// the `faults` component at `/faults/...` (the standard entry only) and
/// `faults-lean` at `/faults-lean/...` (both entries), written into `dir`, with every
/// component's wasm copied into `dir/wasm` so that a test may replace its own
/// copy.
fn test_manifest(dir: &Path, source: &str, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join(source)).unwrap();
    let mut manifest: toml::Table = text.parse().unwrap();
    let wasm_dir = dir.join("wasm");
    std::fs::create_dir_all(&wasm_dir).unwrap();
    for name in ["participant", "friends", "outbound", "inbound", "search", "notfound", "web", "faults", "faults-lean"]
    {
        std::fs::copy(built_wasm(name), wasm_dir.join(format!("{name}.wasm"))).unwrap();
    }
    let components = manifest["component"].as_table_mut().unwrap();
    for (name, component) in components.iter_mut() {
        let source = wasm_dir.join(format!("{name}.wasm"));
        let component = component.as_table_mut().unwrap();
        component.insert("source".into(), source.display().to_string().into());
        // Dependencies (the Spin adapter) stay where they were built.
        for dependency in component
            .get_mut("dependencies")
            .and_then(|d| d.as_table_mut())
            .into_iter()
            .flat_map(|d| d.iter_mut().map(|(_, dependency)| dependency))
        {
            let path = repo_root().join(dependency["path"].as_str().unwrap());
            dependency["path"] = path.display().to_string().into();
        }
    }
    for name in ["faults", "faults-lean"] {
        let mut faults = toml::Table::new();
        faults.insert("source".into(), wasm_dir.join(format!("{name}.wasm")).display().to_string().into());
        components.insert(name.into(), faults.into());
    }
    for name in ["faults", "faults-lean"] {
        let mut route = toml::Table::new();
        route.insert("route".into(), format!("/{name}/...").into());
        route.insert("component".into(), name.into());
        manifest["trigger"]["http"].as_array_mut().unwrap().push(route.into());
    }
    edit(&mut manifest);
    let path = dir.join("spin.toml");
    std::fs::write(&path, toml::to_string(&manifest).unwrap()).unwrap();
    path
}

/// The value of one series in a Prometheus text exposition.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// A running `newsfeed up`, stopped (killed) when dropped.
pub struct Host {
    child: Child,
    pub base: String,
    /// The admin API's base URL, when started with `--admin-listen`.
    pub admin: Option<String>,
    /// The metrics URL, when started with `--metrics-listen`.
    pub metrics: Option<String>,
    /// What the host prints on stdout after it started serving.
    pub stdout: Mutex<std::sync::mpsc::Receiver<String>>,
    pub state: tempfile::TempDir,
    client: reqwest::blocking::Client,
}

/// An answer: status, the content type, and the body as JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

/// How to start a host; [`Host::builder`] gives the defaults: `newsfeed up`
/// with the test manifest made from `spin.toml`, in a new state dir, with no
/// extra flags.
pub struct HostBuilder {
    command: &'static str,
    manifest: &'static str,
    state: Option<tempfile::TempDir>,
    flags: Vec<String>,
    edits: Vec<Edit>,
    adjustments: Vec<Adjustment>,
}

/// A change to the test manifest, made before the host reads it.
type Edit = Box<dyn FnOnce(&mut toml::Table)>;
/// A change to the host's command, made before it starts.
type Adjustment = Box<dyn FnOnce(&mut Command)>;

impl HostBuilder {
    /// `newsfeed watch` (rebuilds functions as their sources change) instead
    /// of `newsfeed up`.
    pub fn watch(mut self) -> Self {
        self.command = "watch";
        self
    }

    /// Extra `newsfeed` flags, after those of the harness.
    pub fn flags(mut self, flags: &[&str]) -> Self {
        self.flags.extend(flags.iter().map(|flag| flag.to_string()));
        self
    }

    /// The app manifest the test manifest is made from (`spin.toml` unless
    /// told).
    pub fn manifest(mut self, source: &'static str) -> Self {
        self.manifest = source;
        self
    }

    /// An existing state dir (to test restarts) instead of a new one.
    pub fn state_dir(mut self, state: tempfile::TempDir) -> Self {
        self.state = Some(state);
        self
    }

    /// Changes the test manifest before the host reads it.
    pub fn edit(mut self, edit: impl FnOnce(&mut toml::Table) + 'static) -> Self {
        self.edits.push(Box::new(edit));
        self
    }

    /// Sets an environment variable of the host's process.
    pub fn env(self, key: &str, value: &str) -> Self {
        let (key, value) = (key.to_string(), value.to_string());
        self.adjust(move |command| {
            command.env(key, value);
        })
    }

    /// Changes the command before it starts (to set process limits, say).
    pub fn adjust(mut self, adjust: impl FnOnce(&mut Command) + 'static) -> Self {
        self.adjustments.push(Box::new(adjust));
        self
    }

    /// Starts the host and waits until it serves.
    pub fn start(self) -> Host {
        let state = self.state.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let mut newsfeed =
            command(self.command, self.manifest, state.path(), &self.flags, self.edits, self.adjustments);
        let mut child = newsfeed.stdout(Stdio::piped()).spawn().expect("starting newsfeed up");
        let (mut admin, mut metrics, mut lines) = (None, None, BufReader::new(child.stdout.take().unwrap()).lines());
        let base = loop {
            let line = lines.next().expect("newsfeed up ended before serving").unwrap();
            if let Some(url) = line.strip_prefix("Admin API on ") {
                admin = Some(url.to_string());
            } else if let Some(url) = line.strip_prefix("Metrics on ") {
                metrics = Some(url.to_string());
            } else if let Some(url) = line.strip_prefix("Serving ") {
                break url.to_string();
            }
        };
        // Keep reading stdout so the host never blocks on a full pipe.
        let (sender, stdout) = std::sync::mpsc::channel();
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| drop(sender.send(line))));
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        Host { child, base, admin, metrics, stdout: Mutex::new(stdout), state, client }
    }

    /// Runs the command to its end, for a start that must fail: its exit
    /// status and what it printed.
    pub fn output(self) -> std::process::Output {
        let state = self.state.unwrap_or_else(|| tempfile::tempdir().unwrap());
        command(self.command, self.manifest, state.path(), &self.flags, self.edits, self.adjustments)
            .output()
            .expect("running newsfeed")
    }
}

/// `newsfeed <command>` with the test manifest made from `source` (changed
/// by `edits`) in `dir`, not yet started.
fn command(
    command: &str,
    source: &str,
    dir: &Path,
    flags: &[String],
    edits: Vec<Edit>,
    adjustments: Vec<Adjustment>,
) -> Command {
    build_components();
    let manifest = test_manifest(dir, source, |manifest| edits.into_iter().for_each(|edit| edit(manifest)));
    let mut newsfeed = Command::new(env!("CARGO_BIN_EXE_newsfeed"));
    newsfeed
        .args([command, "--listen", "127.0.0.1:0", "-f"])
        .arg(&manifest)
        .arg("--state-dir")
        .arg(dir.join("state"))
        // Shared by every test, so each component compiles once.
        .arg("--compile-cache")
        .arg(repo_root().join("target/e2e-compile-cache"))
        .args(flags)
        // Only warnings and errors from the host, unless asked for more.
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
    adjustments.into_iter().for_each(|adjust| adjust(&mut newsfeed));
    newsfeed
}

impl Host {
    /// A host with the builder's defaults.
    pub fn start() -> Host {
        Host::builder().start()
    }

    /// The one way to start a host other than the defaults.
    pub fn builder() -> HostBuilder {
        HostBuilder {
            command: "up",
            manifest: "spin.toml",
            state: None,
            flags: Vec::new(),
            edits: Vec::new(),
            adjustments: Vec::new(),
        }
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Scrapes `/metrics` (the host must run with `--metrics-listen`).
    pub fn scrape(&self) -> String {
        let url = self.metrics.as_ref().expect("started with --metrics-listen");
        self.client.get(url).send().unwrap().text().unwrap()
    }

    /// Sends SIGTERM, as a rolling restart does, and waits for the process
    /// to end.
    pub fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        (status, std::mem::replace(&mut self.state, tempfile::tempdir().unwrap()))
    }

    /// Kills the process at once (no clean shutdown) and hands back its state.
    pub fn crash(mut self) -> tempfile::TempDir {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::replace(&mut self.state, tempfile::tempdir().unwrap())
    }

    /// A request of the contract: its answer is checked against openapi.yaml.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let answer = self.send(method, path, body);
        openapi::spec().check(method, path, answer.status, &answer.json);
        answer
    }

    /// A request outside the contract (the test-only components).
    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers.get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let text = response.text().unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path} answered non-JSON {text:?}"));
        Answer { status, content_type, headers, json }
    }

    /// Sends a request and gives its status, or `None` when no answer came
    /// (the host is gone).
    pub fn try_send(&self, method: &str, path: &str, body: &str) -> Option<u16> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self.client.request(method, format!("{}{path}", self.base)).body(body.to_string()).send();
        Some(response.ok()?.status().as_u16())
    }

    /// Where this host's copy of a component's wasm lives.
    pub fn wasm_path(&self, name: &str) -> PathBuf {
        self.state.path().join("wasm").join(format!("{name}.wasm"))
    }

    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &str) -> Answer {
        self.request("POST", path, Some(body))
    }

    /// Creates a participant and returns its id.
    pub fn participant(&self, name: &str) -> i64 {
        let answer = self.post("/participant", &serde_json::json!({ "name": name }).to_string());
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.json["id"].as_i64().unwrap()
    }

    pub fn befriend(&self, a: i64, b: i64) -> Answer {
        self.post(&format!("/participant/{a}/friends"), &format!(r#"{{"to": "/participant/{b}"}}"#))
    }

    pub fn publish(&self, author: i64, subject: &str, story: &str) -> Answer {
        let body = serde_json::json!({ "subject": subject, "story": story }).to_string();
        self.post(&format!("/participant/{author}/outbound"), &body)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Kills `child` and, when it leads a process group of its own (`spin up`
/// and its trigger, chromedriver and its browser), everything in that
/// group, then reaps it.
pub fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill has no memory effects; a group that does not exist
        // (a child in the tests' own group) is ESRCH, ignored.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}
