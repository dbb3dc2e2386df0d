//! Every operation, rule and error status of `docs/api.md`, over real
//! HTTP against `newsfeed up` running the wasm functions.

use crate::common::Host;

fn start() -> Host {
    Host::start()
}

super::cases::every_case!();
