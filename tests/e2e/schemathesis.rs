//! OpenAPI fuzzing: schemathesis generates requests from `openapi.yaml`
//! (coverage, fuzzing and stateful phases) against a real `newsfeed up`, and
//! checks every answer: no 5xx, a status the document lists, its content
//! type, and its body against the schema. At least 1,000 cases, none
//! failing.
//!
//! schemathesis comes from PyPI, installed by this test into a virtual
//! environment under `target/` (once; later runs reuse it).

use crate::common;

use common::{repo_root, Host};
use std::path::PathBuf;
use std::process::Command;

/// The schemathesis release the checks below were written against.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

fn schemathesis() -> PathBuf {
    let venv = repo_root().join("target/schemathesis-venv");
    let st = venv.join("bin/st");
    if !st.exists() {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
        assert!(made.is_ok_and(|s| s.success()), "python3 -m venv failed: this test needs Python 3");
        let pip = venv.join("bin/pip");
        let installed = Command::new(&pip).args(["install", "-q", SCHEMATHESIS]).status();
        assert!(installed.is_ok_and(|s| s.success()), "pip install {SCHEMATHESIS} failed");
    }
    st
}

#[test]
fn schemathesis_finds_no_failure_in_a_thousand_generated_cases() {
    let st = schemathesis();
    let host = Host::start();
    // Schemathesis keeps a cache of past failures in its working directory
    // and replays them: a fresh directory keeps every run the same, and the
    // source tree clean.
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(st)
        .current_dir(scratch.path())
        .arg("run")
        .arg(repo_root().join("openapi.yaml"))
        .args(["--url", &host.base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", "150", "--generation-deterministic"])
        .env("NO_COLOR", "1")
        .output()
        .expect("running schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    let tail: String =
        report.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(out.status.success(), "schemathesis found failures:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    // "N generated, N passed" in the summary.
    let counts =
        report.lines().find(|line| line.contains(" generated, ")).unwrap_or_else(|| panic!("no summary:\n{tail}"));
    let numbers: Vec<u64> = counts.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    let (generated, passed) = (numbers[0], numbers[1]);
    assert!(generated >= 1000, "only {generated} cases:\n{tail}");
    assert_eq!(passed, generated, "{tail}");
}
