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
    // backend, the same versions, and no other build ran.
    assert_eq!(host.get(&format!("/participant/{b}")).json["name"], "b");
    let after = versions(&host);
    assert_ne!(after["participant"], before["participant"]);
    for function in ["friends", "outbound", "inbound", "search"] {
        assert_eq!(after[function], before[function], "{function} changed version");
    }
    assert!(!inbound_built.exists(), "the inbound function was rebuilt");
}

/// `wasm` with a custom section appended: the same code, a distinct
/// version (sha256), so that no compile cache holds it and each swap
/// compiles for real. `marker` should be unique to the run.
fn distinct(wasm: &[u8], marker: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                break;
            }
        }
    }
    let name = b"newsfeed-test";
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(marker.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // a custom section
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}

/// A marker no earlier run used: the shared compile cache outlives runs.
fn unique(what: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what} {now} {}", std::process::id())
}

fn sha256(bytes: &[u8]) -> String {
    newsfeed::wasm::compile_cache::sha256_hex(bytes)
}

/// `name`'s entry in the admin API's list.
fn listed(host: &Host, name: &str) -> serde_json::Value {
    let (status, list) = admin(host, "GET", "/admin/functions", Some(TOKEN), vec![]);
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().iter().find(|f| f["name"] == name).unwrap().clone()
}

/// `name`'s history, newest first.
fn history(host: &Host, name: &str) -> Vec<serde_json::Value> {
    let (status, history) = admin(host, "GET", &format!("/admin/functions/{name}/history"), Some(TOKEN), vec![]);
    assert_eq!(status, 200, "{history}");
    history.as_array().unwrap().clone()
}

/// Waits until `name` serves `version` on Cranelift's code.
fn wait_for_cranelift(host: &Host, name: &str, version: &str) {
    let started = Instant::now();
    loop {
        let listed = listed(host, name);
        assert_eq!(listed["version"], version, "another version serves: {listed}");
        if listed["tier"] == "cranelift" {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "Cranelift's code never followed: {listed}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A new version (never compiled before) is switched in on Winch's code,
/// serves at once, and Cranelift's code for the same bytes follows.
fn first_winch_then_cranelift(flags: &[&str]) {
    let flags = [&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN][..], flags].concat();
    let host = Host::builder().flags(&flags).start();
    let a = host.participant("a");
    let new = distinct(&std::fs::read(built_wasm("tagged-participant")).unwrap(), &unique("tiers"));
    let (status, report) = admin(&host, "PUT", "/admin/functions/participant", Some(TOKEN), new.clone());
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["new_version"], sha256(&new).as_str());
    assert_eq!(report["tier"], "winch", "the first switch is to Winch's code: {report}");
    assert_eq!(report["origin"], "admin");
    // It serves at once, before the optimised code exists.
    let answer = host.get(&format!("/participant/{a}"));
    assert_eq!((answer.status, variant(&answer)), (200, Some("tagged")));
    wait_for_cranelift(&host, "participant", &sha256(&new));
    let answer = host.get(&format!("/participant/{a}"));
    assert_eq!((answer.status, variant(&answer), answer.json["name"].as_str()), (200, Some("tagged"), Some("a")));
    // The history says the same: Winch's code came by the admin API, then
    // Cranelift's for the same version.
    let events = history(&host, "participant");
    let events: Vec<_> =
        events.iter().take(2).map(|e| (e["origin"].clone(), e["tier"].clone(), e["version"].clone())).collect();
    let version = serde_json::json!(sha256(&new));
    assert_eq!(
        events,
        [
            (serde_json::json!("tier-up"), serde_json::json!("cranelift"), version.clone()),
            (serde_json::json!("admin"), serde_json::json!("winch"), version),
        ]
    );
}

#[test]
fn the_first_switch_serves_winch_code_and_cranelift_code_follows() {
    first_winch_then_cranelift(&[]);
}

#[test]
fn under_as_spin_the_first_switch_serves_winch_code_and_cranelift_code_follows() {
    // Both tiers compile the component composed with the Spin adapter.
    first_winch_then_cranelift(&["--as-spin"]);
}

#[test]
fn with_the_cranelift_compiler_a_swap_waits_for_cranelift_code() {
    let host = Host::builder()
        .flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN, "--compiler", "cranelift"])
        .start();
    let new = distinct(&std::fs::read(built_wasm("tagged-participant")).unwrap(), &unique("cranelift only"));
    let (status, report) = admin(&host, "PUT", "/admin/functions/participant", Some(TOKEN), new);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["tier"], "cranelift");
    assert!(listed(&host, "search")["tier"] == "cranelift");
}

