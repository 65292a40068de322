//! The command line (clap derive), and its conversion into an [`Action`].
//!
//! clap stops here: the rest of envgate sees only [`Action`] and [`Options`].

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use std::time::Duration;

use crate::error::Error;
use crate::report::Format;
use crate::rotate::RotateRequest;
use crate::rotate::targets::RotateType;
use crate::secrets::fetch::FetchMode;
use crate::supervise::{SuperviseOptions, parse_signal};
use nix::sys::signal::Signal;

/// `--timeout`'s default: the deadline for reading Secrets Manager, in seconds.
const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;

/// envgate: validate every environment variable a program needs, then exec it.
#[derive(Debug, Parser)]
#[command(
    name = "envgate",
    version,
    about,
    after_help = "Examples:\n  envgate --schema env.schema.toml -- gunicorn app.wsgi\n  envgate --check --format github\n  envgate docs --output docs/ENVIRONMENT_VARIABLES.md"
)]
pub struct Cli {
    #[command(flatten)]
    top: TopArgs,

    #[command(subcommand)]
    subcommand: Option<Sub>,
}

/// Everything on the command line but a subcommand.
#[derive(Debug, Args)]
struct TopArgs {
    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    values: ValueArgs,

    #[command(flatten)]
    report: ReportArgs,

    /// Validate only and report (same as `envgate check`).
    #[arg(long, conflicts_with = "docs")]
    check: bool,

    /// Print Markdown documentation of the schema (same as `envgate docs`).
    #[arg(long)]
    docs: bool,

    /// With --docs: write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE", requires = "docs")]
    output: Option<PathBuf>,

    #[command(flatten)]
    supervise: SuperviseArgs,

    /// The program to launch and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Options every command shares.
#[derive(Debug, Clone, Default, Args)]
struct CommonArgs {
    /// Schema file [default: the ENVGATE_SCHEMA variable, else ./env.schema.toml].
    #[arg(short, long, global = true, value_name = "FILE")]
    schema: Option<PathBuf>,
}

/// Options of the commands that read values (launch, check, rotate): given before
/// or after the subcommand's name.
#[derive(Debug, Clone, Default, Args)]
struct ValueArgs {
    /// A .env file to read (repeatable; later files win).
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// A directory of files named after variables (Docker/Kubernetes secret mounts), between NAME_FILE and --env-file.
    #[arg(long, value_name = "DIR")]
    secrets_dir: Option<PathBuf>,
    /// The environment to validate for [default: $ENVIRONMENT, else development].
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// Audit log: a file (appended, created 0600), `-` for stderr, or `off` [default: $ENVGATE_AUDIT_LOG, else stderr].
    #[arg(long, value_name = "FILE|-|off")]
    audit_log: Option<String>,
    /// Allow `--audit-log off` in production.
    #[arg(long)]
    force: bool,
    /// Add the caller's AWS identity (STS GetCallerIdentity, one extra call) to audit lines.
    #[arg(long)]
    audit_principal: bool,
    /// Send alerts (access denied, failed reads, rotations and refreshes) to an SNS topic (`sns:TOPIC_ARN`) or a webhook (`https://…`); repeatable, added to $ENVGATE_ALERT.
    #[arg(long = "alert", value_name = "TARGET")]
    alerts: Vec<String>,
}

impl ValueArgs {
    /// These options given before the subcommand, with those after it added
    /// (env files in order) or winning.
    fn merged(self, after: ValueArgs) -> ValueArgs {
        let mut env_files = self.env_files;
        env_files.extend(after.env_files);
        ValueArgs {
            env_files,
            secrets_dir: after.secrets_dir.or(self.secrets_dir),
            environment: after.environment.or(self.environment),
            audit_log: after.audit_log.or(self.audit_log),
            force: self.force || after.force,
            audit_principal: self.audit_principal || after.audit_principal,
            alerts: [self.alerts, after.alerts].concat(),
        }
    }
}

/// Supervisor mode: stay as the program's parent instead of exec'ing it.
#[derive(Debug, Clone, Copy, Default, Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
struct SuperviseArgs {
    /// Stay as the program's parent (for containers without an init process): forward signals, reap exited child processes, exit with its status.
    #[arg(long, help_heading = "Supervisor mode")]
    init: bool,
    /// Re-read secrets every SECRETS_CACHE_TTL seconds; restart the program when a value changed (implies --init).
    #[arg(long, help_heading = "Supervisor mode")]
    watch: bool,
    /// Replace sensitive values in the program's output with [redacted:NAME] (implies --init).
    #[arg(long, help_heading = "Supervisor mode")]
    mask: bool,
    /// With --watch: the signal that stops the program for a restart [default: TERM].
    #[arg(long, value_name = "SIGNAL", value_parser = parse_signal, requires = "watch", help_heading = "Supervisor mode")]
    restart_signal: Option<Signal>,
    /// With --watch: rewrite `deliver = "file"` files and send SIGNAL instead of restarting.
    #[arg(long, value_name = "SIGNAL", value_parser = parse_signal, requires = "watch", help_heading = "Supervisor mode")]
    reload_signal: Option<Signal>,
    /// With --watch: seconds to wait after the restart signal before SIGKILL [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, requires = "watch", help_heading = "Supervisor mode")]
    stop_timeout: Option<f64>,
}

impl SuperviseArgs {
    /// These options given before `run`, with those after it added.
    fn merged(self, after: SuperviseArgs) -> SuperviseArgs {
        SuperviseArgs {
            init: self.init || after.init,
            watch: self.watch || after.watch,
            mask: self.mask || after.mask,
            restart_signal: after.restart_signal.or(self.restart_signal),
            reload_signal: after.reload_signal.or(self.reload_signal),
            stop_timeout: after.stop_timeout.or(self.stop_timeout),
        }
    }

