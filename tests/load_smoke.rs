//! A short run of the load generator against a real host: every operation of
//! the profile is exercised without errors, and the JSON result and chart are
//! written. (A full run is a benchmark, not a test.)

mod common;

use common::Host;
use std::process::Command;

#[test]
fn the_load_generator_runs_the_whole_profile_without_errors() {
    let host = Host::start();
    let out = tempfile::tempdir().unwrap();
    let (json, chart) = (out.path().join("run.json"), out.path().join("run.svg"));
    let status = Command::new(env!("CARGO_BIN_EXE_newsfeed-load"))
        .args(["run", "--base-url", &host.base, "--users", "6", "--searchers", "0.34", "--readers", "0.17"])
        .args(["--duration", "2", "--warmup", "0.5", "--quiet", "--label", "smoke"])
        .arg("--out")
        .arg(&json)
        .arg("--chart")
        .arg(&chart)
        .status()
        .unwrap();
    assert!(status.success());
    let result: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for op in ["create_participant", "befriend", "create_post", "search", "get_inbound", "get_friends"] {
        let stats = &result["operations"][op];
        assert!(stats["requests"].as_u64().unwrap() > 0, "{op} never ran: {result}");
        assert_eq!(stats["errors"], 0, "{op} had errors: {result}");
        assert!(stats["p50_ms"].as_f64().unwrap() > 0.0);
    }
    assert!(std::fs::read_to_string(&chart).unwrap().starts_with("<svg"));

    // `compare` puts each run beside the first: a copy with every rate
    // doubled must read 2.00x on every row, the first 1.00x.
    let mut doubled = result.clone();
    doubled["label"] = "doubled".into();
    for (_, stats) in doubled["operations"].as_object_mut().unwrap() {
        for rate in ["per_second", "per_minute"] {
            stats[rate] = (stats[rate].as_f64().unwrap() * 2.0).into();
        }
    }
    let doubled_json = out.path().join("doubled.json");
    std::fs::write(&doubled_json, doubled.to_string()).unwrap();
    let compared = Command::new(env!("CARGO_BIN_EXE_newsfeed-load"))
        .arg("compare")
        .arg(&json)
        .arg(&doubled_json)
        .output()
        .unwrap();
    assert!(compared.status.success());
    let table = String::from_utf8_lossy(&compared.stdout);
    let rows =
        |label: &str| table.lines().filter(|line| line.starts_with(label)).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(rows("smoke").len(), 7, "{table}");
    assert!(rows("smoke").iter().all(|row| row.trim_end().ends_with("1.00x")), "{table}");
    assert_eq!(rows("doubled").len(), 7, "{table}");
    assert!(rows("doubled").iter().all(|row| row.trim_end().ends_with("2.00x")), "{table}");
}

#[test]
fn the_load_generator_refuses_remote_targets() {
    let output = Command::new(env!("CARGO_BIN_EXE_newsfeed-load"))
        .args(["run", "--base-url", "http://10.1.2.3:3000", "--duration", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-remote"));
}
