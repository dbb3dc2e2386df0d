//! The `newsfeed-load` binary as a user runs it. (Its runs against a real
//! host are in the end-to-end suite, `tests/e2e/load_smoke.rs`, which finds
//! the binary this test makes cargo build.)

use std::process::Command;

#[test]
fn a_remote_base_url_is_refused_unless_allowed() {
    let output = Command::new(env!("CARGO_BIN_EXE_newsfeed-load"))
        .args(["run", "--base-url", "http://10.1.2.3:3000", "--duration", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-remote"));
}
