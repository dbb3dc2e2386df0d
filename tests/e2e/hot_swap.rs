//! Hot swap: one function is replaced while the others keep serving, with no
//! failed request; a bad version never replaces a good one; the admin API
//! refuses anyone without the token.

use crate::common;

use common::{built_wasm, Host};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-admin-token-0123456789";

fn variant(answer: &common::Answer) -> Option<&str> {
    answer.headers.get("x-newsfeed-variant").map(|v| v.to_str().unwrap())
}

/// Replaces a file the way a build does: write aside, then rename over it.
/// Each function's version (sha256) as `/metrics` reports it (the host
/// must run with `--metrics-listen`).
fn versions(host: &Host) -> std::collections::BTreeMap<String, String> {
    let text = host.scrape();
    text.lines()
        .filter_map(|line| {
            let labels = line.strip_prefix("newsfeed_function_version{")?.strip_suffix("} 1")?;
            let label = |name: &str| Some(labels.split(&format!("{name}=\"")).nth(1)?.split('"').next()?.to_string());
            Some((label("function")?, label("version")?))
        })
        .collect()
}

fn replace_file(path: &std::path::Path, bytes: &[u8]) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, bytes).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

#[test]
fn a_new_wasm_file_is_swapped_in_under_load_with_no_failed_request() {
    let host = Host::builder().flags(&["--metrics-listen", "127.0.0.1:0"]).start();
    let before = versions(&host);
    let (a, b) = (host.participant("a"), host.participant("b"));
    host.befriend(a, b);
    host.publish(a, "s", "before the swap");

    let stop = AtomicBool::new(false);
    let (failures, served, tagged_seen) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicBool::new(false));
    let untagged_after_tagged = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for client in 0..8 {
            let (host, stop, failures, served) = (&host, &stop, &failures, &served);
            let (tagged_seen, untagged_after_tagged) = (&tagged_seen, &untagged_after_tagged);
            scope.spawn(move || {
                let mut seen_tagged = false;
                let deadline = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    // Half the clients read the swapped function, half another one.
                    let answer = if client % 2 == 0 {
                        host.get(&format!("/participant/{a}"))
                    } else {
                        host.get(&format!("/participant/{b}/inbound"))
                    };
                    served.fetch_add(1, Ordering::Relaxed);
                    if answer.status != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    match variant(&answer) {
                        Some("tagged") => {
                            seen_tagged = true;
                            tagged_seen.store(true, Ordering::Relaxed);
                        }
                        _ if seen_tagged => {
                            untagged_after_tagged.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        replace_file(&host.wasm_path("participant"), &std::fs::read(built_wasm("tagged-participant")).unwrap());
        let swapped = Instant::now();
        while !tagged_seen.load(Ordering::Relaxed) && swapped.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Keep the load on for a while after the swap.
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
    });
    assert!(served.load(Ordering::Relaxed) > 100, "the load ran: {} requests", served.load(Ordering::Relaxed));
    assert_eq!(failures.load(Ordering::Relaxed), 0, "failed requests during the swap");
    assert!(tagged_seen.load(Ordering::Relaxed), "the new version answered");
    assert_eq!(untagged_after_tagged.load(Ordering::Relaxed), 0, "a client saw the old version after the new one");
    // The other functions kept their data and version.
    let after = versions(&host);
    assert_ne!(after["participant"], before["participant"]);
    for function in ["friends", "outbound", "inbound", "search", "faults"] {
        assert_eq!(after[function], before[function], "{function} changed version");
    }
    assert_eq!(variant(&host.get(&format!("/participant/{b}/inbound"))), None);
    assert_eq!(host.get(&format!("/participant/{b}/inbound")).json[0]["story"], "before the swap");
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), Some("tagged"));
}

fn admin(host: &Host, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("{}{path}", host.admin.as_ref().unwrap())).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().unwrap()).unwrap())
}

