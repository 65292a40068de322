//! The run: one command line and one environment in, one exit code out.
//!
//! Wiring only: each stage (settings, schema, resolve, secrets, validate, report,
//! launch) lives in its own module; this one decides the order, where reports go,
//! and what is audited when.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::audit::{self, Audit, AuditEvent};
use crate::cli::{Action, Cli, Options};
use crate::error::{Error, exit, problems_exit_code};
use crate::fsio;
use crate::launch;
use crate::problem::{Code, Problem, Severity};
use crate::report::{self, Format, Report};
use crate::resolve::{self, EnvFile, EnvSnapshot, Resolution};
use crate::schema::{self, Schema};
use crate::secrets::{self, SecretsOptions};
use crate::settings::Settings;
use crate::signals;
use crate::supervise;
use crate::validate;

/// The schema read when neither `--schema` nor `ENVGATE_SCHEMA` is given.
pub const DEFAULT_SCHEMA: &str = "env.schema.toml";

/// Runs envgate for a parsed command line and an environment; returns the exit code.
///
/// Meant to be the whole of a process: a check leaves its schema and its copy of
/// the environment to the process exit rather than freeing them.
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
        match self {
            Self::Stdout => fsio::print(text),
            Self::Stderr => fsio::eprint(text),
        }
    }
}

/// Where and how a report is written.
struct Says {
    stream: Stream,
    format: Format,
    color: bool,
    /// What happens on failure, for the summary line.
    consequence: Option<&'static str>,
}

impl Says {
    /// Writes the report of `problems` (nothing else to show).
    fn problems(&self, schema: &Schema, environment: Option<&str>, problems: &[Problem]) {
        let report = Report {
            source: &schema.source,
            environment,
            var_count: schema.vars.len(),
            problems,
            consequence: self.consequence,
            explain: None,
        };
        self.stream
            .write(&report::render(&report, self.format, self.color));
    }
}

/// What every stage of one run reads: the options, envgate's settings, the
/// environment validated, the process environment and the env files.
struct Context<'a> {
    options: &'a Options,
    settings: Settings,
    environment: String,
    env: EnvSnapshot,
    env_files: Vec<EnvFile>,
    /// Warnings met while reading the env files (names that expanded to nothing).
    env_file_warnings: Vec<Problem>,
}

impl Context<'_> {
    fn secrets_options(&self, use_secrets_manager: bool) -> SecretsOptions {
        SecretsOptions {
            use_secrets_manager,
            use_parameter_store: self.settings.use_parameter_store,
            mode: self.options.fetch,
            timeout: self.options.timeout,
            region: self.settings.aws_region.clone(),
        }
    }

    /// Every local source, the `--secrets-dir` mount listed now (again on each
    /// `--watch` refresh, so a mount that changes in place is seen).
    fn resolve_local(&self, schema: &Schema) -> Resolution {
        let mount = self
            .options
            .secrets_dir
            .as_deref()
            .map(resolve::SecretsMount::scan);
        let (mount, failure) = match mount {
            Some(Ok(mount)) => (Some(mount), None),
            Some(Err(error)) => (None, Some(error)),
            None => (None, None),
        };
        let mut resolution = resolve::resolve_with_mount(
            schema,
            &self.environment,
            &self.env,
            mount.as_ref(),
            &self.env_files,
        );
        if let Some(error) = failure {
            // Listed at the start (exit 66); gone since: the refresh reports it.
            resolution.problems.push(
                Problem::error(Code::FileUnreadable, error.to_string())
                    .help("Check that the --secrets-dir mount is still there."),
            );
        }
        resolution
    }

    fn schema_path(&self) -> PathBuf {
        self.options
            .schema
            .clone()
            .or_else(|| self.settings.envgate_schema.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SCHEMA))
    }
}

