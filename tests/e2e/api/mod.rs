//! Every operation, rule and error status of the API contract
//! (`openapi.yaml`), over real HTTP, against every host and backend: the
//! cases are written once ([`cases`]) and each module below runs them all on
//! its own kind of host.

pub(crate) mod cases;
mod native;
mod postgres;
mod spin;
mod spin_postgres;
mod wasm;
