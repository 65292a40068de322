//! envgate: a startup-time configuration gate and process launcher.
//!
//! The pipeline: `schema` (load, spans kept) → `resolve` (sources, in precedence)
//! → `validate` (every rule, every variable) → `report` (check) or `launch` (exec).
//! `docs` renders the same schema as Markdown, `.env.example` or JSON Schema.
//! `app` wires the stages together ([`run`]); every byte printed goes through
//! [`fsio`].

#![forbid(unsafe_code)]

pub mod alert;
mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod codegen;
pub mod docs;
pub mod duration;
pub mod error;
pub mod fsio;
pub mod import;
pub mod init;
pub mod launch;
pub mod pattern;
pub mod problem;
pub mod report;
pub mod resolve;
pub mod rotate;
pub mod rules;
pub mod scan;
pub mod schema;
pub mod secrets;
pub mod sensitive;
pub mod settings;
pub mod signals;
pub mod supervise;
pub mod trust;
pub mod validate;

pub use app::{DEFAULT_SCHEMA, run};

/// Process-wide protections, set before anything is read: termination signals are
/// held for the watcher (see [`signals`]), envgate is marked non-dumpable (no core
/// dump, no ptrace attach by other processes of the same user while it holds
/// secrets; exec resets this for the program), and a panic prints where it
/// happened but never its message, which could quote a value.
pub fn harden() {
    signals::guard_until_exec();
    let _ = nix::sys::prctl::set_dumpable(false);
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|location| format!(" at {}:{}", location.file(), location.line()))
            .unwrap_or_default();
        fsio::eprint(&format!(
            "envgate: internal error{place}. Nothing was launched. The panic message is not shown because it could contain a configuration value; please report this location.\n"
        ));
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn harden_makes_the_process_non_dumpable() {
        super::harden();
        assert_eq!(nix::sys::prctl::get_dumpable(), Ok(false));
        // Leave the test process as it was for the other tests' panic messages.
        let _ = std::panic::take_hook();
    }
}
