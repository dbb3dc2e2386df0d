//! A real browser for the tests: Debian's headless Chromium, driven over
//! WebDriver (its `chromedriver`) with fantoccini. Both packages are
//! installed with apt-get when missing, as PostgreSQL's are.
//!
//! Nothing here skips: if the browser cannot be installed or started, the
//! test that asked for it fails, saying why.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// A running chromedriver and one headless Chromium session on it; both
/// are killed when dropped (the driver leads a process group that the
/// browser's processes join, so none outlives the test).
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        super::kill_group(&mut self.driver);
    }
}

/// Installs Chromium and its driver once per test process, if missing.
fn ensure_installed() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let present = || Path::new("/usr/bin/chromedriver").exists() && Path::new("/usr/bin/chromium").exists();
        if present() {
            return;
        }
        eprintln!("Chromium is not installed: apt-get install chromium chromium-driver");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-q", "chromium", "chromium-driver"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|status| status.success())
        };
        let updated = || Command::new("apt-get").args(["update", "-q"]).status().is_ok_and(|s| s.success());
        assert!(install() || (updated() && install()), "apt-get install chromium chromium-driver failed");
        assert!(present(), "chromium installed, but no /usr/bin/chromium or /usr/bin/chromedriver");
    });
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium
    /// with a `width` x `height` window.
    pub async fn start(width: u32, height: u32) -> Browser {
        ensure_installed();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("/usr/bin/chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
            ]}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(error) if started.elapsed() < PATIENCE => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("no WebDriver session on chromedriver at {url}: {error}"),
            }
        };
        Browser { client, driver }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The element `css` names, once it is on the page.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// Types `text` into the field `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Presses Enter in (or on) the element `css`: submits its form, or
    /// activates a button, as a keyboard user would.
    pub async fn enter(&self, css: &str) {
        self.find(css).await.send_keys("\u{E007}").await.unwrap();
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Waits until the text of `css` satisfies `test`, and returns it; fails
    /// with the last text seen (and the page's error line, if any) when it
    /// does not in time.
    pub async fn wait_text(&self, css: &str, what: &str, test: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if test(&text) {
                return text;
            }
            if started.elapsed() > PATIENCE {
                let error = match self.client.find(Locator::Css("#error")).await {
                    Ok(element) => element.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("{css} never showed {what}; it shows {text:?} (page error: {error:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `css` contains `needle`.
    pub async fn wait_for(&self, css: &str, needle: &str) -> String {
        self.wait_text(css, &format!("{needle:?}"), |text| text.contains(needle)).await
    }

    /// Runs `script` (an async function body: `arguments[0]` is the
    /// callback) in the page and gives back what it called back with.
    pub async fn run_async(&self, script: &str) -> serde_json::Value {
        self.client.execute_async(script, Vec::new()).await.unwrap_or_else(|e| panic!("running {script}: {e}"))
    }

    /// Saves a PNG of the window as `<name>.png`, in `target/screenshots/`,
    /// or in the folder `SCREENSHOTS` names (`SCREENSHOTS=docs/img` refreshes
    /// the docs' pictures): a test run leaves the tracked files alone.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let root = super::repo_root();
        let dir = match std::env::var_os("SCREENSHOTS") {
            Some(dir) => root.join(dir),
            None => root.join("target/screenshots"),
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}