#[test]
fn the_admin_api_swaps_good_versions_refuses_bad_ones_and_needs_the_token() {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let a = host.participant("a");
    let tagged = std::fs::read(built_wasm("tagged-participant")).unwrap();
    let still_old = || {
        let answer = host.get(&format!("/participant/{a}"));
        answer.status == 200 && variant(&answer).is_none()
    };

    // No token, a wrong token, or a wrong scheme: 401, and nothing changes.
    for token in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1])] {
        assert_eq!(admin(&host, "GET", "/admin/functions", token, vec![]).0, 401);
        assert_eq!(admin(&host, "PUT", "/admin/functions/participant", token, tagged.clone()).0, 401);
    }
    let basic = reqwest::blocking::Client::new()
        .put(format!("{}/admin/functions/participant", host.admin.as_ref().unwrap()))
        .basic_auth("admin", Some(TOKEN))
        .body(tagged.clone())
        .send()
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert!(still_old());

    let (status, list) = admin(&host, "GET", "/admin/functions", Some(TOKEN), vec![]);
    assert_eq!(status, 200);
    let participant = list.as_array().unwrap().iter().find(|f| f["name"] == "participant").unwrap().clone();
    assert_eq!(participant["routes"], serde_json::json!(["/participant", "/participant/:id"]));
    assert!(participant["requests"].as_u64().unwrap() >= 2);
    assert!(participant["loaded_at"].as_str().unwrap().ends_with('Z'));
    let old_version = participant["version"].as_str().unwrap().to_string();

    // Bad versions are refused with the reason, and the old one keeps serving.
    let outbound = std::fs::read(built_wasm("outbound")).unwrap();
    let unknown_import =
        wat::parse_str(r#"(component (import "unknown:pkg/thing" (instance (export "f" (func)))))"#).unwrap();
    let no_handler = wat::parse_str("(component)").unwrap();
    for (bad, reason) in [
        (b"\0asm garbage".to_vec(), "not a valid component"),
        (no_handler, "incoming-handler"),
        (unknown_import, "unknown:pkg/thing"),
        // The outbound function imports `publishing`: the participant
        // function's world does not allow posting.
        (outbound, "publishing"),
        // Another function's component fits the participant's world, but
        // says which function it is.
        (std::fs::read(built_wasm("inbound")).unwrap(), r#"is the "inbound" function"#),
    ] {
        let (status, answer) = admin(&host, "PUT", "/admin/functions/participant", Some(TOKEN), bad);
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(reason), "{reason:?} not in {message:?}");
        assert!(still_old());
    }
    assert_eq!(admin(&host, "PUT", "/admin/functions/nobody", Some(TOKEN), tagged.clone()).0, 404);

    let (status, report) = admin(&host, "PUT", "/admin/functions/participant", Some(TOKEN), tagged.clone());
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["old_version"], old_version.as_str());
    // The same bytes again: nothing to do, and the answer says so.
    let (status, again) = admin(&host, "PUT", "/admin/functions/participant", Some(TOKEN), tagged.clone());
    assert_eq!((status, again), (200, serde_json::json!({"function": "participant", "unchanged": true})));
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), Some("tagged"));
    let (_, list) = admin(&host, "GET", "/admin/functions", Some(TOKEN), vec![]);
    let participant = list.as_array().unwrap().iter().find(|f| f["name"] == "participant").unwrap().clone();
    assert_eq!(participant["version"], report["new_version"]);
    assert_eq!(participant["swaps"], 1);
}

#[test]
fn a_broken_wasm_file_keeps_the_old_version_serving() {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let a = host.participant("a");
    let participant = || {
        let (_, list) = admin(&host, "GET", "/admin/functions", Some(TOKEN), vec![]);
        list.as_array().unwrap().iter().find(|f| f["name"] == "participant").unwrap().clone()
    };
    let old_version = participant()["version"].clone();
    replace_file(&host.wasm_path("participant"), b"not wasm at all");
    // The refusal is counted: wait for it, rather than for some time.
    let started = Instant::now();
    while participant()["refused"] != 1 {
        assert!(started.elapsed() < Duration::from_secs(20), "the broken file was never refused");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(participant()["version"], old_version);
    let answer = host.get(&format!("/participant/{a}"));
    assert_eq!((answer.status, variant(&answer)), (200, None));
    // A good file after a bad one is still picked up.
    replace_file(&host.wasm_path("participant"), &std::fs::read(built_wasm("tagged-participant")).unwrap());
    let started = Instant::now();
    while variant(&host.get(&format!("/participant/{a}"))).is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "the good version was never swapped in");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn under_as_spin_a_new_version_is_composed_with_the_adapter_before_it_serves() {
    let host = Host::builder().flags(&["--as-spin"]).start();
    let a = host.participant("a");
    // Uncomposed, the new version's feed imports would not link under
    // --as-spin, and the swap would be refused.
    replace_file(&host.wasm_path("participant"), &std::fs::read(built_wasm("tagged-participant")).unwrap());
    let started = Instant::now();
    while variant(&host.get(&format!("/participant/{a}"))).is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "the new version was never swapped in");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(host.get(&format!("/participant/{a}")).json["name"], "a");
    let b = host.participant("b");
    assert_eq!(variant(&host.get(&format!("/participant/{b}"))), Some("tagged"));
}

