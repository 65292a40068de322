//! envgate: a startup-time configuration gate and process launcher.
//!
//! The pipeline: `schema` (load, spans kept) → `resolve` (sources, in precedence)
//! → `validate` (every rule, every variable) → `report` (check) or `launch` (exec).
//! `docs` renders the same schema as Markdown, `.env.example` or JSON Schema.
//! [`run`] wires the stages together and is the only function that prints.

pub mod audit;
pub mod cli;
pub mod docs;
pub mod duration;
pub mod error;
pub mod launch;
pub mod problem;
pub mod report;
pub mod resolve;
pub mod rotate;
pub mod schema;
pub mod secrets;
pub mod settings;
pub mod validate;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use audit::{Audit, AuditEvent};
use cli::{Action, Cli, Options};
use error::{Error, exit};
use problem::{Code, Problem};
use report::{Format, Report};
use resolve::{EnvFile, EnvSnapshot, Resolution};
use schema::Schema;
use secrets::SecretsOptions;
use settings::Settings;

/// The schema read when neither `--schema` nor `ENVGATE_SCHEMA` is given.
pub const DEFAULT_SCHEMA: &str = "env.schema.toml";

/// Process-wide protections, set before anything is read: envgate is marked
/// non-dumpable (no core dump, no ptrace attach by other processes of the same
/// user while it holds secrets; exec resets this for the program), and a panic
/// prints where it happened but never its message, which could quote a value.
pub fn harden() {
    let _ = nix::sys::prctl::set_dumpable(false);
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|location| format!(" at {}:{}", location.file(), location.line()))
            .unwrap_or_default();
        eprintln!(
            "envgate: internal error{place}. Nothing was launched. The panic message is not shown because it could contain a configuration value; please report this location."
        );
    }));
}

/// Runs envgate for a parsed command line and an environment; returns the exit code.
#[must_use]
pub fn run(cli: Cli, env: EnvSnapshot) -> u8 {
    let (options, action) = match cli.into_action() {
        Ok(parsed) => parsed,
        Err(error) => return fail(&error, None, Stream::Stderr),
    };
    let stream = match action {
        Action::Launch(_) => Stream::Stderr,
        _ => Stream::Stdout,
    };
    match execute(&options, action, env) {
        Ok(code) => code,
        Err(error) => fail(&error, options.format, stream),
    }
}

/// Where a report goes: `check` reports to stdout; a launch keeps stdout for the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn is_terminal(self) -> bool {
        match self {
            Self::Stdout => std::io::stdout().is_terminal(),
            Self::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn write(self, text: &str) {
        // A closed pipe must not turn a report into a panic.
        let _ = match self {
            Self::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            Self::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    }
}

fn execute(options: &Options, action: Action, mut env: EnvSnapshot) -> Result<u8, Error> {
    if action == Action::JsonSchema {
        Stream::Stdout.write(&docs::json_schema());
        return Ok(exit::OK);
    }
    let settings = Settings::from_env(&env)?;
    let environment = options
        .environment
        .clone()
        .unwrap_or_else(|| settings.environment.clone());
    if options.environment.is_some() {
        // The program must see the environment envgate validated for.
        env.set("ENVIRONMENT".into(), environment.clone().into());
    }
    let schema_path = schema_path(options, &settings);
    let schema = schema::from_path(&schema_path)?;
    match action {
        Action::Docs {
            format,
            output,
            check,
        } => docs::run(&schema, format, output.as_deref(), check.as_deref()),
        Action::Check => {
            let audit = open_audit(options, &settings, &environment, &env)?;
            let (code, _) = validate_and_report(
                options,
                &settings,
                &schema,
                &environment,
                &env,
                Stream::Stdout,
                &audit,
            )?;
            audit.healthy()?;
            Ok(code)
        }
        Action::Launch(command) => {
            let audit = open_audit(options, &settings, &environment, &env)?;
            launch(
                options,
                &settings,
                &schema,
                &environment,
                &env,
                &command,
                &audit,
            )
        }
        Action::Rotate(request) => {
            let audit = open_audit(options, &settings, &environment, &env)?;
            let secrets_options = SecretsOptions {
                use_secrets_manager: true,
                mode: options.fetch,
                timeout: options.timeout,
                region: settings.aws_region.clone(),
            };
            rotate::run(
                &schema,
                &environment,
                &secrets_options,
                &env,
                &request,
                &audit,
            )
        }
        Action::JsonSchema => unreachable!("handled above"),
    }
}

fn schema_path(options: &Options, settings: &Settings) -> PathBuf {
    options
        .schema
        .clone()
        .or_else(|| settings.envgate_schema.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SCHEMA))
}

