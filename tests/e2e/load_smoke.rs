//! A short run of the load generator against a real host: every operation of
//! the profile is exercised without errors, the server's CPU and the traffic
//! both ways are reported, and the JSON result and chart are written. (A
//! full run is a benchmark, not a test.)

use crate::common;

use common::Host;
use std::process::Command;

#[test]
fn the_load_generator_runs_the_whole_profile_without_errors() {
    let host = Host::start();
    let out = tempfile::tempdir().unwrap();
    let (json, chart) = (out.path().join("run.json"), out.path().join("run.svg"));
    let status = Command::new(common::load_generator())
        .args(["run", "--base-url", &host.base, "--users", "6", "--searchers", "0.34", "--readers", "0.17"])
        .args(["--duration", "2", "--warmup", "0.5", "--quiet", "--label", "smoke"])
        .args(["--server-pid", &host.pid().to_string()])
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

    // The server worked, on at most every core there is.
    let cores = std::thread::available_parallelism().unwrap().get() as f64;
    let busy = result["server"]["cores_busy"].as_f64().unwrap();
    assert!(busy > 0.0 && busy <= cores * 1.1, "server cores busy: {busy}");
    assert!(result["server"]["cpu_us_per_request"].as_f64().unwrap() > 0.0);
    // Each request carries at least a request line and a Host header, each
    // answer at least a status line and a content type.
    let requests_per_second: f64 =
        result["operations"].as_object().unwrap().values().map(|op| op["per_second"].as_f64().unwrap()).sum();
    for (way, least) in [("sent_bytes_per_second", 40.0), ("received_bytes_per_second", 50.0)] {
        let per_request = result["bandwidth"][way].as_f64().unwrap() / requests_per_second;
        assert!(per_request >= least, "{way}: {per_request:.0} bytes a request");
    }

    // `compare` puts each run beside the first: a copy with every rate and
    // its CPU per request doubled must read 2.00x on every row, the first
    // 1.00x.
    let mut doubled = result.clone();
    doubled["label"] = "doubled".into();
    for (_, stats) in doubled["operations"].as_object_mut().unwrap() {
        for rate in ["per_second", "per_minute"] {
            stats[rate] = (stats[rate].as_f64().unwrap() * 2.0).into();
        }
    }
    let cpu = &mut doubled["server"]["cpu_us_per_request"];
    *cpu = (cpu.as_f64().unwrap() * 2.0).into();
    let doubled_json = out.path().join("doubled.json");
    std::fs::write(&doubled_json, doubled.to_string()).unwrap();
    let compared =
        Command::new(common::load_generator()).arg("compare").arg(&json).arg(&doubled_json).output().unwrap();
    assert!(compared.status.success());
    let table = String::from_utf8_lossy(&compared.stdout);
    let rows =
        |label: &str| table.lines().filter(|line| line.starts_with(label)).map(str::to_string).collect::<Vec<_>>();
    let ratio = |row: &String, column: usize| row.split_whitespace().nth(column).map(str::to_string);
    // Seven operation rows (six and "all"), their ratio last; then one
    // resources row, its ratio the fourth column.
    let (smoke, doubled) = (rows("smoke"), rows("doubled"));
    assert_eq!((smoke.len(), doubled.len()), (8, 8), "{table}");
    assert!(smoke[..7].iter().all(|row| row.trim_end().ends_with("1.00x")), "{table}");
    assert!(doubled[..7].iter().all(|row| row.trim_end().ends_with("2.00x")), "{table}");
    assert_eq!(ratio(&smoke[7], 3).as_deref(), Some("1.00x"), "{table}");
    assert_eq!(ratio(&doubled[7], 3).as_deref(), Some("2.00x"), "{table}");
}
