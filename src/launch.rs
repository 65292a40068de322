//! Launch: the only place envgate calls exec(2).
//!
//! The program replaces envgate in the same process (same PID, so signals from the
//! container runtime reach it directly), and must start as if the runtime had
//! started it: default signal dispositions (Rust's runtime ignores SIGPIPE at
//! start-up, and exec would pass that on), an empty signal mask, and no file
//! descriptor of envgate's own (Rust opens every file close-on-exec). Its
//! environment is the inherited one plus every resolved value.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::libc;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;
use secrecy::{ExposeSecret, SecretString};
use std::os::fd::RawFd;

use crate::error::Error;
use crate::resolve::{EnvSnapshot, Resolution};
use crate::schema::{Delivery, Schema};

/// The environment the program receives, built from the resolution alone: the
/// inherited environment minus every name envgate resolves itself (`NAME_FILE`
/// and every alias of a schema variable, whichever source won), plus each
/// resolved value as `NAME` (or the empty string an env file wrote for a variable
/// nothing else set, as python-dotenv would), plus `ENVIRONMENT` set to the environment that was
/// validated. Variables with `deliver = "file"` are written to `files` and passed
/// as `NAME_FILE` only; `NAME` itself is removed.
///
/// # Errors
/// [`Error::Output`] (exit 73) when a delivery file cannot be written.
pub fn child_environment<'a>(
    env: &'a EnvSnapshot,
    schema: &'a Schema,
    environment: &'a str,
    resolution: &'a Resolution,
    files: &mut Option<SecretsDir>,
) -> Result<ChildEnvironment<'a>, Error> {
    let aliases: Aliases<'_> = schema
        .vars
        .iter()
        .flat_map(|var| var.aliases.iter().map(String::as_str))
        .collect();
    let mut child = ChildMap::with_capacity(env.len() + schema.vars.len() + 1);
    for (name, value) in env.iter() {
        if !resolved_by_envgate(schema, &aliases, name) {
            child.insert(Cow::Borrowed(name), Cow::Borrowed(value));
        }
    }
    for (spec, var) in schema.vars.iter().zip(&resolution.vars) {
        let Some(value) = &var.value else {
            if var.empty_in_env_file && spec.deliver == Delivery::Env {
                // `NAME=` in a .env file: python-dotenv would set it empty.
                child
                    .entry(Cow::Borrowed(OsStr::new(&var.name)))
                    .or_insert(Cow::Borrowed(OsStr::new("")));
            }
            continue;
        };
        if spec.deliver == Delivery::File {
            let dir = match files {
                Some(dir) => dir,
                None => files.insert(SecretsDir::create(env)?),
            };
            let path = dir.write(&var.name, value)?;
            child.insert(
                Cow::Owned(OsString::from(format!("{}_FILE", var.name))),
                Cow::Owned(path.into_os_string()),
            );
        } else {
            child.insert(
                Cow::Borrowed(OsStr::new(&var.name)),
                Cow::Borrowed(OsStr::new(value.expose_secret())),
            );
        }
    }
    child.insert(
        Cow::Borrowed(OsStr::new("ENVIRONMENT")),
        Cow::Borrowed(OsStr::new(environment)),
    );
    Ok(child.into_iter().collect())
}

/// The program's environment, in order: names and values borrowed from the
/// inherited environment and the resolution wherever they are used as they are,
/// so no value is copied before its `NAME=value` string for exec is built.
pub type ChildEnvironment<'a> = Vec<(Cow<'a, OsStr>, Cow<'a, OsStr>)>;

/// The environment being built: insertion order, and a later value for the same
/// name replaces the earlier one where it stands.
type ChildMap<'a> = indexmap::IndexMap<Cow<'a, OsStr>, Cow<'a, OsStr>>;

/// Every alias of the schema's variables.
type Aliases<'a> = HashSet<&'a str>;

