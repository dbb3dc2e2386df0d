//! Data acknowledged with 200 survives the process being killed.

use crate::common;

use common::Host;
use serde_json::json;

#[test]
fn a_crash_and_restart_keeps_every_acknowledged_write() {
    let host = Host::start();
    let (a, b) = (host.participant("a"), host.participant("b"));
    assert_eq!(host.befriend(a, b).status, 200);
    for n in 0..20 {
        assert_eq!(host.publish(a, "kept", &format!("durable story {n}")).status, 200);
    }
    let before = (
        host.get(&format!("/participant/{a}/outbound?limit=1000")).json,
        host.get(&format!("/participant/{b}/inbound?limit=1000")).json,
        host.get(&format!("/participant/{a}/friends")).json,
    );

    let state = host.crash();
    let host = Host::builder().state_dir(state).start();

    assert_eq!(
        host.get(&format!("/participant/{a}")).json,
        json!({"id": a, "name": "a", "link": format!("/participant/{a}")})
    );
    let after = (
        host.get(&format!("/participant/{a}/outbound?limit=1000")).json,
        host.get(&format!("/participant/{b}/inbound?limit=1000")).json,
        host.get(&format!("/participant/{a}/friends")).json,
    );
    assert_eq!(after, before);
    assert_eq!(after.0.as_array().unwrap().len(), 20);
    assert_eq!(host.get("/outbound?keywords=durable").json, json!([format!("/participant/{a}")]));
    // New ids continue after the old ones.
    assert!(host.participant("c") > b);
}

/// What "a 200 means on disk" rests on, watched from outside with strace:
/// for every acknowledged write, the database's sync (fdatasync or fsync)
/// completes before the 200 is written to the socket. A kill -9 alone
/// cannot show this (the page cache survives it); `synchronous = OFF`, or an
/// answer sent before the commit, fails here.
#[test]
fn every_acknowledged_write_is_synced_before_its_answer_is_sent() {
    let strace = ensure_strace();
    let host = Host::start();
    let a = host.participant("a");
    let trace = tempfile::tempdir().unwrap();
    let out = trace.path().join("trace");
    let mut tracer = std::process::Command::new(strace)
        .args(["-f", "-qq", "-s", "32", "-e", "trace=fsync,fdatasync,write,writev,sendto,sendmsg", "-o"])
        .arg(&out)
        .args(["-p", &host.pid().to_string()])
        .spawn()
        .unwrap();
    // strace writes nothing until it has attached every thread; wait for it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let posts = 20;
    for n in 0..posts {
        assert_eq!(host.publish(a, "s", &format!("synced {n}")).status, 200);
    }
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    tracer.wait().unwrap();

    let text = std::fs::read_to_string(&out).unwrap();
    let (mut synced, mut answered) = (false, 0);
    for line in text.lines() {
        let completes_sync = (line.contains("fdatasync") || line.contains("fsync")) && line.trim_end().ends_with("= 0");
        if completes_sync {
            synced = true;
        } else if line.contains("\"HTTP/1.1 200") {
            assert!(synced, "a 200 was sent with no sync since the previous one:\n{line}");
            synced = false;
            answered += 1;
        }
    }
    assert_eq!(answered, posts, "not every answer was seen in the trace:\n{text}");
}

/// strace, installed from Debian's packages if it is missing.
fn ensure_strace() -> &'static str {
    let found = || std::process::Command::new("strace").arg("-V").output().is_ok_and(|out| out.status.success());
    if !found() {
        let installed = std::process::Command::new("apt-get")
            .args(["install", "-y", "-q", "strace"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success());
        assert!(installed && found(), "apt-get install strace failed: this test needs strace");
    }
    "strace"
}