fn execute(options: &Options, action: Action, mut env: EnvSnapshot) -> Result<u8, Error> {
    // What needs no schema, no settings and no environment.
    match action {
        Action::JsonSchema => {
            Stream::Stdout.write(&crate::docs::json_schema());
            return Ok(exit::OK);
        }
        Action::Completions(shell) => {
            Stream::Stdout.write(&crate::cli::completions(shell));
            return Ok(exit::OK);
        }
        Action::Manpage => {
            Stream::Stdout.write(&crate::cli::manpage());
            return Ok(exit::OK);
        }
        Action::Init {
            from,
            from_code,
            output,
            force,
            parameters,
        } => {
            let sources = crate::init::Sources {
                file: from.as_deref(),
                code: from_code.as_deref(),
            };
            return init(&env, &sources, output, force, parameters);
        }
        _ => {}
    }
    let (env_files, env_file_warnings) = resolve::load_env_files(&options.env_files, &env)?;
    // Settings resolve like variables: the environment, then the env files.
    let settings = Settings::resolve(&env, &env_files)?;
    let environment = options
        .environment
        .clone()
        .unwrap_or_else(|| settings.environment.clone());
    if let Some(chosen) = &options.environment {
        // `--environment` wins over every source, for the variable too.
        env.set("ENVIRONMENT".into(), chosen.into());
    }
    let context = Context {
        options,
        settings,
        environment,
        env,
        env_files,
        env_file_warnings,
    };
    let schema_path = context.schema_path();
    let schema = schema::from_path(&schema_path)?;
    if let Some(dir) = &options.secrets_dir {
        // A mount that cannot be listed stops the run before anything is read.
        resolve::SecretsMount::scan(dir)?;
    }
    match action {
        Action::Docs {
            format,
            output,
            check,
        } => crate::docs::run(&schema, format, output.as_deref(), check.as_deref()),
        Action::Codegen { output, check } => crate::docs::write_generated(
            &crate::codegen::python(&schema),
            output.as_deref(),
            check.as_deref(),
            &format!(
                "envgate --schema {} codegen python --output",
                schema_path.display()
            ),
        ),
        Action::Scan(request) => {
            let format = options.format.unwrap_or_default();
            let (code, text) = crate::scan::run(&schema, &schema_path, &request, format)?;
            Stream::Stdout.write(&text);
            Ok(code)
        }
        Action::Check => with_audit(&context, |audit| {
            let (code, resolution) =
                validate_and_report(&context, &schema, Stream::Stdout, audit, None);
            // Values are zeroized on drop, before a pending signal stops the process.
            drop(resolution);
            audit.send_alerts();
            signals::stop_if_pending();
            audit.healthy()?;
            Ok(code)
        }),
        Action::Launch(command) => {
            with_audit(&context, |audit| launch(&context, &schema, &command, audit))
        }
        Action::Import(request) => {
            with_audit(&context, |audit| import(&context, &schema, &request, audit))
        }
        Action::Rotate(request) => with_audit(&context, |audit| {
            crate::rotate::run(
                &schema,
                &context.environment,
                &context.secrets_options(true),
                &context.env,
                &request,
                audit,
            )
        }),
        Action::JsonSchema | Action::Completions(_) | Action::Manpage | Action::Init { .. } => {
            unreachable!("handled above")
        }
    }
}

/// `envgate init`: the draft goes where every other command reads the schema from.
fn init(
    env: &EnvSnapshot,
    sources: &crate::init::Sources<'_>,
    output: Option<PathBuf>,
    force: bool,
    parameters: bool,
) -> Result<u8, Error> {
    let output = output
        .or_else(|| {
            env.get("ENVGATE_SCHEMA")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SCHEMA));
    let message = crate::init::run(sources, &output, force, parameters, env)?;
    Stream::Stdout.write(&message);
    Ok(exit::OK)
}