#[test]
fn the_admin_api_is_refused_without_a_token() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_newsfeed"))
        .args(["up", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .env_remove("NEWSFEED_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("token"));
}

/// The admin API is plain HTTP: on a non-loopback address its token would
/// cross the network in clear text, so the host refuses to start there
/// unless the operator opts in, and then warns.
#[test]
fn the_admin_api_listens_off_loopback_only_when_the_operator_opts_in() {
    let remote = ["--admin-listen", "0.0.0.0:0", "--admin-token", TOKEN];
    let refused = Host::builder().flags(&remote).output();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("clear text") && said.contains("--admin-allow-remote"), "{said}");

    let host = Host::builder().flags(&remote).flags(&["--admin-allow-remote"]).start();
    let (status, list) = admin(&host, "GET", "/admin/functions", Some(TOKEN), vec![]);
    assert_eq!(status, 200, "{list}");
}

#[test]
fn newsfeed_watch_rebuilds_and_swaps_only_the_changed_function() {
    let state = tempfile::tempdir().unwrap();
    let sources = state.path().join("participant-src");
    std::fs::create_dir_all(&sources).unwrap();
    let target = state.path().join("wasm/participant.wasm");
    // A stand-in for cargo: "building" the participant installs the tagged
    // variant, so the test needs no compiler and shows which version serves.
    let command = format!("cp {} {}", built_wasm("tagged-participant").display(), target.display());
    // The inbound function watches real sources too, and its "build" leaves
    // a mark: a rebuild of it would show.
    let inbound_sources = state.path().join("inbound-src");
    std::fs::create_dir_all(&inbound_sources).unwrap();
    std::fs::write(inbound_sources.join("lib.rs"), "// inbound").unwrap();
    let inbound_built = state.path().join("inbound-was-built");
    let inbound_command = format!("touch {}", inbound_built.display());
    let host = Host::builder()
        .watch()
        .state_dir(state)
        .flags(&["--metrics-listen", "127.0.0.1:0"])
        .edit(|manifest| {
            let participant = manifest["component"]["participant"].as_table_mut().unwrap();
            let build: toml::Table = toml::toml! { command = ""  watch = ["participant-src/*.rs"] };
            participant.insert("build".into(), build.into());
            participant["build"]["command"] = command.into();
            let inbound = manifest["component"]["inbound"].as_table_mut().unwrap();
            let build: toml::Table = toml::toml! { command = ""  watch = ["inbound-src/*.rs"] };
            inbound.insert("build".into(), build.into());
            inbound["build"]["command"] = inbound_command.into();
        })
        .start();
    let a = host.participant("a");
    let b = host.participant("b");
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), None);
    let before = versions(&host);

    std::fs::write(sources.join("lib.rs"), "// changed").unwrap();
    let line = host.stdout.lock().unwrap().recv_timeout(Duration::from_secs(30)).expect("a line for the swap");
    assert!(line.starts_with("participant: rebuilt in ") && line.contains("swapped in"), "{line}");
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), Some("tagged"));
    // The data and the other functions are untouched: same process, same
    // store, the same versions, and no other build ran.
    assert_eq!(host.get(&format!("/participant/{b}")).json["name"], "b");
    let after = versions(&host);
    assert_ne!(after["participant"], before["participant"]);
    for function in ["friends", "outbound", "inbound", "search"] {
        assert_eq!(after[function], before[function], "{function} changed version");
    }
    assert!(!inbound_built.exists(), "the inbound function was rebuilt");
}
