//! Data acknowledged with 200 survives the process being killed.

mod common;

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
    let host = Host::start_in(state, &[]);

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