#[test]
fn a_rollback_under_load_fails_no_request_and_a_second_one_undoes_it() {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let a = host.participant("a");
    let old_version = listed(&host, "participant")["version"].as_str().unwrap().to_string();
    let tagged = std::fs::read(built_wasm("tagged-participant")).unwrap();
    let (status, report) = admin(&host, "PUT", "/admin/functions/participant", Some(TOKEN), tagged.clone());
    assert_eq!(status, 200, "{report}");
    assert_eq!(listed(&host, "participant")["previous_version"], old_version.as_str());

    let stop = AtomicBool::new(false);
    let (failures, served, untagged) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let rolled_back = std::thread::scope(|scope| {
        for _ in 0..4 {
            let (host, stop, failures, served, untagged) = (&host, &stop, &failures, &served, &untagged);
            scope.spawn(move || {
                // Bounded: a hung host fails the test, not the suite.
                let deadline = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let answer = host.get(&format!("/participant/{a}"));
                    served.fetch_add(1, Ordering::Relaxed);
                    if answer.status != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    if variant(&answer).is_none() {
                        untagged.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(1));
        let rolled_back = admin(&host, "POST", "/admin/functions/participant/rollback", Some(TOKEN), vec![]);
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
        rolled_back
    });
    let (status, report) = rolled_back;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["old_version"], sha256(&tagged).as_str());
    assert_eq!(report["new_version"], old_version.as_str());
    assert!(served.load(Ordering::Relaxed) > 20, "the load ran: {} requests", served.load(Ordering::Relaxed));
    assert_eq!(failures.load(Ordering::Relaxed), 0, "failed requests during the rollback");
    assert!(untagged.load(Ordering::Relaxed) > 0, "the old version answered after the rollback");
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), None);
    let listed_now = listed(&host, "participant");
    assert_eq!((listed_now["version"].as_str(), listed_now["rollbacks"].as_u64()), (Some(&old_version[..]), Some(1)));

    // A second rollback returns to the newer version.
    let (status, report) = admin(&host, "POST", "/admin/functions/participant/rollback", Some(TOKEN), vec![]);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["new_version"], sha256(&tagged).as_str());
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), Some("tagged"));
}

#[test]
fn a_rollback_with_nothing_to_roll_back_to_is_409() {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let (status, answer) = admin(&host, "POST", "/admin/functions/participant/rollback", Some(TOKEN), vec![]);
    assert_eq!(status, 409, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("nothing to roll back to"), "{answer}");
    assert_eq!(admin(&host, "POST", "/admin/functions/nobody/rollback", Some(TOKEN), vec![]).0, 404);
    assert_eq!(admin(&host, "GET", "/admin/functions/participant/rollback", Some(TOKEN), vec![]).0, 405);
    assert_eq!(admin(&host, "POST", "/admin/functions/participant/rollback", None, vec![]).0, 401);
    assert_eq!(listed(&host, "participant")["previous_version"], serde_json::Value::Null);
}

