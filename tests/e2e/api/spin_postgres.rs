//! The same API cases against `newsfeed up --as-spin -f spin-postgres.toml`:
//! every function composed with the Spin PostgreSQL adapter, as `spin up`
//! runs it on a hosted platform, on a real PostgreSQL server, each case on a
//! new database. The answers must be those of every other mode.

use crate::common::{self, Host};

fn start() -> Host {
    let server = common::postgres::shared();
    common::postgres::spin_host(&server.new_database(), &format!("127.0.0.1:{}", server.port))
}

super::cases::every_case!();