    fn into_options(self) -> SuperviseOptions {
        let defaults = SuperviseOptions::default();
        SuperviseOptions {
            init: self.init,
            watch: self.watch,
            mask: self.mask,
            restart_signal: self.restart_signal.unwrap_or(defaults.restart_signal),
            reload_signal: self.reload_signal,
            stop_timeout: self
                .stop_timeout
                .map_or(defaults.stop_timeout, Duration::from_secs_f64),
        }
    }
}

/// Options of the commands that validate.
#[derive(Debug, Clone, Args)]
struct ReportArgs {
    /// Report format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,

    /// Print a table of every variable: source, status, value (sensitive ones masked).
    #[arg(long)]
    explain: bool,

    /// Treat warnings (deprecated variables, …) as errors.
    #[arg(long)]
    strict: bool,

    /// How to read AWS Secrets Manager: batches with a fallback (auto), batches only, one call per secret (single), or through the Secrets Manager Agent on this host (agent).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = FetchMode::Auto)]
    fetch: FetchMode,

    /// Total deadline for reading Secrets Manager and Parameter Store, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECONDS, value_parser = parse_timeout)]
    timeout: f64,
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 3600.0 => Ok(seconds),
        _ => Err("expected a number of seconds between 0 and 3600".to_owned()),
    }
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Validate only and report; exit 0 when valid, 78 when not.
    Check {
        #[command(flatten)]
        values: ValueArgs,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Validate, then exec CMD with the resolved environment.
    Run {
        #[command(flatten)]
        values: ValueArgs,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        supervise: SuperviseArgs,
        /// The program to launch and its arguments.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// Render documentation from the schema.
    Docs(DocsArgs),
    /// Rotate secrets: make a new value, set it, test it, then make it current (resumable if interrupted).
    Rotate(RotateArgs),
    /// Print the JSON Schema of the schema format.
    Schema {
        /// Print the JSON Schema (draft 2020-12) for editor completion.
        #[arg(long)]
        json_schema: bool,
    },
    /// Draft a schema from an existing .env / .env.example (or the environment's names).
    Init {
        /// The .env file to read [default: the current environment's names].
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// Python code to read the names from, as `envgate scan` finds them (with --from, both).
        #[arg(long, value_name = "PATH")]
        from_code: Option<PathBuf>,
        /// Where to write the draft [default: ./env.schema.toml].
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite an existing schema.
        #[arg(long)]
        force: bool,
        /// Non-sensitive variables read Parameter Store (`parameter = "config/NAME"`)
        /// instead of a `config` secret.
        #[arg(long)]
        parameters: bool,
    },
    /// Put every schema variable that has a `secret` into Secrets Manager, or with `--to parameter-store` every one with a `parameter` into Parameter Store (from a .env file and the environment).
    Import(ImportArgs),
    /// Check the Python code against the schema: variables read but not declared, declared but not read, defaults that disagree.
    Scan {
        /// Files or directories to scan [default: .].
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<Format>,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// Generate a typed module from the schema (Python: standard library only, converts as envgate validates).
    Codegen {
        /// The language.
        #[arg(value_enum)]
        language: CodegenLanguage,
        /// Write to FILE (atomically) instead of stdout.
        #[arg(long, value_name = "FILE", conflicts_with = "check")]
        output: Option<PathBuf>,
        /// Compare FILE with what would be generated; exit 1 with a diff when stale.
        #[arg(long, value_name = "FILE")]
        check: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `envgate manpage > envgate.1`, then `man ./envgate.1`).
    Manpage,
}

/// Options of `envgate rotate`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(true).args(["kind", "name", "all", "due"])))]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
pub struct RotateArgs {
    #[command(flatten)]
    values: ValueArgs,
    /// What kind of secret.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    kind: Option<RotateType>,
    /// The secret's short name (`primary` for database/primary, `resend` for api-keys/resend).
    #[arg(long)]
    name: Option<String>,
    /// Every rotatable secret of the schema.
    #[arg(long, conflicts_with_all = ["kind", "name"])]
    all: bool,
    /// List what would rotate and why (age against `rotate.every`); write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output format: lines for people (human), or one JSON object (json).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Rotate only what is due (older than its `rotate.every`): for a scheduled job.
    #[arg(long, conflicts_with_all = ["rollback", "value_from_stdin"])]
    due: bool,
    /// api-key: make the previous key current again.
    #[arg(long)]
    rollback: bool,
    /// api-key: read the new value from standard input (a key issued by the service).
    #[arg(long, conflicts_with = "rollback")]
    value_from_stdin: bool,
    /// Deadline per secret, in seconds (a rotation that misses it stops where it is; the next run finishes it).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_timeout)]
    timeout: f64,
}

impl RotateArgs {
    /// The value options given after `rotate`, and the request; `format` is the
    /// `--format` given before the subcommand, if any.
    fn into_request(self, format: Option<Format>) -> (ValueArgs, RotateRequest) {
        let request = RotateRequest {
            kind: self.kind,
            name: self.name,
            all: self.all,
            dry_run: self.dry_run,
            due: self.due,
            json: self.format.or(format) == Some(Format::Json),
            rollback: self.rollback,
            value_from_stdin: self.value_from_stdin,
        };
        (self.values, request)
    }
}

/// Options of `envgate import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    values: ValueArgs,
    /// The .env file holding the values (the process environment wins over it).
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// Say what would be created or updated; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Replace keys that already exist with a different value.
    #[arg(long)]
    overwrite: bool,
    /// The KMS key new secrets (or SecureString parameters) are encrypted with.
    #[arg(long, value_name = "ID")]
    kms_key_id: Option<String>,
    /// Where the values go: variables with `secret` to Secrets Manager, or
    /// variables with `parameter` to Parameter Store.
    #[arg(long, value_enum, default_value_t = crate::import::Store::SecretsManager)]
    to: crate::import::Store,
    /// Total deadline in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_timeout)]
    timeout: f64,
}

impl ImportArgs {
    /// The value options given after `import` (with `--from` as the last env
    /// file), and the request.
    fn into_request(self) -> (ValueArgs, crate::import::ImportRequest) {
        let mut values = self.values;
        values.env_files.extend(self.from.clone());
        let request = crate::import::ImportRequest {
            from: self.from,
            dry_run: self.dry_run,
            overwrite: self.overwrite,
            kms_key_id: self.kms_key_id,
            to: self.to,
        };
        (values, request)
    }
}

/// Options of `envgate docs`.
#[derive(Debug, Clone, Default, Args)]
pub struct DocsArgs {
    /// Output kind.
    #[arg(long, value_enum, default_value_t = DocsFormat::Markdown)]
    pub format: DocsFormat,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub output: Option<PathBuf>,
    /// Compare FILE with what would be generated; exit 1 with a diff when stale.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}

/// What `envgate codegen` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CodegenLanguage {
    /// A typed Python module (`from config.env import env`).
    Python,
}

/// What `envgate docs` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DocsFormat {
    /// `ENVIRONMENT_VARIABLES.md`.
    #[default]
    Markdown,
    /// A commented `.env.example`.
    Dotenv,
}

/// Options that shape validation and reporting.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `--schema`, when given.
    pub schema: Option<PathBuf>,
    /// `--env-file`s, in order.
    pub env_files: Vec<PathBuf>,
    /// `--secrets-dir`, when given.
    pub secrets_dir: Option<PathBuf>,
    /// `--environment`, when given.
    pub environment: Option<String>,
    /// `--format`, when given.
    pub format: Option<Format>,
    /// `--explain`.
    pub explain: bool,
    /// `--strict`.
    pub strict: bool,
    /// `--fetch`.
    pub fetch: FetchMode,
    /// `--timeout`.
    pub timeout: Duration,
    /// The audit options.
    pub audit: AuditOptions,
    /// `--init`, `--watch`, `--mask` and their settings.
    pub supervise: SuperviseOptions,
}