/// Whether envgate resolves the inherited variable `name` itself, so the program
/// must not receive it as inherited: `NAME_FILE` of a schema variable, an alias,
/// or `NAME` of a variable delivered as a file.
fn resolved_by_envgate(schema: &Schema, aliases: &Aliases<'_>, name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        // Schema names and aliases are ASCII.
        return false;
    };
    if name
        .strip_suffix("_FILE")
        .is_some_and(|stem| schema.var(stem).is_some())
    {
        return true;
    }
    aliases.contains(name)
        || schema
            .var(name)
            .is_some_and(|var| var.deliver == Delivery::File)
}

/// The default parent of delivery directories: tmpfs, so values never reach a disk.
const DEFAULT_SECRETS_PARENT: &str = "/dev/shm";

/// A fresh directory (mode 0700) holding one 0400 file per delivered variable.
///
/// After a successful exec the files outlive envgate: the program reads them. Its
/// owner (or the container's end) removes them; see docs/SECURITY.md for the
/// trade-off. When the launch fails instead, dropping this removes them.
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
        write_new(&path, value)?;
        Ok(path)
    }

    /// Replaces one delivered value in place, atomically: a reader sees the old
    /// file or the new one, never a partial write (`--watch --reload-signal`).
    ///
    /// # Errors
    /// [`Error::Output`] when the new file cannot be written.
    pub fn replace(&self, name: &str, value: &SecretString) -> Result<(), Error> {
        let path = self.path.join(name);
        let fresh = self.path.join(format!(".{name}.new"));
        let _ = std::fs::remove_file(&fresh);
        write_new(&fresh, value)?;
        std::fs::rename(&fresh, &path).map_err(|source| Error::Output { path, source })
    }
}

/// Writes `value` to a new file at `path`, mode 0400, synced.
fn write_new(path: &std::path::Path, value: &SecretString) -> Result<(), Error> {
    let output_error = |source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .map_err(output_error)?;
    file.write_all(value.expose_secret().as_bytes())
        .map_err(output_error)?;
    file.sync_all().map_err(output_error)
}

impl Drop for SecretsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A program ready to exec: found, executable, with arguments and environment
/// that the kernel will take.
pub struct Prepared {
    path: CString,
    args: Vec<CString>,
    envp: Vec<CString>,
    shown: String,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("program", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// The program as given on the command line, for messages and the audit trail.
    #[must_use]
    pub fn program(&self) -> &str {
        &self.shown
    }
}

/// Checks everything exec(2) would check, before the launch is audited: the
/// program is found in `PATH` (as a shell searches it) and executable, and the
/// arguments and environment fit the kernel's limit.
///
/// # Errors
/// [`Error::CommandNotFound`] (127), [`Error::NotExecutable`] or
/// [`Error::EnvironmentTooLarge`] (126), [`Error::Usage`] for a NUL byte in an
/// argument.
pub fn prepare<N: AsRef<OsStr>, V: AsRef<OsStr>>(
    command: &[OsString],
    environment: impl IntoIterator<Item = (N, V)>,
    search_path: Option<&OsStr>,
) -> Result<Prepared, Error> {
    let Some(program) = command.first() else {
        return Err(Error::Usage("no command to launch after `--`".to_owned()));
    };
    let shown = program.to_string_lossy().into_owned();
    let path = locate(program, search_path, &shown)?;
    let args = command
        .iter()
        .map(|arg| c_string(arg))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::Usage("an argument of the command contains a NUL byte".to_owned()))?;
    let envp = environment
        .into_iter()
        .map(|(name, value)| {
            // One allocation of the final size (room for the NUL), so no copy of
            // a value is left behind in a buffer that grew.
            let (name, value) = (name.as_ref().as_bytes(), value.as_ref().as_bytes());
            let mut pair = Vec::with_capacity(name.len() + value.len() + 2);
            pair.extend_from_slice(name);
            pair.push(b'=');
            pair.extend_from_slice(value);
            CString::new(pair)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            // Validation refuses NUL bytes in values; an inherited variable is the
            // only way here, and the kernel would not have passed it to envgate.
            Error::Usage("a variable contains a NUL byte and cannot be passed on".to_owned())
        })?;
    let bytes: usize = args
        .iter()
        .chain(&envp)
        .map(|text| text.as_bytes_with_nul().len() + std::mem::size_of::<usize>())
        .sum();
    let limit = arg_max();
    if bytes > limit {
        return Err(Error::EnvironmentTooLarge { bytes, limit });
    }
    Ok(Prepared {
        path,
        args,
        envp,
        shown,
    })
}

