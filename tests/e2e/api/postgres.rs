//! The same API cases against `newsfeed up --database postgres://...`: the
//! wasm functions over the PostgreSQL backend, on a real server that the
//! harness starts (`common::postgres`), each case on a new database. The
//! answers must be those of the embedded SQLite backend.

use crate::common::{self, Host};

fn start() -> Host {
    let url = common::postgres::shared().new_database();
    Host::builder().flags(&["--database", &url]).start()
}

super::cases::every_case!();