/// `--audit-log`, `--force`, `--audit-principal`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditOptions {
    /// `--audit-log`, when given.
    pub log: Option<String>,
    /// `--force`: allow `--audit-log off` in production.
    pub force: bool,
    /// `--audit-principal`.
    pub principal: bool,
    /// `--alert` targets, as given.
    pub alerts: Vec<String>,
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Validate and report.
    Check,
    /// Validate, then exec this command.
    Launch(Vec<OsString>),
    /// Render docs.
    Docs {
        /// Markdown or dotenv.
        format: DocsFormat,
        /// Where to write, if not stdout.
        output: Option<PathBuf>,
        /// A file to compare instead of writing.
        check: Option<PathBuf>,
    },
    /// Print the JSON Schema of the schema format.
    JsonSchema,
    /// Check the code against the schema.
    Scan(crate::scan::ScanRequest),
    /// Generate a typed module.
    Codegen {
        /// Where to write, if not stdout.
        output: Option<PathBuf>,
        /// A file to compare instead of writing.
        check: Option<PathBuf>,
    },
    /// Put values into Secrets Manager.
    Import(crate::import::ImportRequest),
    /// Draft a schema.
    Init {
        /// The .env file, or `None` for the environment's names.
        from: Option<PathBuf>,
        /// `--from-code`.
        from_code: Option<PathBuf>,
        /// Where to write (`None`: `ENVGATE_SCHEMA`, else the default schema path).
        output: Option<PathBuf>,
        /// Overwrite an existing file.
        force: bool,
        /// `--parameters`.
        parameters: bool,
    },
    /// Print a shell completion script.
    Completions(clap_complete::Shell),
    /// Print the manual page.
    Manpage,
    /// Rotate secrets.
    Rotate(RotateRequest),
}

