//! The same API cases against `newsfeed up --native`, the baseline that runs
//! the functions' logic without wasm: both must give the same answers.

use crate::common::{self, Host};

fn start() -> Host {
    Host::builder().flags(&["--native"]).start()
}

super::cases::every_case!();

/// The cases above prove nothing about the baseline unless it really ran:
/// the metrics say which mode served each function, and the admin API
/// refuses to swap wasm into it.
#[test]
fn the_native_flag_really_serves_natively() {
    let host = Host::builder().flags(&["--native", "--metrics-listen", "127.0.0.1:0"]).start();
    let id = host.participant("n");
    assert_eq!(host.get(&format!("/participant/{id}")).status, 200);
    let text = host.scrape();
    for function in ["participant", "friends", "outbound", "inbound", "search"] {
        let series = format!(r#"newsfeed_function_version{{function="{function}",version="native",mode="native"}}"#);
        assert_eq!(common::metric(&text, &series), 1.0, "{function}");
    }
    // The test-only component has no native build and runs in wasm.
    assert!(text.contains(r#"function="faults","#) && text.contains(r#"mode="wasm""#), "{text}");
}

/// Native and wasm give the same answers to one script of good and bad
/// requests, in step.
#[test]
fn native_and_wasm_answer_one_script_alike() {
    let (wasm, native) = (Host::start(), start());
    common::script::assert_same_answers(&wasm, &native);
}

/// Swapping wasm into a host that serves native code would be a lie: the
/// admin API answers 409, and the function goes on serving natively.
#[test]
fn the_admin_api_refuses_to_swap_wasm_into_a_native_host() {
    const TOKEN: &str = "native-admin-token-0123456789";
    let host = Host::builder().flags(&["--native", "--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]).start();
    let admin = host.admin.clone().unwrap();
    let client = reqwest::blocking::Client::new();
    let wasm = std::fs::read(common::built_wasm("participant")).unwrap();
    let refused =
        client.put(format!("{admin}/admin/functions/participant")).bearer_auth(TOKEN).body(wasm).send().unwrap();
    assert_eq!(refused.status().as_u16(), 409);
    let said: serde_json::Value = serde_json::from_str(&refused.text().unwrap()).unwrap();
    assert!(said["error"].as_str().is_some_and(|error| error.contains("native")), "{said}");
    let list = client.get(format!("{admin}/admin/functions")).bearer_auth(TOKEN).send().unwrap().text().unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let participant = list.as_array().unwrap().iter().find(|f| f["name"] == "participant").unwrap();
    assert_eq!(participant["mode"], "native", "{participant}");
    assert_eq!(participant["swaps"], 0, "{participant}");
    let id = host.participant("still native");
    assert_eq!(host.get(&format!("/participant/{id}")).status, 200);
}
