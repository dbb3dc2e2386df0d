//! The web pages in a real browser (headless Chromium over WebDriver): a
//! person's whole story in the feed app, an operation tried from `/docs`,
//! and a function swapped and rolled back from the admin dashboard. Each
//! test saves a screenshot into target/screenshots/ (`SCREENSHOTS=docs/img` to
//! refresh the docs' pictures).
//!
//! Beside them, the pages' HTTP as a browser sees it: HEAD, content types,
//! ETags and 304s.

use crate::common;

use common::browser::Browser;
use common::{built_wasm, Host};
use sha2::{Digest, Sha256};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The id in "... (#12)".
fn id_in(text: &str) -> u64 {
    let start = text.rfind("(#").unwrap_or_else(|| panic!("no (#id) in {text:?}")) + 2;
    text[start..].trim_end_matches(')').parse().unwrap_or_else(|_| panic!("no id in {text:?}"))
}

/// Creates a participant from the page (typing, then Enter) and gives its id.
async fn create(browser: &Browser, name: &str) -> u64 {
    browser.fill("#create-name", name).await;
    browser.enter("#create-name").await;
    id_in(&browser.wait_for("#me", &format!("You are {name} ")).await)
}

/// Two people: each created in the page; Bob befriends Alice; Bob posts;
/// Alice sees it in her feed (symmetric friendship), posts twice (newest
/// first), sees a post of Bob's appear without a reload, finds Bob by a
/// keyword and opens him, and sees the API's own words for an error.
async fn feed_story(base: &str, screenshot: &str) {
    // A phone-sized window.
    let browser = Browser::start(390, 844).await;
    browser.goto(&format!("{base}/")).await;
    let alice = create(&browser, "Alice").await;
    let bob = create(&browser, "Bob").await;
    assert_ne!(alice, bob);

    browser.fill("#friend-id", &alice.to_string()).await;
    browser.enter("#friend-id").await;
    browser.wait_for("#friends", &format!("Alice (#{alice})")).await;

    browser.fill("#subject", "Hello from Bob").await;
    browser.fill("#story", "The quick brown fox jumps.").await;
    browser.enter("#subject").await;
    browser.wait_for("#outbound", "Hello from Bob").await;

    // Back to Alice, from the list of participants used here, by keyboard.
    browser.enter("#known li:nth-child(2) button").await;
    browser.wait_for("#me", &format!("You are Alice (#{alice})")).await;
    browser.wait_for("#friends", &format!("Bob (#{bob})")).await;
    let feed = browser.wait_for("#inbound", "Hello from Bob").await;
    assert!(feed.contains("The quick brown fox jumps.") && feed.contains("by Bob"), "{feed}");

    for subject in ["First of Alice", "Second of Alice"] {
        browser.fill("#subject", subject).await;
        browser.fill("#story", &format!("{subject}: a story.")).await;
        browser.enter("#subject").await;
        browser.wait_for("#outbound", subject).await;
    }
    let own = browser.text("#outbound").await;
    let position = |text: &str, needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in {text}"));
    assert!(position(&own, "Second of Alice") < position(&own, "First of Alice"), "newest first: {own}");

    // Bob posts from elsewhere; Alice's page, never reloaded, shows it.
    let script = format!(
        "window.notReloaded = true; const done = arguments[0];
         fetch('/participant/{bob}/outbound', {{method: 'POST', body: JSON.stringify({{subject: 'Later from Bob', story: 'news'}})}})
           .then(r => done(r.status));"
    );
    assert_eq!(browser.run_async(&script).await, 200);
    let feed = browser.wait_for("#inbound", "Later from Bob").await;
    assert!(position(&feed, "Later from Bob") < position(&feed, "Hello from Bob"), "newest first: {feed}");
    let kept = browser.run_async("arguments[0](window.notReloaded === true)").await;
    assert_eq!(kept, true, "the page was reloaded");

    browser.fill("#keywords", "FOX").await;
    browser.enter("#keywords").await;
    browser.wait_for("#results", &format!("Bob (#{bob})")).await;
    browser.enter("#results li:first-child button").await;
    browser.wait_for("#poster-name", &format!("Bob (#{bob})")).await;
    browser.wait_for("#poster-posts", "The quick brown fox jumps.").await;

    // An error, in the API's words: Alice befriending herself.
    browser.fill("#friend-id", &alice.to_string()).await;
    browser.enter("#friend-id").await;
    let script = format!(
        "const done = arguments[0];
         fetch('/participant/{alice}/friends', {{method: 'POST', body: JSON.stringify({{to: '/participant/{alice}'}})}})
           .then(r => r.json()).then(j => done(j.error));"
    );
    let words = browser.run_async(&script).await;
    let words = words.as_str().expect("an error message").to_string();
    assert!(!words.is_empty());
    browser.wait_text("#error", &format!("{words:?}"), |shown| shown == words).await;
    browser.fill("#friend-id", "").await;
    browser.screenshot(screenshot).await;
}

