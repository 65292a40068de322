//! The command lines a container's ENTRYPOINT gives, read without clap.
//!
//! Building clap's model of the options and running its parser cost a launch about
//! 0.17 ms (its code, its tables and its heap are touched on every start: page
//! faults, measured side by side; docs/DECISIONS.md, "Common command lines are read
//! without clap"). [`parse`] reads the plain shapes a launch or a check takes, and
//! gives up (`None`) on anything else, which then goes to clap: help, versions,
//! subcommands, mistakes, and every spelling clap allows that is not listed here.
//! What it accepts, it reads exactly as clap does: a property test compares both
//! on generated command lines (`cli::tests`).

use std::ffi::OsString;
use std::path::PathBuf;

use super::{Cli, CommonArgs, ReportArgs, SuperviseArgs, TopArgs, ValueArgs};
use crate::secrets::fetch::FetchMode;

/// Reads `args` (the program's name first) when every word before `--` is one of
/// the options below, written `--name value` or `--name=value` (`-s value` for the
/// schema), each at most once except `--env-file`, with a value that is not empty
/// and does not start with `-` (but `-` itself), all in UTF-8. Everything after
/// `--` is the command. `None` for any other command line.
pub(super) fn parse(args: &[OsString]) -> Option<Cli> {
    let mut line = Line::default();
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" {
            line.command = words.cloned().collect();
            break;
        }
        let text = word.to_str()?;
        let (name, attached) = match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (text, None),
        };
        line.read(name, attached, &mut words)?;
    }
    Some(line.into_cli())
}

/// What the options said so far.
#[derive(Default)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
struct Line {
    schema: Option<PathBuf>,
    environment: Option<String>,
    audit_log: Option<String>,
    secrets_dir: Option<PathBuf>,
    env_files: Vec<PathBuf>,
    check: bool,
    force: bool,
    strict: bool,
    explain: bool,
    init: bool,
    mask: bool,
    command: Vec<OsString>,
}

impl Line {
    /// Reads the option `name` (its value attached after `=`, or the next word);
    /// `None` when it is not one of these, is repeated, or its value is not plain.
    fn read<'a>(
        &mut self,
        name: &str,
        attached: Option<&'a str>,
        words: &mut impl Iterator<Item = &'a OsString>,
    ) -> Option<()> {
        let mut value = || plain_value(attached, words);
        match name {
            "--schema" | "-s" => once(&mut self.schema, PathBuf::from(value()?)),
            "--environment" => once(&mut self.environment, value()?.to_owned()),
            "--audit-log" => once(&mut self.audit_log, value()?.to_owned()),
            "--secrets-dir" => once(&mut self.secrets_dir, PathBuf::from(value()?)),
            "--env-file" => {
                self.env_files.push(PathBuf::from(value()?));
                Some(())
            }
            _ if attached.is_some() => None,
            "--check" => flag(&mut self.check),
            "--force" => flag(&mut self.force),
            "--strict" => flag(&mut self.strict),
            "--explain" => flag(&mut self.explain),
            "--init" => flag(&mut self.init),
            "--mask" => flag(&mut self.mask),
            _ => None,
        }
    }

    /// The command line as clap's parser builds it from the same words.
    fn into_cli(self) -> Cli {
        Cli {
            top: TopArgs {
                common: CommonArgs {
                    schema: self.schema,
                },
                values: ValueArgs {
                    env_files: self.env_files,
                    secrets_dir: self.secrets_dir,
                    environment: self.environment,
                    audit_log: self.audit_log,
                    force: self.force,
                    audit_principal: false,
                },
                report: ReportArgs {
                    format: None,
                    explain: self.explain,
                    strict: self.strict,
                    fetch: FetchMode::Auto,
                    timeout: super::DEFAULT_TIMEOUT_SECONDS,
                },
                check: self.check,
                docs: false,
                output: None,
                supervise: SuperviseArgs {
                    init: self.init,
                    mask: self.mask,
                    ..SuperviseArgs::default()
                },
                command: self.command,
            },
            subcommand: None,
        }
    }
}

/// An option's value: attached after `=`, or the next word; `None` when it is
/// missing, empty, starts with `-` (clap would read another option there; a lone
/// `-`, standard error for `--audit-log`, is a value) or is not UTF-8.
fn plain_value<'a>(
    attached: Option<&'a str>,
    words: &mut impl Iterator<Item = &'a OsString>,
) -> Option<&'a str> {
    let value = match attached {
        Some(value) => value,
        None => words.next()?.to_str()?,
    };
    let plain = value == "-" || !(value.is_empty() || value.starts_with('-'));
    plain.then_some(value)
}

/// Stores a single-use option's value; `None` when it was already given (clap
/// refuses a repeated option).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// Sets a switch; `None` when it was already set (clap refuses a repeated switch).
fn flag(switch: &mut bool) -> Option<()> {
    if *switch {
        return None;
    }
    *switch = true;
    Some(())
}