/// What the kernel accepts for arguments and environment together.
fn arg_max() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .and_then(|limit| usize::try_from(limit).ok())
        .unwrap_or(128 * 1024)
}

/// The program's path: as given when it contains a `/`, else the first match in
/// `PATH` (default `/usr/local/bin:/usr/bin:/bin`) that is an executable file.
fn locate(program: &OsStr, search_path: Option<&OsStr>, shown: &str) -> Result<CString, Error> {
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![PathBuf::from(program)]
    } else {
        let search = search_path
            .filter(|path| !path.is_empty())
            .unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
        std::env::split_paths(search)
            .map(|dir| dir.join(program))
            .collect()
    };
    let mut refused = None;
    for candidate in candidates {
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.is_dir() {
            refused.get_or_insert(Errno::EISDIR);
            continue;
        }
        match nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK) {
            Ok(()) => {
                return c_string(candidate.as_os_str()).map_err(|_| {
                    Error::Usage("the command's path contains a NUL byte".to_owned())
                });
            }
            Err(errno) => {
                refused.get_or_insert(errno);
            }
        }
    }
    Err(match refused {
        Some(errno) => exec_error(shown.to_owned(), errno),
        None => Error::CommandNotFound {
            program: shown.to_owned(),
        },
    })
}

/// Replaces this process with the prepared program. Returns only on failure.
#[must_use]
pub fn exec(prepared: Prepared) -> Error {
    let Prepared {
        path,
        args,
        envp,
        shown,
    } = prepared;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    defaults_across_exec();
    let mut command = std::process::Command::new(program_path(&path));
    if let Some((first, rest)) = args.split_first() {
        command.arg0(OsStr::from_bytes(first.as_bytes()));
        command.args(rest.iter().map(|arg| OsStr::from_bytes(arg.as_bytes())));
    }
    command.env_clear();
    for pair in &envp {
        let pair = pair.as_bytes();
        let equals = pair
            .iter()
            .position(|&byte| byte == b'=')
            .unwrap_or(pair.len());
        let value = pair.get(equals + 1..).unwrap_or_default();
        command.env(OsStr::from_bytes(&pair[..equals]), OsStr::from_bytes(value));
    }
    let error = command.exec();
    exec_error(shown, Errno::from_raw(error.raw_os_error().unwrap_or(0)))
}

/// The program's signal state, set right before execve(2): an empty mask, and
/// every standard signal at its default action, whatever envgate's parent left
/// ignored (SIGPIPE, which Rust's runtime ignores; SIGCHLD ignored would make the
/// program's children vanish unreaped). Each signal gets a handler that acts as
/// the default would (signal-hook's safe registration), and execve resets every
/// handled signal to its default; a signal pending when the mask empties meets
/// that default action, as it would with SIG_DFL. SIGKILL and SIGSTOP cannot be
/// ignored; SIGILL, SIGFPE and SIGSEGV cannot be handled this way and keep what
/// the parent gave them. glibc's own signals (32, 33) are left alone.
fn defaults_across_exec() {
    let always = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    for signal in Signal::iterator() {
        let number = signal as i32;
        if !signal_hook::consts::FORBIDDEN.contains(&number) {
            let _ = signal_hook::flag::register_conditional_default(number, always.clone());
        }
    }
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        None,
    );
}

/// `path` as a path with a `/`, so that it is never looked up in `PATH` again
/// (an empty `PATH` entry gives a bare name).
fn program_path(path: &CString) -> PathBuf {
    let path = Path::new(OsStr::from_bytes(path.as_bytes()));
    if path.as_os_str().as_bytes().contains(&b'/') {
        path.to_owned()
    } else {
        Path::new(".").join(path)
    }
}