impl Action {
    /// `envgate init`, writing to `output` (`None`: where the schema is read from).
    fn init(
        from: Option<PathBuf>,
        from_code: Option<PathBuf>,
        output: Option<PathBuf>,
        force: bool,
        parameters: bool,
    ) -> Self {
        Self::Init {
            from,
            from_code,
            output,
            force,
            parameters,
        }
    }
}

/// The action of the flag forms: `--check`, `--docs [--output F]`, `-- CMD…`.
fn flag_action(
    check: bool,
    docs: bool,
    output: Option<PathBuf>,
    command: Vec<OsString>,
) -> Result<Action, Error> {
    match (check, docs, command.is_empty()) {
        (true, _, false) => Err(Error::Usage(
            "--check validates only; drop it to launch a command".to_owned(),
        )),
        (true, _, true) => Ok(Action::Check),
        (false, true, false) => Err(Error::Usage(
            "--docs renders documentation; drop it to launch a command".to_owned(),
        )),
        (false, true, true) => Ok(Action::Docs {
            format: DocsFormat::Markdown,
            output,
            check: None,
        }),
        (false, false, false) => Ok(Action::Launch(command)),
        (false, false, true) => Err(Error::Usage(
            "nothing to do: give `-- CMD ARGS…` to launch, --check to validate, or --docs"
                .to_owned(),
        )),
    }
}

