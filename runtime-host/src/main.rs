//! The `newsfeed` binary: parses the command line, sets up logging and
//! OpenTelemetry export, and runs the subcommand.

use clap::Parser;
use newsfeed::cli::{Cli, Command};
use newsfeed::{commands, telemetry};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Before the tokio executor: the OTLP exporters' blocking HTTP client must not
    // be built inside one.
    let telemetry = telemetry::init(cli.log_format)?;
    let executor = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = executor.block_on(async {
        match cli.command {
            Command::Build(args) => commands::build::run(&args.manifest),
            Command::Up(args) => commands::up::run(args, commands::up::Watching::WasmFiles).await,
            Command::Watch(args) => commands::up::run(args, commands::up::Watching::WasmFilesAndSources).await,
        }
    });
    drop(executor);
    telemetry.shutdown();
    result
}
