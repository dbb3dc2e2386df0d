//! One module per `newsfeed` subcommand.

pub mod build;
pub mod up;
