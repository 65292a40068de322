//! The `envgate` binary: parse the command line, run, exit with the code.

use std::process::ExitCode;

use envgate::cli::Cli;
use envgate::resolve::EnvSnapshot;

fn main() -> ExitCode {
    envgate::harden();
    let cli = Cli::parse_args();
    if let Some(schema) = cli.schema() {
        // Before the environment is copied: a large schema's heap takes the copy too.
        envgate::heap::prepare_for_schema(schema);
    }
    ExitCode::from(envgate::run(cli, EnvSnapshot::from_process()))
}

/// The only C math functions the build calls: `log2` (the entropy rule) and `pow`
/// (the AWS SDK's adaptive retry limiter), defined here from the `libm` crate (a
/// port of musl's). The linker then resolves them in the binary and drops
/// libm.so: one shared library fewer to map and relocate at every start, and about
/// 300 KB less resident memory (docs/DECISIONS.md, "How the binary is linked").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod math {
    /// `log2(3)`.
    #[unsafe(no_mangle)]
    extern "C" fn log2(x: f64) -> f64 {
        libm::log2(x)
    }

    /// `pow(3)`.
    #[unsafe(no_mangle)]
    extern "C" fn pow(x: f64, y: f64) -> f64 {
        libm::pow(x, y)
    }
}
