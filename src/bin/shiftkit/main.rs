//! The `shiftkit` command line: flags in, one library call per subcommand,
//! outcomes printed. Error printing and exit codes live here only.

mod args;
mod commands;
mod hw_args;
mod progress;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use args::{Cli, Command};
use commands::*;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Flow(args) => flow(args),
        Command::Train(args) => train(args),
        Command::Import(args) => import(args),
        Command::Export(args) => export(args),
        Command::Eval(args) => eval(args),
        Command::Info(args) => info(args),
        Command::Quantize(args) => quantize(args),
        Command::Compress(args) => compress(args),
        Command::Report(args) => report(args),
        Command::Hdl(args) => hdl(args),
        Command::Verify(args) => verify(args),
        Command::Build(args) => build(args),
        Command::Sim(args) => sim(args),
        Command::Dump(args) => dump(args),
    }
}