#[test]
fn the_history_lists_each_version_newest_first_with_how_it_came() {
    let host = Host::builder().flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let a = host.participant("a");
    let started = std::fs::read(built_wasm("participant")).unwrap();
    let by_admin = distinct(&std::fs::read(built_wasm("tagged-participant")).unwrap(), &unique("history admin"));
    let (status, report) = admin(&host, "PUT", "/admin/functions/participant", Some(TOKEN), by_admin.clone());
    assert_eq!(status, 200, "{report}");
    for _ in 0..3 {
        assert_eq!(variant(&host.get(&format!("/participant/{a}"))), Some("tagged"));
    }
    let by_file = distinct(&started, &unique("history file"));
    replace_file(&host.wasm_path("participant"), &by_file);
    let swapped = Instant::now();
    while listed(&host, "participant")["version"] != sha256(&by_file).as_str() {
        assert!(swapped.elapsed() < Duration::from_secs(30), "the file was never swapped in");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, report) = admin(&host, "POST", "/admin/functions/participant/rollback", Some(TOKEN), vec![]);
    assert_eq!(status, 200, "{report}");

    let events = history(&host, "participant");
    // Cranelift's code follows each new version whenever it is ready: its
    // entries fall between the others, each right after its own version's.
    for (i, event) in events.iter().enumerate() {
        if event["origin"] == "tier-up" {
            assert_eq!(event["version"], events[i + 1]["version"], "{events:#?}");
            assert_eq!(event["tier"], "cranelift");
        }
    }
    let switches: Vec<_> = events
        .iter()
        .filter(|event| event["origin"] != "tier-up")
        .map(|event| (event["origin"].as_str().unwrap(), event["version"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        switches,
        [
            ("rollback", sha256(&by_admin)),
            ("file", sha256(&by_file)),
            ("admin", sha256(&by_admin)),
            ("start", sha256(&started)),
        ],
        "{events:#?}"
    );
    // Newest first, in time too; each names its tier, and counts the
    // requests it served.
    let times: Vec<_> = events.iter().map(|event| event["loaded_at"].as_str().unwrap().to_string()).collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");
    assert!(events.iter().all(|event| event["tier"] == "winch" || event["tier"] == "cranelift"), "{events:#?}");
    let served = |origin: &str| -> u64 {
        let version = sha256(if origin == "start" { &started } else { &by_admin });
        events
            .iter()
            .filter(|e| e["version"] == version.as_str() && (e["origin"] == origin || e["origin"] == "tier-up"))
            .filter(|e| origin != "rollback" || e["origin"] == "rollback")
            .map(|e| e["requests"].as_u64().unwrap())
            .sum()
    };
    // The start's version served the participant's creation; the admin's
    // (on either tier) the three reads; the rollback's none yet.
    assert_eq!(served("start"), 1, "{events:#?}");
    assert_eq!(served("rollback"), 0, "{events:#?}");
}

#[test]
fn newsfeed_watch_says_what_each_rebuild_did() {
    let state = tempfile::tempdir().unwrap();
    let sources = state.path().join("participant-src");
    std::fs::create_dir_all(&sources).unwrap();
    let target = state.path().join("wasm/participant.wasm");
    // The "build" runs whatever the test last wrote into build.sh.
    let script = state.path().join("build.sh");
    std::fs::write(&script, "exit 1").unwrap();
    let command = format!("sh {}", script.display());
    let host = Host::builder()
        .watch()
        .state_dir(state)
        .flags(&["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN])
        .edit(move |manifest| {
            let participant = manifest["component"]["participant"].as_table_mut().unwrap();
            let build: toml::Table = toml::toml! { command = ""  watch = ["participant-src/*.rs"] };
            participant.insert("build".into(), build.into());
            participant["build"]["command"] = command.into();
        })
        .start();
    let a = host.participant("a");
    let next_line =
        || host.stdout.lock().unwrap().recv_timeout(Duration::from_secs(60)).expect("a line for the rebuild");

    // A failed build: said so, and the old version keeps serving.
    std::fs::write(sources.join("lib.rs"), "// broken").unwrap();
    let line = next_line();
    assert!(line.starts_with("participant: build failed, the old version keeps serving"), "{line}");
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), None);

    // A build that writes the wasm file and then takes its time: the file
    // watcher swaps the new file in first, and the line says it is live.
    let tagged = distinct(&std::fs::read(built_wasm("tagged-participant")).unwrap(), &unique("watch"));
    let built = target.with_extension("built");
    std::fs::write(&built, &tagged).unwrap();
    std::fs::write(&script, format!("cp {} {} && sleep 3", built.display(), target.display())).unwrap();
    std::fs::write(sources.join("lib.rs"), "// slow").unwrap();
    let line = next_line();
    assert!(line.starts_with("participant: rebuilt in ") && line.contains("and already live"), "{line}");
    assert!(line.contains(&sha256(&tagged)[..12]), "{line}");
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), Some("tagged"));

    // A build that writes a new version: the watch loop swaps it itself.
    let plain = distinct(&std::fs::read(built_wasm("participant")).unwrap(), &unique("watch plain"));
    std::fs::write(&built, &plain).unwrap();
    std::fs::write(&script, format!("cp {} {}", built.display(), target.display())).unwrap();
    std::fs::write(sources.join("lib.rs"), "// fast").unwrap();
    let line = next_line();
    assert!(line.starts_with("participant: rebuilt in ") && line.contains("and swapped in"), "{line}");
    assert!(line.contains(&format!("{} -> {}", &sha256(&tagged)[..12], &sha256(&plain)[..12])), "{line}");
    assert_eq!(variant(&host.get(&format!("/participant/{a}"))), None);
    assert!(!line.contains("no change"), "{line}");
}

