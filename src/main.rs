//! The `envgate` binary: parse the command line, run, exit with the code.
//!
//! On Linux with glibc the binary has its own C `main` instead of Rust's start-up
//! routine (docs/DECISIONS.md, "The binary's own entry point"): that routine reads
//! and parses /proc/self/maps and maps an alternate signal stack on every start,
//! to print a message on a stack overflow, before envgate exec's the program.
//! `fsio::prepare_standard_streams` keeps the rest of what it does (closed
//! standard descriptors are opened on /dev/null, SIGPIPE is ignored), and `run`
//! flushes buffered output before the process exits.
// (Test builds keep Rust's `main`: the test harness supplies it.)
#![cfg_attr(all(target_os = "linux", target_env = "gnu", not(test)), no_main)]

use std::io::Write;

use envgate::cli::Cli;
use envgate::resolve::EnvSnapshot;

/// musl's own allocator maps and unmaps memory for every few blocks; envgate's
/// (dlmalloc) keeps it (src/heap/allocator.rs). It takes no lock while the
/// process has one thread: `threads::__wrap_pthread_create` tells it before a
/// second one starts.
#[cfg(all(target_os = "linux", target_env = "musl"))]
#[global_allocator]
// SAFETY: every thread is started through `pthread_create`, which the linker
// routes through `threads::__wrap_pthread_create` (build.rs), and that tells the
// allocator first.
static ALLOCATOR: envgate::heap::Allocator = unsafe { envgate::heap::Allocator::single_threaded() };

/// `pthread_create`, wrapped by the linker (`-Wl,--wrap=pthread_create`, build.rs):
/// every call in the binary, the standard library's included, comes here first.
/// A musl build without the wrap does not link (`__real_pthread_create` is
/// undefined), so the allocator can never be left unlocked beside a thread.
#[cfg(all(target_os = "linux", target_env = "musl"))]
mod threads {
    use std::ffi::{c_int, c_void};

    use nix::libc::{pthread_attr_t, pthread_t};

    /// A thread's start routine, as `pthread_create` takes it.
    type Start = unsafe extern "C" fn(*mut c_void) -> *mut c_void;

    unsafe extern "C" {
        fn __real_pthread_create(
            thread: *mut pthread_t,
            attributes: *const pthread_attr_t,
            start: Start,
            argument: *mut c_void,
        ) -> c_int;
    }

    /// Tells the allocator that threads start, then starts this one.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn __wrap_pthread_create(
        thread: *mut pthread_t,
        attributes: *const pthread_attr_t,
        start: Start,
        argument: *mut c_void,
    ) -> c_int {
        super::ALLOCATOR.threads_start();
        // SAFETY: the caller's arguments, passed on unchanged.
        unsafe { __real_pthread_create(thread, attributes, start, argument) }
    }
}

/// Parses the command line, runs, and returns the exit code.
fn run() -> u8 {
    envgate::harden();
    let cli = Cli::parse_args();
    if let Some(schema) = cli.schema() {
        // Before the environment is copied: a large schema's heap takes the copy too.
        envgate::heap::prepare_for_schema(schema);
    }
    let code = envgate::run(cli, EnvSnapshot::from_process());
    let _ = std::io::stdout().flush();
    code
}

/// The process's entry point, called by the C library's start-up code: glibc
/// hands the arguments to Rust's standard library before this runs, so
/// `std::env::args_os` works as in a Rust `main`.
#[cfg(all(target_os = "linux", target_env = "gnu", not(test)))]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    envgate::fsio::prepare_standard_streams();
    std::ffi::c_int::from(run())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", not(test))))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run())
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
