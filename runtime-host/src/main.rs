//! The `newsfeed` binary: parses the command line and runs the subcommand.

use clap::Parser;
use newsfeed::cli::{Cli, Command};
use newsfeed::commands;
use std::io::IsTerminal;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a log file or a
        // collector gets plain lines.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Build(args) => commands::build::run(&args.manifest),
        Command::Up(args) => commands::up::run(args, commands::up::Watching::WasmFiles).await,
        Command::Watch(args) => commands::up::run(args, commands::up::Watching::WasmFilesAndSources).await,
    }
}