/// Winch (wasmtime 48, this machine's architecture) compiles every
/// component this repository builds: each function, the adapters, the
/// test components, and each function composed with the Spin adapter as
/// `--as-spin` runs it; no component falls back to Cranelift.
#[test]
fn winch_compiles_every_component_we_ship() {
    use newsfeed::handler::Tier;
    use newsfeed::wasm::engine::{new_engine, Compiler};
    common::build_components();
    let winch = new_engine(&newsfeed::limits::Limits::default(), Tier::Winch).unwrap();
    let built = common::repo_root().join("target/wasm32-wasip2/wasm");
    let mut compiled = Vec::new();
    for entry in std::fs::read_dir(&built).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "wasm") {
            let bytes = std::fs::read(&path).unwrap();
            winch.precompile_component(&bytes).unwrap_or_else(|error| panic!("{}: {error:#}", path.display()));
            compiled.push(path.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    for name in ["participant.wasm", "web.wasm", "faults.wasm", "tagged_participant.wasm", "spin_sqlite_adapter.wasm"] {
        assert!(compiled.iter().any(|compiled| compiled == name), "{name} not among {compiled:?}");
    }
    // Composed with the adapter, through the loader, which would fall back
    // to Cranelift (and say so in the tier) where Winch failed.
    let dir = tempfile::tempdir().unwrap();
    let app = newsfeed::spin::manifest::App::load(&common::repo_root().join("spin.toml")).unwrap();
    let options = newsfeed::assembly::Options {
        platform: newsfeed::wasm::loader::Platform::Spin,
        limits: Default::default(),
        backend: None,
        spin_sqlite: dir.path().join("newsfeed.db"),
        postgres_pool: 1,
        variables: Default::default(),
        compile_cache: dir.path().join("compiled"),
        compiler: Compiler::Winch,
        native: false,
        metrics: Default::default(),
    };
    let assembly = newsfeed::assembly::assemble(&app, options).unwrap();
    for (name, slot) in &assembly.functions {
        assert_eq!(slot.current().tier, Some(Tier::Winch), "{name} composed for Spin");
    }
    assert!(assembly.functions.len() >= 7, "{:?}", assembly.functions.keys());
}
