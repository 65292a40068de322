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
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::resolve::{EnvSnapshot, Origin, Resolution};
use crate::schema::{Delivery, Schema};

/// The environment the program receives: the inherited environment, minus the
/// `NAME_FILE` variables envgate read, plus every resolved value. Variables with
/// `deliver = "file"` are written to `files` and passed as `NAME_FILE` instead.
///
/// # Errors
/// [`Error::Output`] (exit 73) when a delivery file cannot be written.
pub fn child_environment(
    env: &EnvSnapshot,
    schema: &Schema,
    resolution: &Resolution,
    files: &mut Option<SecretsDir>,
) -> Result<Vec<(OsString, OsString)>, Error> {
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
    let mut by_file = Vec::new();
    for (spec, var) in schema.vars.iter().zip(&resolution.vars) {
        let Some(value) = &var.value else { continue };
        if spec.deliver == Delivery::File {
            let dir = match files {
                Some(dir) => dir,
                None => files.insert(SecretsDir::create(env)?),
            };
            let path = dir.write(&var.name, value)?;
            child.set(
                OsString::from(format!("{}_FILE", var.name)),
                path.into_os_string(),
            );
            by_file.push(OsString::from(&var.name));
        } else {
            child.set(
                OsString::from(&var.name),
                OsString::from(value.expose_secret()),
            );
        }
    }
    Ok(child
        .iter()
        .filter(|(name, _)| !by_file.iter().any(|file_var| file_var == name))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

/// The default parent of delivery directories: tmpfs, so values never reach a disk.
const DEFAULT_SECRETS_PARENT: &str = "/dev/shm";

/// A fresh directory (mode 0700) holding one 0400 file per delivered variable.
///
/// The files outlive envgate: the program reads them after exec. Its owner (or the
/// container's end) removes them; see docs/SECURITY.md for the trade-off.
#[derive(Debug)]
pub struct SecretsDir {
    path: PathBuf,
}

impl SecretsDir {
    /// Creates `$ENVGATE_SECRETS_DIR/envgate-PID-N` (default parent `/dev/shm`).
    ///
    /// # Errors
    /// [`Error::Output`] when the directory cannot be created.
    pub fn create(env: &EnvSnapshot) -> Result<Self, Error> {
        let parent = env
            .get("ENVGATE_SECRETS_DIR")
            .map_or_else(|| PathBuf::from(DEFAULT_SECRETS_PARENT), PathBuf::from);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let path = parent.join(format!("envgate-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|source| Error::Output {
                path: path.clone(),
                source,
            })?;
        Ok(Self { path })
    }

    /// Writes one value to a new file readable by its owner only (0400).
    fn write(&self, name: &str, value: &SecretString) -> Result<PathBuf, Error> {
        let path = self.path.join(name);
        let output_error = |source| Error::Output {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(&path)
            .map_err(output_error)?;
        file.write_all(value.expose_secret().as_bytes())
            .map_err(output_error)?;
        file.sync_all().map_err(output_error)?;
        Ok(path)
    }
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
        let child = child_environment(&env, &schema, &resolution, &mut None).unwrap();
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
