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
    let ctx = Ctx { force: cli.force, quiet: cli.quiet };
    match cli.command {
        Command::Flow(args) => flow(args, &ctx),
        Command::Train(args) => train(args, &ctx),
        Command::Import(args) => import(args, &ctx),
        Command::Export(args) => export(args, &ctx),
        Command::Eval(args) => eval(args, &ctx),
        Command::Sensitivity(args) => sensitivity(args, &ctx),
        Command::Info(args) => info(args, &ctx),
        Command::Quantize(args) => quantize(args, &ctx),
        Command::Compress(args) => compress(args, &ctx),
        Command::Report(args) => report(args, &ctx),
        Command::Hdl(args) => hdl(args, &ctx),
        Command::Cmvm(args) => cmvm(args, &ctx),
        Command::Verify(args) => verify(args, &ctx),
        Command::Build(args) => build(args, &ctx),
        Command::Run(args) => run_board(args, &ctx),
        Command::Sim(args) => sim(args, &ctx),
        Command::Dump(args) => dump(args, &ctx),
    }
}
