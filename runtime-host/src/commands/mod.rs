//! One module per `newsfeed` subcommand, and the file watching that `up`
//! and `watch` do while they serve.
//!
//! The top of the host: it may depend on every other folder, and none
//! depends on it.

pub mod build;
pub mod readiness;
pub mod up;
pub mod watch;