/// The audit destination: `--audit-log`, else `ENVGATE_AUDIT_LOG`, else stderr.
/// Turning it off in production needs `--force`.
fn open_audit(
    options: &Options,
    settings: &Settings,
    environment: &str,
    env: &EnvSnapshot,
) -> Result<Audit, Error> {
    let destination = options
        .audit
        .log
        .as_deref()
        .or(settings.envgate_audit_log.as_deref())
        .map_or(audit::Destination::Stderr, audit::Destination::parse);
    if destination == audit::Destination::Off && environment == "production" && !options.audit.force
    {
        return Err(Error::Usage(
            "the audit log cannot be turned off in production: every secret access must leave a trace. Pass --force to do it anyway.".to_owned(),
        ));
    }
    let mut audit = Audit::open(destination, environment)?;
    if options.audit.principal && audit.enabled() {
        let lookup = SecretsOptions {
            use_secrets_manager: true,
            mode: options.fetch,
            timeout: options.timeout,
            region: settings.aws_region.clone(),
        };
        // The identity is context, not a gate: an unknown caller is written as such.
        let principal = secrets::caller_identity(&lookup, env)
            .unwrap_or_else(|error| format!("unknown ({})", error.aws_code()));
        audit.set_principal(principal);
    }
    Ok(audit)
}

#[allow(clippy::too_many_arguments)]
fn launch(
    options: &Options,
    settings: &Settings,
    schema: &Schema,
    environment: &str,
    env: &EnvSnapshot,
    command: &[OsString],
    audit: &Audit,
) -> Result<u8, Error> {
    let (code, resolution) = validate_and_report(
        options,
        settings,
        schema,
        environment,
        env,
        Stream::Stderr,
        audit,
    )?;
    let Some(resolution) = resolution.filter(|_| code == exit::OK) else {
        audit.healthy()?;
        return Ok(code);
    };
    let mut files = None;
    let child_env = launch::child_environment(env, schema, &resolution, &mut files)?;
    drop(resolution);
    audit.emit(&AuditEvent {
        event: "process.exec",
        severity: "info",
        program: command
            .first()
            .map(|program| program.to_string_lossy().into_owned()),
        outcome: Some("success"),
        ..AuditEvent::default()
    });
    // No launch without the audit line.
    audit.healthy()?;
    Err(launch::exec(command, child_env))
}

