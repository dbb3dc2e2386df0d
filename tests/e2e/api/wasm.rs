//! Every operation, rule and error status of `../shared/API.md`, over real
//! HTTP against `newsfeed up` running the wasm functions.

use crate::common::Host;

fn start() -> Host {
    Host::start()
}

super::cases::every_case!();