/// Starts the prepared program as a child of envgate (supervisor mode), with
/// the same clean signal state as [`exec`]: every signal at its default action
/// and an empty mask. With `output`, its stdout and stderr are those two
/// descriptors (the masking pipes).
///
/// posix_spawn(3) rather than fork: glibc starts the child with vfork semantics
/// (no copy of envgate's page tables) and applies the signal state and the
/// descriptors in it, and exec failures come back as an error here.
///
/// # Errors
/// [`Error::CommandNotFound`] or [`Error::NotExecutable`] when the program
/// cannot be started.
pub fn spawn(prepared: &Prepared, output: Option<(RawFd, RawFd)>) -> Result<Pid, Error> {
    let spawn_error = |errno: Errno| exec_error(prepared.shown.clone(), errno);
    let mut actions = PosixSpawnFileActions::init().map_err(spawn_error)?;
    if let Some((stdout, stderr)) = output {
        actions
            .add_dup2(stdout, libc::STDOUT_FILENO)
            .map_err(spawn_error)?;
        actions
            .add_dup2(stderr, libc::STDERR_FILENO)
            .map_err(spawn_error)?;
    }
    let mut attributes = PosixSpawnAttr::init().map_err(spawn_error)?;
    attributes
        .set_flags(PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK)
        .map_err(spawn_error)?;
    attributes
        .set_sigdefault(&standard_signals())
        .map_err(spawn_error)?;
    attributes
        .set_sigmask(&SigSet::empty())
        .map_err(spawn_error)?;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    posix_spawn(
        prepared.path.as_c_str(),
        &actions,
        &attributes,
        &prepared.args,
        &prepared.envp,
    )
    .map_err(spawn_error)
}

fn c_string(text: &OsStr) -> Result<CString, std::ffi::NulError> {
    CString::new(text.as_bytes())
}

/// Every standard signal (1 to 31), for posix_spawn(3) to set to its default
/// action in the child. Not the real-time ones: glibc keeps 32 and 33 for
/// itself, and asking it to reset them leaves them ignored in the child.
fn standard_signals() -> SigSet {
    Signal::iterator().collect()
}

fn exec_error(program: String, errno: Errno) -> Error {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => Error::CommandNotFound { program },
        Errno::ENOEXEC => Error::NotExecutable {
            program,
            reason: "not an executable format (a script needs a #! line)".to_owned(),
        },
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

    /// The program sees the inherited variables in their order, a resolved value
    /// where its name stood (or after them, in schema order, when it was not
    /// inherited), and `ENVIRONMENT` last unless inherited.
    #[test]
    fn the_child_environment_keeps_the_inherited_order() {
        let schema = crate::schema::from_str(
            "s.toml",
            "[vars.PORT]\ndefault = \"8000\"\n[vars.NAME]\n[vars.OLD]\naliases = [\"LEGACY\"]\n",
        )
        .unwrap();
        let env = EnvSnapshot::from_pairs([
            ("HOME", "/root"),
            ("NAME", "inherited"),
            ("LEGACY", "old"),
            ("PATH", "/bin"),
        ]);
        let resolution = resolve(&schema, "staging", &env, &[]);
        let child = child_environment(&env, &schema, "staging", &resolution, &mut None).unwrap();
        let pairs: Vec<(&str, &str)> = child
            .iter()
            .map(|(name, value)| (name.to_str().unwrap(), value.to_str().unwrap()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("HOME", "/root"),
                ("NAME", "inherited"),
                ("PATH", "/bin"),
                ("PORT", "8000"),
                ("OLD", "old"),
                ("ENVIRONMENT", "staging"),
            ]
        );
    }

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
        let child =
            child_environment(&env, &schema, "development", &resolution, &mut None).unwrap();
        let get = |name: &str| {
            child
                .iter()
                .find(|(n, _)| **n == *name)
                .map(|(_, v)| v.to_str().unwrap())
        };
        assert_eq!(get("KEY"), Some("from-file"));
        assert_eq!(get("PORT"), Some("8000"));
        assert_eq!(get("OTHER"), Some("kept"));
        assert_eq!(get("KEY_FILE"), None);
    }
}
