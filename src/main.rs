//! The `envgate` binary: parse the command line, run, exit with the code.

use std::process::ExitCode;

use clap::Parser;
use envgate::cli::Cli;
use envgate::resolve::EnvSnapshot;

fn main() -> ExitCode {
    envgate::harden();
    let cli = Cli::parse();
    ExitCode::from(envgate::run(cli, EnvSnapshot::from_process()))
}