/// The completion script for `shell`.
#[must_use]
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "envgate", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The manual page, in roff.
#[must_use]
pub fn manpage() -> String {
    let command = <Cli as clap::CommandFactory>::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    // Rendering into memory cannot fail. The commands are listed here, not as
    // `envgate-check(1)` pages: there is one page.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut page = String::from_utf8_lossy(&out).into_owned();
    page.push_str(".SH COMMANDS\n");
    for sub in command
        .get_subcommands()
        .filter(|sub| sub.get_name() != "help")
    {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        let _ = write!(
            page,
            ".TP\n\\fBenvgate {}\\fR\n{}\n",
            sub.get_name(),
            roff_text(&about)
        );
    }
    page.push_str(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in crate::error::exit::MEANINGS {
        let _ = write!(page, ".TP\n\\fB{code}\\fR\n{}\n", roff_text(meaning));
    }
    page.push_str(".SH ENVIRONMENT\n");
    for (name, meaning) in crate::settings::SETTING_HELP {
        let _ = write!(page, ".TP\n\\fB{name}\\fR\n{}\n", roff_text(meaning));
    }
    let mut out = Vec::new();
    let _ = man.render_version_section(&mut out);
    page.push_str(&String::from_utf8_lossy(&out));
    page
}

/// A hint after clap's own error for a mistake people make: `envgate init -- CMD`
/// (the `init` command drafts a schema) where `envgate --init -- CMD` (run CMD
/// under envgate as its parent) was meant.
fn hint_for(kind: clap::error::ErrorKind, args: &[OsString]) -> Option<String> {
    let unexpected = matches!(
        kind,
        clap::error::ErrorKind::UnknownArgument | clap::error::ErrorKind::ArgumentConflict
    );
    let init_then_program =
        args.first().is_some_and(|first| first == "init") && args.iter().any(|arg| arg == "--");
    (unexpected && init_then_program).then(|| {
        let program: Vec<String> = args
            .iter()
            .skip_while(|arg| *arg != "--")
            .skip(1)
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        format!(
            "\nDid you mean `envgate --init -- {}`? `envgate init` drafts a schema; `--init` runs the program with envgate as its parent.\n",
            program.join(" ")
        )
    })
}

/// Text for a roff paragraph: backslashes and hyphens escaped, no line that
/// starts like a request.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

impl Cli {
    /// Parses the process's command line; prints help, the version or a usage
    /// error and exits as clap does.
    #[must_use]
    pub fn parse_args() -> Self {
        match <Self as clap::Parser>::try_parse() {
            Ok(cli) => cli,
            Err(error) => {
                let args: Vec<OsString> = std::env::args_os().skip(1).collect();
                if let Some(hint) = hint_for(error.kind(), &args) {
                    let _ = error.print();
                    crate::fsio::eprint(&hint);
                    std::process::exit(i32::from(crate::error::exit::USAGE));
                }
                error.exit()
            }
        }
    }

    /// The schema file named with `--schema`, when given.
    #[must_use]
    pub fn schema(&self) -> Option<&std::path::Path> {
        self.top.common.schema.as_deref()
    }

    /// Converts the parsed command line into options and an action.
    ///
    /// # Errors
    /// [`Error::Usage`] when no action was asked for.
    pub fn into_action(self) -> Result<(Options, Action), Error> {
        let Cli {
            top:
                TopArgs {
                    common,
                    mut values,
                    report,
                    check,
                    docs,
                    output,
                    mut supervise,
                    command,
                },
            subcommand,
        } = self;
        let (report, action) = match subcommand {
            Some(Sub::Check {
                values: after,
                report,
            }) => {
                values = values.merged(after);
                (report, Action::Check)
            }
            Some(Sub::Run {
                values: after,
                report,
                supervise: supervise_after,
                command,
            }) => {
                values = values.merged(after);
                supervise = supervise.merged(supervise_after);
                (report, Action::Launch(command))
            }
            Some(Sub::Scan {
                paths,
                format,
                strict,
            }) => {
                let mut report = report;
                report.format = format.or(report.format);
                (
                    report,
                    Action::Scan(crate::scan::ScanRequest { paths, strict }),
                )
            }
            Some(Sub::Codegen {
                language: CodegenLanguage::Python,
                output,
                check,
            }) => (report, Action::Codegen { output, check }),
            Some(Sub::Docs(args)) => (
                report,
                Action::Docs {
                    format: args.format,
                    output: args.output,
                    check: args.check,
                },
            ),
            Some(Sub::Rotate(args)) => {
                let mut report = report;
                report.timeout = args.timeout;
                let (after, request) = args.into_request(report.format);
                values = values.merged(after);
                (report, Action::Rotate(request))
            }
            Some(Sub::Schema { json_schema: true }) => (report, Action::JsonSchema),
            Some(Sub::Completions { shell }) => (report, Action::Completions(shell)),
            Some(Sub::Import(args)) => {
                let mut report = report;
                report.timeout = args.timeout;
                let (after, request) = args.into_request();
                values = values.merged(after);
                (report, Action::Import(request))
            }
            Some(Sub::Init {
                from,
                from_code,
                output,
                force,
                parameters,
            }) => {
                // The draft goes where the schema would be read from.
                let output = output.or_else(|| common.schema.clone());
                (
                    report,
                    Action::init(from, from_code, output, force, parameters),
                )
            }
            Some(Sub::Manpage) => (report, Action::Manpage),
            Some(Sub::Schema { json_schema: false }) => {
                return Err(Error::Usage(
                    "`envgate schema` needs --json-schema".to_owned(),
                ));
            }
            None => (report, flag_action(check, docs, output, command)?),
        };
        let options = options(common, values, &report, supervise, &action)?;
        Ok((options, action))
    }
}

/// The options of a parsed command line, checked against its action.
fn options(
    common: CommonArgs,
    values: ValueArgs,
    report: &ReportArgs,
    supervise: SuperviseArgs,
    action: &Action,
) -> Result<Options, Error> {
    let supervise = supervise.into_options();
    if supervise.enabled() && !matches!(action, Action::Launch(_)) {
        return Err(Error::Usage(
            "--init, --watch and --mask supervise a launched program: give `-- CMD ARGS…`"
                .to_owned(),
        ));
    }
    Ok(Options {
        schema: common.schema,
        env_files: values.env_files,
        secrets_dir: values.secrets_dir,
        environment: values.environment,
        format: report.format,
        explain: report.explain,
        strict: report.strict,
        fetch: report.fetch,
        timeout: Duration::from_secs_f64(report.timeout),
        audit: AuditOptions {
            log: values.audit_log,
            force: values.force,
            principal: values.audit_principal,
            alerts: values.alerts,
        },
        supervise,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<(Options, Action), Error> {
        Cli::try_parse_from(args)
            .map_err(|e| Error::Usage(e.to_string()))?
            .into_action()
    }

    #[test]
    fn verify_app() {
        Cli::command().debug_assert();
    }

    #[test]
    fn short_forms_and_subcommands_agree() {
        let (options, action) = parse(&["envgate", "-s", "x.toml", "--check"]).unwrap();
        assert_eq!(action, Action::Check);
        assert_eq!(options.schema, Some("x.toml".into()));
        let (options, action) =
            parse(&["envgate", "--schema", "x.toml", "check", "--format", "json"]).unwrap();
        assert_eq!(action, Action::Check);
        assert_eq!(options.format, Some(Format::Json));
        let (_, action) = parse(&["envgate", "--", "gunicorn", "--bind", ":8000"]).unwrap();
        assert_eq!(
            action,
            Action::Launch(vec!["gunicorn".into(), "--bind".into(), ":8000".into()])
        );
        let (options, action) =
            parse(&["envgate", "run", "--env-file", "a.env", "--", "env"]).unwrap();
        assert_eq!(action, Action::Launch(vec!["env".into()]));
        assert_eq!(options.env_files, vec![PathBuf::from("a.env")]);
        let (_, action) = parse(&["envgate", "--docs", "--output", "d.md"]).unwrap();
        assert!(matches!(
            action,
            Action::Docs {
                output: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn nothing_to_do_is_a_usage_error() {
        assert!(matches!(parse(&["envgate"]), Err(Error::Usage(_))));
        assert!(matches!(
            parse(&["envgate", "--check", "--", "env"]),
            Err(Error::Usage(_))
        ));
    }
}