/// Resolves and validates, prints the report, and returns the exit code and, when
/// the configuration is valid, the resolution.
fn validate_and_report(
    options: &Options,
    settings: &Settings,
    schema: &Schema,
    environment: &str,
    env: &EnvSnapshot,
    stream: Stream,
    audit: &Audit,
) -> Result<(u8, Option<Resolution>), Error> {
    let format = options.format.unwrap_or_default();
    let color = format == Format::Human && stream.is_terminal() && env.get("NO_COLOR").is_none();
    let consequence = (stream == Stream::Stderr).then_some("nothing was launched");
    if !schema.has_environment(environment) {
        let problems = [unknown_environment(schema, environment)];
        let report = Report {
            source: &schema.source,
            environment: None,
            var_count: schema.vars.len(),
            problems: &problems,
            consequence,
        };
        stream.write(&report::render(&report, format, color));
        return Ok((exit::CONFIG_INVALID, None));
    }
    let env_files = load_env_files(&options.env_files)?;
    let mut resolution = resolve::resolve(schema, environment, env, &env_files);
    let secrets_options = SecretsOptions {
        use_secrets_manager: settings.use_secrets_manager,
        mode: options.fetch,
        timeout: options.timeout,
        region: settings.aws_region.clone(),
    };
    let secrets =
        secrets::resolve_secrets(schema, environment, &secrets_options, env, &mut resolution);
    record_secret_access(audit, &secrets);
    let problems = collect_problems(
        options,
        settings,
        schema,
        environment,
        &resolution,
        secrets.problems,
    );
    let report = Report {
        source: &schema.source,
        environment: Some(environment),
        var_count: schema.vars.len(),
        problems: &problems,
        consequence,
    };
    if options.explain {
        stream.write(&report::explain_table(
            schema,
            environment,
            &resolution,
            &problems,
        ));
    }
    // A valid launch stays quiet unless there is something to say.
    if stream == Stream::Stdout || !problems.is_empty() {
        stream.write(&report::render(&report, format, color));
    }
    record_configuration(audit, &problems, report.ok());
    if report.ok() {
        Ok((exit::OK, Some(resolution)))
    } else {
        Ok((failure_exit_code(&problems), None))
    }
}

/// One audit event per secret read, failed or refused.
fn record_secret_access(audit: &Audit, secrets: &secrets::SecretsReport) {
    for read in &secrets.read {
        audit.emit(&AuditEvent {
            event: "secret.read",
            severity: "info",
            secret_id: Some(read.secret_id.clone()),
            version_id: read.version_id.clone(),
            stage: read.stage.clone(),
            vars: read.vars.clone(),
            outcome: Some("success"),
            ..AuditEvent::default()
        });
    }
    for failure in &secrets.failed {
        let denied = matches!(failure.code, Code::AccessDenied | Code::CrossEnvironment);
        audit.emit(&AuditEvent {
            event: if denied {
                "secret.access_denied"
            } else {
                "secret.read_failed"
            },
            severity: if denied { "critical" } else { "error" },
            secret_id: Some(failure.secret_id.clone()),
            vars: vec![failure.var.clone()],
            outcome: Some(if failure.code == Code::CrossEnvironment {
                "refused"
            } else if denied {
                "denied"
            } else {
                "failure"
            }),
            error_code: Some(
                failure
                    .aws_code
                    .clone()
                    .unwrap_or_else(|| failure.code.as_str().to_owned()),
            ),
            alert: denied.then_some("critical"),
            ..AuditEvent::default()
        });
    }
}

/// `config.valid` or `config.invalid` (names and codes only), and
/// `config.validation_skipped` when `SKIP_CONFIG_VALIDATION` is on.
fn record_configuration(audit: &Audit, problems: &[Problem], ok: bool) {
    if problems
        .iter()
        .any(|problem| problem.code == Code::ValidationSkipped)
    {
        audit.emit(&AuditEvent {
            event: "config.validation_skipped",
            severity: "warning",
            ..AuditEvent::default()
        });
    }
    let errors: Vec<&Problem> = problems
        .iter()
        .filter(|problem| problem.is_error())
        .collect();
    let mut vars: Vec<String> = errors
        .iter()
        .filter_map(|problem| problem.var.clone())
        .collect();
    vars.dedup();
    audit.emit(&AuditEvent {
        event: if ok { "config.valid" } else { "config.invalid" },
        severity: if ok { "info" } else { "error" },
        vars,
        codes: errors
            .iter()
            .map(|problem| problem.code.as_str().to_owned())
            .collect(),
        outcome: Some(if ok { "success" } else { "failure" }),
        ..AuditEvent::default()
    });
}

/// The exit code of a run whose problems include errors: access denied (77) over
/// an unavailable secret store (69) over invalid configuration (78).
fn failure_exit_code(problems: &[Problem]) -> u8 {
    let has = |codes: &[Code]| {
        problems
            .iter()
            .any(|p| p.is_error() && codes.contains(&p.code))
    };
    if has(&[Code::AccessDenied, Code::CrossEnvironment]) {
        exit::ACCESS_DENIED
    } else if has(&[Code::StoreUnavailable, Code::Throttled]) {
        exit::UNAVAILABLE
    } else {
        exit::CONFIG_INVALID
    }
}

