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

/// The static (musl) binary's allocator: musl's own maps and unmaps memory for
/// every few blocks, and made a launch 2.3 times slower (docs/BENCHMARKS.md,
/// "Allocator"). glibc builds keep the C library's.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    envgate::harden();
    let cli = Cli::parse_args();
    let code = envgate::run(cli, EnvSnapshot::from_process());
    let _ = std::io::stdout().flush();
    std::process::ExitCode::from(code)
}