#[test]
fn a_person_uses_the_feed_page_with_two_participants() {
    let host = Host::start();
    runtime().block_on(feed_story(&host.base, "feed"));
}

#[test]
fn the_feed_page_works_the_same_as_spin() {
    let host = Host::builder().flags(&["--as-spin"]).start();
    runtime().block_on(feed_story(&host.base, "feed-as-spin"));
}

#[test]
fn an_operation_tried_from_the_docs_shows_its_answer() {
    let host = Host::start();
    runtime().block_on(async {
        let browser = Browser::start(1000, 900).await;
        browser.goto(&format!("{}/docs", host.base)).await;
        browser.wait_for("main", "Friendship is symmetric").await;
        let spec: serde_json::Value =
            serde_norway::from_str(&std::fs::read_to_string(common::repo_root().join("openapi.yaml")).unwrap())
                .unwrap();
        let methods = ["get", "put", "post", "delete", "patch", "head"];
        let operations: usize = spec["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|path| path.as_object().unwrap().keys().filter(|key| methods.contains(&key.as_str())).count())
            .sum();
        // The forms are made from openapi.yaml once the page has fetched
        // it, which may be after the prose shows: wait for them.
        let started = std::time::Instant::now();
        let forms = loop {
            let forms = browser.client.find_all(fantoccini::Locator::Css("form[id^=try-]")).await.unwrap();
            if forms.len() >= operations || started.elapsed() > std::time::Duration::from_secs(20) {
                break forms;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(forms.len(), operations, "one try-it form per operation of openapi.yaml");

        browser.fill("#try-createParticipant textarea", r#"{"name": "Docs reader"}"#).await;
        browser.find("#try-createParticipant button").await.click().await.unwrap();
        let shown = browser.wait_for("#result-createParticipant", "Docs reader").await;
        assert!(shown.contains("POST /participant\n200"), "{shown}");
        let id = shown.split("\"id\": ").nth(1).and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next());
        let id = id.unwrap_or_else(|| panic!("no id in {shown}"));

        browser.fill("#try-getParticipant input[name=id]", id).await;
        browser.enter("#try-getParticipant input[name=id]").await;
        let shown = browser.wait_for("#result-getParticipant", "Docs reader").await;
        assert!(shown.contains(&format!("GET /participant/{id}\n200")), "{shown}");

        browser.fill("#try-getParticipant input[name=id]", "abc").await;
        browser.enter("#try-getParticipant input[name=id]").await;
        let shown = browser.wait_for("#result-getParticipant", "400").await;
        assert!(shown.contains("\"error\": \"\\\"abc\\\" is not an id"), "{shown}");
        browser.find("#createParticipant").await;
        browser.client.execute("document.getElementById('createParticipant').scrollIntoView()", vec![]).await.unwrap();
        browser.screenshot("docs").await;
    });
}

fn sha256_of(path: &std::path::Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

const TOKEN: &str = "dashboard-test-token";

/// Opens the dashboard and connects with the token; gives the version cell
/// of `participant`.
async fn dashboard(host: &Host) -> Browser {
    let browser = Browser::start(1280, 800).await;
    let admin = host.admin.as_ref().expect("started with --admin-listen");
    browser.goto(&format!("{admin}/admin/")).await;
    browser.fill("#token", "not the token").await;
    browser.enter("#token").await;
    browser.wait_for("#error", "The token was refused").await;
    browser.fill("#token", TOKEN).await;
    browser.enter("#token").await;
    browser.wait_for("#status", "Connected").await;
    browser
}

const VERSION: &str = "tr[data-function=participant] td.version";

/// Uploads the tagged participant from the dashboard and waits for the
/// table to show its version.
async fn swap(browser: &Browser) {
    let tagged = built_wasm("tagged-participant");
    browser.find("#upload-participant").await.send_keys(&tagged.display().to_string()).await.unwrap();
    browser.find("#send-participant").await.click().await.unwrap();
    browser.wait_for("#result", "Upload tagged_participant.wasm as participant: 200").await;
    let new = sha256_of(&tagged);
    browser.wait_text(VERSION, &new[..12], |shown| shown == &new[..12]).await;
}

#[test]
fn the_dashboard_shows_the_functions_swaps_one_and_rolls_it_back() {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    runtime().block_on(async {
        let browser = dashboard(&host).await;
        let old = sha256_of(&host.wasm_path("participant"));
        browser.wait_text(VERSION, &old[..12], |shown| shown == &old[..12]).await;
        browser.wait_for("tr[data-function=web]", "wasm").await;
        browser.wait_text("#db-ready", "ready", |shown| shown == "ready").await;
        let tier = "tr[data-function=participant] td.tier";
        browser.wait_text(tier, "a tier", |shown| shown == "winch" || shown == "cranelift").await;
        browser.wait_for("tr[data-function=participant] td.rollback", "nothing to roll back to").await;
        swap(&browser).await;
        browser.wait_for("tr[data-function=participant]", "1 done, 0 refused, 0 rolled back").await;
        browser.screenshot("dashboard").await;
        // The control names the version it puts back; the page shows the
        // answer, then that version serving, and the newer one to go back to.
        browser.wait_for("#rollback-participant", &format!("Roll back to {}", &old[..12])).await;
        browser.find("#rollback-participant").await.click().await.unwrap();
        browser.wait_for("#result", "Roll back participant: 200").await;
        browser.wait_text(VERSION, &old[..12], |shown| shown == &old[..12]).await;
        browser.wait_for("tr[data-function=participant]", "1 done, 0 refused, 1 rolled back").await;
        let new = sha256_of(&built_wasm("tagged-participant"));
        browser.wait_for("#rollback-participant", &format!("Roll back to {}", &new[..12])).await;
    });
    // Outside the browser's runtime: the harness's client blocks.
    let answer = host.get(&format!("/participant/{}", host.participant("after the rollback")));
    assert!(answer.headers.get("x-newsfeed-variant").is_none(), "the old version serves again");
}

#[test]
fn pages_answer_head_and_revalidate_with_their_etag() {
    let host = Host::start();
    let client = reqwest::blocking::Client::new();
    let url = |path: &str| format!("{}{path}", host.base);
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/docs", "text/html; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/favicon.ico", "image/x-icon"),
    ] {
        let page = client.get(url(path)).send().unwrap();
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.headers()["content-type"], content_type, "{path}");
        assert_eq!(page.headers()["cache-control"], "no-cache", "{path}");
        let etag = page.headers()["etag"].clone();
        assert!(!page.bytes().unwrap().is_empty(), "{path}");
        let again = client.get(url(path)).header("if-none-match", etag.clone()).send().unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag, "{path}");
        let head = client.head(url(path)).send().unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(head.headers()["etag"], etag, "HEAD {path}");
        assert_eq!(head.headers()["content-type"], content_type, "HEAD {path}");
        assert!(head.bytes().unwrap().is_empty(), "HEAD {path}");
    }
    // HEAD wherever GET works: the API's reads and the host's own endpoints.
    let id = host.participant("headed");
    for path in [format!("/participant/{id}"), format!("/participant/{id}/inbound"), "/readyz".into()] {
        let head = client.head(url(&path)).send().unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(head.headers()["content-type"], "application/json", "HEAD {path}");
        assert!(head.bytes().unwrap().is_empty(), "HEAD {path}");
    }
    // `/` is exact: every other unknown path is still the contract's 404.
    for path in ["/index.html", "/docs/x", "/static/none.js"] {
        let answer = client.get(url(path)).send().unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(answer.headers()["content-type"], "application/json", "{path}");
    }
}