fn collect_problems(
    options: &Options,
    settings: &Settings,
    schema: &Schema,
    environment: &str,
    resolution: &Resolution,
    secret_problems: Vec<Problem>,
) -> Vec<Problem> {
    let mode = if settings.skip_config_validation {
        validate::Mode::Skip
    } else {
        validate::Mode::Enforce
    };
    let mut problems = resolution.problems.clone();
    problems.extend(secret_problems);
    problems.extend(validate::validate(schema, environment, resolution, mode));
    if mode == validate::Mode::Skip {
        problems.insert(
            0,
            Problem::warning(
                Code::ValidationSkipped,
                "SKIP_CONFIG_VALIDATION is on: rule violations are reported as warnings and do not stop the launch",
            )
            .help("Unset SKIP_CONFIG_VALIDATION as soon as possible. Missing required values still stop the launch."),
        );
    }
    if options.strict {
        for problem in &mut problems {
            if problem.code != Code::ValidationSkipped {
                problem.severity = problem::Severity::Error;
            }
        }
    }
    problems
}

fn unknown_environment(schema: &Schema, environment: &str) -> Problem {
    let known = schema.environments.iter().map(String::as_str);
    let mut problem = Problem::error(
        Code::UnknownEnvironment,
        format!("unknown environment `{environment}`"),
    )
    .help(format!(
        "Set ENVIRONMENT (or --environment) to one of: {}.",
        schema.environments.join(", ")
    ));
    if let Some(best) = schema::suggest(environment, known) {
        problem = problem.help(format!("Did you mean `{best}`?"));
    }
    problem
}

fn load_env_files(paths: &[PathBuf]) -> Result<Vec<EnvFile>, Error> {
    paths.iter().map(|path| EnvFile::load(path)).collect()
}

/// Prints a failure in the requested format and returns its exit code.
fn fail(error: &Error, format: Option<Format>, stream: Stream) -> u8 {
    let format = format.unwrap_or_default();
    if let Error::SchemaInvalid(schema_errors) = error {
        let report = Report {
            source: &schema_errors.source,
            environment: None,
            var_count: 0,
            problems: &schema_errors.problems,
            consequence: None,
        };
        let color = format == Format::Human
            && stream.is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        stream.write(&report::render(&report, format, color));
        return error.exit_code();
    }
    // Machine-readable failures go where the report would have gone; a person's
    // failure message goes to stderr.
    let (text, stream) = match format {
        Format::Json => (failure_json(error), stream),
        Format::Human | Format::Github => {
            let handler = miette::GraphicalReportHandler::new_themed(
                miette::GraphicalTheme::unicode_nocolor(),
            )
            .with_width(100);
            let mut out = String::new();
            let _ = handler.render_report(&mut out, error);
            (out, Stream::Stderr)
        }
    };
    stream.write(&text);
    error.exit_code()
}

fn failure_json(error: &Error) -> String {
    use miette::Diagnostic;
    let code = error.code().map(|code| code.to_string());
    let help = error.help().map(|help| help.to_string());
    let json = serde_json::json!({
        "ok": false,
        "problems": [{
            "code": code,
            "severity": "error",
            "message": error.to_string(),
            "help": help,
        }],
    });
    format!("{json:#}\n")
}

/// Writes `contents` to `path` atomically (a temporary file in the same directory, then rename).
///
/// # Errors
/// [`Error::Output`] (exit 73) when the file cannot be written.
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), Error> {
    let output_error = |source| Error::Output {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        output_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path",
        ))
    })?;
    let temp = dir.join(format!(
        ".{}.envgate-tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::write(&temp, contents).and_then(|()| std::fs::rename(&temp, path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(output_error(source));
    }
    Ok(())
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
