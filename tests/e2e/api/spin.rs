//! The same API cases against `newsfeed up --as-spin`: every function
//! composed with the Spin SQLite adapter, as `spin up` runs it, and only
//! what Spin serves linked. The answers must be those of the native path.

use crate::common::Host;

fn start() -> Host {
    Host::builder().flags(&["--as-spin"]).start()
}

super::cases::every_case!();