/// `envgate import`: local values validated, then written to Secrets Manager.
fn import(
    context: &Context<'_>,
    schema: &Schema,
    request: &crate::import::ImportRequest,
    audit: &Audit,
) -> Result<u8, Error> {
    let environment = context.environment.as_str();
    let format = context.options.format.unwrap_or_default();
    let says = Says {
        stream: Stream::Stderr,
        format,
        color: false,
        consequence: Some("nothing was written"),
    };
    if !schema.has_environment(environment) {
        says.problems(schema, None, &[unknown_environment(schema, environment)]);
        return Ok(exit::CONFIG_INVALID);
    }
    // The values come from the file and the environment, never from the store.
    let resolution = context.resolve_local(schema);
    let problems = collect_problems(context, schema, &resolution, Vec::new());
    let blocking = crate::import::blocking(&problems, schema, environment);
    if !blocking.is_empty() {
        says.problems(schema, Some(environment), &blocking);
        return Ok(exit::CONFIG_INVALID);
    }
    let (code, text) = crate::import::run(
        schema,
        environment,
        &context.secrets_options(true),
        &context.env,
        &resolution,
        request,
        audit,
    )?;
    if code == exit::OK {
        Stream::Stdout.write(&text);
    } else {
        Stream::Stderr.write(&text);
    }
    audit.healthy()?;
    Ok(code)
}

/// The audit destination: `--audit-log`, else `ENVGATE_AUDIT_LOG`, else stderr.
/// Turning it off in production needs `--force`. From here on, a stop signal is
/// audited before envgate exits.
fn open_audit(context: &Context<'_>) -> Result<Audit, Error> {
    let options = context.options;
    let destination = options
        .audit
        .log
        .as_deref()
        .or(context.settings.envgate_audit_log.as_deref())
        .map_or_else(
            || audit::default_destination(&context.environment, std::io::stderr().is_terminal()),
            audit::Destination::parse,
        );
    if destination == audit::Destination::Off
        && context.environment == "production"
        && !options.audit.force
    {
        return Err(Error::Usage(
            "the audit log cannot be turned off in production: every secret access must leave a trace. Pass --force to do it anyway.".to_owned(),
        ));
    }
    let mut audit = Audit::open(destination, &context.environment)?;
    if let Some(alerts) = alerts(context)? {
        audit.set_alerts(alerts);
    }
    if options.audit.principal && audit.enabled() {
        // The identity is context, not a gate: an unknown caller is written as such.
        let principal = secrets::caller_identity(&context.secrets_options(true), &context.env)
            .unwrap_or_else(|error| format!("unknown ({})", error.aws_code()));
        audit.set_principal(principal);
    }
    let on_stop = audit.clone();
    signals::on_stop(move |signal| {
        on_stop.emit(&AuditEvent {
            event: "process.interrupted",
            severity: "warning",
            signal: Some(signal.as_str()),
            outcome: Some("stopped"),
            ..AuditEvent::default()
        });
    });
    Ok(audit)
}

/// Runs `work` with the run's audit trail open, then sends the alerts it raised
/// (at most 2 s; the outcome is `work`'s, whatever the alerts do).
fn with_audit(
    context: &Context<'_>,
    work: impl FnOnce(&Audit) -> Result<u8, Error>,
) -> Result<u8, Error> {
    let audit = open_audit(context)?;
    let outcome = work(&audit);
    audit.send_alerts();
    outcome
}

