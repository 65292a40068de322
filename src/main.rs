//! The `envgate` binary: parse the command line, run, exit with the code.
//!
//! Rust's own start-up does what a launcher needs before it reads anything: a
//! standard descriptor (0, 1, 2) that is closed is opened on /dev/null, so no
//! file envgate opens later takes its number, and SIGPIPE is ignored, so a write
//! to a closed pipe is an error envgate handles (the program gets the default
//! back before exec).

#![forbid(unsafe_code)]

use std::io::Write;

use envgate::cli::Cli;
use envgate::resolve::EnvSnapshot;

/// Only to measure it against the C library's allocator (`--features bench-mimalloc`).
#[cfg(feature = "bench-mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    envgate::harden();
    let cli = Cli::parse_args();
    let code = envgate::run(cli, EnvSnapshot::from_process());
    let _ = std::io::stdout().flush();
    std::process::ExitCode::from(code)
}
