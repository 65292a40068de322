//! Launch: the only place envgate calls exec(2).
//!
//! The program replaces envgate in the same process (same PID, so signals from the
//! container runtime reach it directly), and must start as if the runtime had
//! started it: default signal dispositions (Rust's runtime ignores SIGPIPE at
//! start-up, and exec would pass that on), an empty signal mask, and no file
//! descriptor of envgate's own (Rust opens every file close-on-exec). Its
//! environment is the inherited one plus every resolved value.

use std::ffi::{CString, OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use secrecy::ExposeSecret;

use crate::error::Error;
use crate::resolve::{EnvSnapshot, Origin, Resolution};

/// The environment the program receives: the inherited environment, minus the
/// `NAME_FILE` variables envgate read, plus every resolved value.
#[must_use]
pub fn child_environment(env: &EnvSnapshot, resolution: &Resolution) -> Vec<(OsString, OsString)> {
    let consumed: Vec<OsString> = resolution
        .vars
        .iter()
        .filter(|var| matches!(var.origin, Origin::File(_)))
        .map(|var| OsString::from(format!("{}_FILE", var.name)))
        .collect();
    let mut child = EnvSnapshot::from_pairs(
        env.iter()
            .filter(|(name, _)| !consumed.iter().any(|file_var| file_var == name))
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    for var in &resolution.vars {
        if let Some(value) = &var.value {
            child.set(
                OsString::from(&var.name),
                OsString::from(value.expose_secret()),
            );
        }
    }
    child
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Replaces this process with `command`, searched in `PATH` like a shell does.
///
/// Returns only on failure.
#[must_use]
pub fn exec(command: &[OsString], environment: Vec<(OsString, OsString)>) -> Error {
    let Some(program) = command.first() else {
        return Error::Usage("no command to launch after `--`".to_owned());
    };
    let shown = program.to_string_lossy().into_owned();
    let Ok(args) = command
        .iter()
        .map(|arg| c_string(arg))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Error::Usage("an argument of the command contains a NUL byte".to_owned());
    };
    let Ok(envp) = environment
        .into_iter()
        .map(|(name, value)| {
            let mut pair = name.into_vec();
            pair.push(b'=');
            pair.extend(value.into_vec());
            CString::new(pair)
        })
        .collect::<Result<Vec<_>, _>>()
    else {
        return Error::Usage(
            "a value contains a NUL byte and cannot be passed in the environment".to_owned(),
        );
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    reset_signals();
    let Err(errno) = nix::unistd::execvpe(&args[0], &args, &envp);
    exec_error(shown, errno)
}

fn c_string(text: &OsStr) -> Result<CString, std::ffi::NulError> {
    CString::new(text.as_bytes())
}

/// Default dispositions for every signal and an empty mask.
fn reset_signals() {
    for signal in 1..=libc::SIGRTMAX() {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting SIG_DFL installs no handler code; it is done right before
        // exec, on the only thread envgate has. Signals that cannot be changed
        // (the ones glibc reserves) return an error, which is ignored.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

fn exec_error(program: String, errno: Errno) -> Error {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => Error::CommandNotFound { program },
        other => Error::NotExecutable {
            program,
            reason: other.desc().to_lowercase(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::resolve;

    #[test]
    fn child_gets_values_and_loses_consumed_file_vars() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "from-file\n").unwrap();
        let schema =
            crate::schema::from_str("s.toml", "[vars.KEY]\n[vars.PORT]\ndefault = \"8000\"\n")
                .unwrap();
        let env = EnvSnapshot::from_pairs([
            (OsString::from("KEY_FILE"), file.into_os_string()),
            (OsString::from("OTHER"), OsString::from("kept")),
        ]);
        let resolution = resolve(&schema, "development", &env, &[]);
        let child = child_environment(&env, &resolution);
        let get = |name: &str| {
            child
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_str().unwrap())
        };
        assert_eq!(get("KEY"), Some("from-file"));
        assert_eq!(get("PORT"), Some("8000"));
        assert_eq!(get("OTHER"), Some("kept"));
        assert_eq!(get("KEY_FILE"), None);
    }
}