/// The alert targets of `--alert` and `ENVGATE_ALERT`, when there are any.
fn alerts(context: &Context<'_>) -> Result<Option<crate::alert::Alerts>, Error> {
    let from_setting = context
        .settings
        .envgate_alert
        .as_deref()
        .unwrap_or_default();
    let targets = from_setting
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .chain(context.options.audit.alerts.iter().map(String::as_str))
        .map(|text| {
            crate::alert::Target::parse(text).map_err(|why| Error::Usage(format!("--alert: {why}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Ok(None);
    }
    let threshold = context
        .settings
        .envgate_alert_severity
        .as_deref()
        .and_then(crate::alert::Severity::parse)
        .unwrap_or(crate::alert::Severity::Error);
    Ok(Some(crate::alert::Alerts::new(
        targets,
        threshold,
        context.secrets_options(true),
        context.env.clone(),
    )))
}

/// What a failed launch report says happens next.
const NOT_LAUNCHED: &str = "nothing was launched";
/// What a failed refresh report says happens next (`--watch`).
const KEEPS_RUNNING: &str = "the running program keeps its current values";

fn launch(
    context: &Context<'_>,
    schema: &Schema,
    command: &[OsString],
    audit: &Audit,
) -> Result<u8, Error> {
    let (code, resolution) =
        validate_and_report(context, schema, Stream::Stderr, audit, Some(NOT_LAUNCHED));
    let Some(resolution) = resolution.filter(|_| code == exit::OK) else {
        // Before a fail-closed exit (and before a pending stop signal ends the
        // process), the alerts of what failed.
        audit.send_alerts();
        audit.healthy()?;
        return Ok(code);
    };
    let generation = match generation(context, schema, command, &resolution, audit) {
        Ok(generation) => generation,
        Err(error) => {
            audit.healthy()?;
            return Err(error);
        }
    };
    drop(resolution);
    // A stop signal that arrived on the way (held, not lost) stops the launch.
    signals::stop_if_pending();
    if context.options.supervise.enabled() {
        audit.healthy()?;
        return supervise(context, schema, command, audit, generation);
    }
    let program = Some(generation.prepared.program().to_owned());
    audit.emit(&AuditEvent {
        event: "process.exec",
        severity: "info",
        program: program.clone(),
        outcome: Some("success"),
        ..AuditEvent::default()
    });
    // exec replaces this process: the alerts go first.
    audit.send_alerts();
    // No launch without the audit line.
    audit.healthy()?;
    // Delivered files live as long as `files`: removed unless exec succeeds.
    let supervise::Generation {
        prepared, files, ..
    } = generation;
    let error = launch::exec(prepared);
    // exec(2) itself failed after the checks (a bad interpreter, a race): say so.
    record_exec_failure(audit, program, &error);
    drop(files);
    Err(error)
}

/// The program ready to start with `resolution`'s environment: delivered files
/// written, found in `PATH`, arguments and environment within the kernel's limit.
fn generation(
    context: &Context<'_>,
    schema: &Schema,
    command: &[OsString],
    resolution: &Resolution,
    audit: &Audit,
) -> Result<supervise::Generation, Error> {
    let mut files = None;
    let child_env = launch::child_environment(
        &context.env,
        schema,
        &context.environment,
        resolution,
        &mut files,
    )?;
    // Only a supervisor compares and masks values; exec needs none of them.
    let values = if context.options.supervise.enabled() {
        watched_values(schema, resolution)
    } else {
        Vec::new()
    };
    let search_path = child_env
        .iter()
        .find(|(name, _)| **name == *"PATH")
        .map(|(_, value)| value.clone().into_owned());
    match launch::prepare(command, child_env, search_path.as_deref()) {
        Ok(prepared) => Ok(supervise::Generation {
            prepared,
            values,
            files,
        }),
        Err(error) => {
            let program = command
                .first()
                .map(|program| program.to_string_lossy().into_owned());
            record_exec_failure(audit, program, &error);
            Err(error)
        }
    }
}

/// Every resolved value with what the supervisor needs to know of it.
fn watched_values(schema: &Schema, resolution: &Resolution) -> Vec<supervise::watch::Value> {
    schema
        .vars
        .iter()
        .zip(&resolution.vars)
        .map(|(spec, var)| supervise::watch::Value {
            name: spec.name.clone(),
            value: var.value.clone(),
            sensitive: spec.sensitive || var.origin.is_secure_store(),
            file: spec.deliver == schema::Delivery::File,
        })
        .collect()
}

/// Supervisor mode: the program runs as envgate's child; with `--watch`, each
/// refresh resolves and validates again and reports as a launch would.
fn supervise(
    context: &Context<'_>,
    schema: &Schema,
    command: &[OsString],
    audit: &Audit,
    first: supervise::Generation,
) -> Result<u8, Error> {
    let refresh = || {
        let (code, resolution) =
            validate_and_report(context, schema, Stream::Stderr, audit, Some(KEEPS_RUNNING));
        let resolution = resolution.filter(|_| code == exit::OK)?;
        match generation(context, schema, command, &resolution, audit) {
            Ok(generation) => Some(generation),
            Err(error) => {
                fail(&error, context.options.format, Stream::Stderr);
                None
            }
        }
    };
    let supervision = supervise::Supervision {
        options: &context.options.supervise,
        ttl: std::time::Duration::from_secs(context.settings.secrets_cache_ttl),
        audit,
        refresh: &refresh,
    };
    supervise::run(supervision, first)
}

fn record_exec_failure(audit: &Audit, program: Option<String>, error: &Error) {
    use miette::Diagnostic;
    audit.emit(&AuditEvent {
        event: "process.exec",
        severity: "error",
        program,
        outcome: Some("failure"),
        error_code: error.code().map(|code| code.to_string()),
        ..AuditEvent::default()
    });
}

/// Resolves and validates, prints the report, and returns the exit code and, when
/// the configuration is valid, the resolution.
fn validate_and_report(
    context: &Context<'_>,
    schema: &Schema,
    stream: Stream,
    audit: &Audit,
    consequence: Option<&'static str>,
) -> (u8, Option<Resolution>) {
    let options = context.options;
    let environment = context.environment.as_str();
    let format = options.format.unwrap_or_default();
    let color =
        format == Format::Human && stream.is_terminal() && context.env.get("NO_COLOR").is_none();
    if !schema.has_environment(environment) {
        let says = Says {
            stream,
            format,
            color,
            consequence,
        };
        says.problems(schema, None, &[unknown_environment(schema, environment)]);
        return (exit::CONFIG_INVALID, None);
    }
    let mut resolution = context.resolve_local(schema);
    let secrets = secrets::resolve_secrets(
        schema,
        environment,
        &context.secrets_options(context.settings.use_secrets_manager),
        &context.env,
        &mut resolution,
    );
    if consequence.is_some() && secrets::abandoned() {
        // A `--watch` refresh dropped because the program is stopping: nothing
        // of it is reported or audited.
        return (exit::UNAVAILABLE, None);
    }
    audit::record_secret_access(audit, &secrets);
    let problems = collect_problems(context, schema, &resolution, secrets.problems);
    let rows = options
        .explain
        .then(|| report::explain_rows(schema, environment, &resolution, &problems));
    let report = Report {
        source: &schema.source,
        environment: Some(environment),
        var_count: schema.vars.len(),
        problems: &problems,
        consequence,
        explain: rows.as_deref(),
    };
    // A valid launch stays quiet unless there is something to say.
    if stream == Stream::Stdout || !problems.is_empty() || options.explain {
        stream.write(&report::render(&report, format, color));
    }
    audit::record_configuration(audit, &problems, report.ok());
    if report.ok() {
        (exit::OK, Some(resolution))
    } else {
        (problems_exit_code(&problems), None)
    }
}

fn collect_problems(
    context: &Context<'_>,
    schema: &Schema,
    resolution: &Resolution,
    secret_problems: Vec<Problem>,
) -> Vec<Problem> {
    let mode = if context.settings.skip_config_validation {
        validate::Mode::Skip
    } else {
        validate::Mode::Enforce
    };
    let mut problems = context.env_file_warnings.clone();
    problems.extend(resolution.problems.iter().cloned());
    problems.extend(secret_problems);
    problems.extend(validate::validate(
        schema,
        &context.environment,
        resolution,
        mode,
    ));
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
    if context.options.strict {
        for problem in &mut problems {
            if problem.code != Code::ValidationSkipped {
                problem.severity = Severity::Error;
            }
        }
    }
    problems
}

fn unknown_environment(schema: &Schema, environment: &str) -> Problem {
    let known = schema.environments.iter().map(String::as_str);
    let mut problem = Problem::error(
        Code::UnknownEnvironment,
        format!("unknown environment `{}`", report::escape(environment)),
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
            explain: None,
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
        Format::Json => (report::failure_json(error), stream),
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
