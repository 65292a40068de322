//! Audit: one JSON line per secret access and per decision, never a value.
//!
//! Events are typed ([`AuditEvent`]): they carry secret ids, version ids, stages,
//! variable names and problem codes, and have no field that could hold a value.
//! They go through `tracing` (target `envgate::audit`) to [`AuditLayer`], which
//! writes each as one line to stderr or to an append-only file created with mode
//! 0600, unbuffered. A failed write is remembered: the launcher checks
//! [`Audit::healthy`] before exec and refuses to launch without its audit trail.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::error::Error;
use crate::problem::{Code, Problem};
use crate::secrets::SecretsReport;

/// The tracing target of audit events.
pub const TARGET: &str = "envgate::audit";

/// Where audit lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard error (what container log pipelines collect).
    Stderr,
    /// Appended to a file (created 0600).
    File(PathBuf),
    /// Not written.
    Off,
}

impl Destination {
    /// Parses `--audit-log` / `ENVGATE_AUDIT_LOG`: a path, `-` for stderr, or `off`.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        match text {
            "-" | "stderr" => Self::Stderr,
            "off" => Self::Off,
            path => Self::File(PathBuf::from(path)),
        }
    }
}

/// Where the trail goes when neither `--audit-log` nor `ENVGATE_AUDIT_LOG` says:
/// stderr (what a container's log pipeline collects), except for a person at a
/// terminal in `development`, who reads the report and not JSON lines.
#[must_use]
pub fn default_destination(environment: &str, stderr_is_terminal: bool) -> Destination {
    if stderr_is_terminal && environment == "development" {
        Destination::Off
    } else {
        Destination::Stderr
    }
}

/// One audit event. Every field is an identifier, a name, a code or a count.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditEvent {
    /// `secret.read`, `config.valid`, …
    pub event: &'static str,
    /// `info`, `warning`, `error`, `critical`.
    pub severity: &'static str,
    /// The alert target of `alert.failed`: an SNS topic, or a URL's scheme and host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The store of a secret event: `secrets-manager` or `parameter-store`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<&'static str>,
    /// The secret id (or parameter name) requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// The version read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The staging label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Variable names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<String>,
    /// Problem codes (`config.invalid`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// `success`, `failure`, `denied`, `refused`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// The AWS error code, or envgate's problem code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// `critical` for events a log pipeline should page on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<&'static str>,
    /// The program launched (`process.exec`), never its environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The signal that stopped the run (`process.interrupted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<&'static str>,
    /// The supervised program's process id (`process.start`, `process.exit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_pid: Option<i32>,
    /// How the supervised program ended (`process.exit`): `exited 0`, `killed by SIGTERM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The exit code envgate passes on (`process.exit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    /// Why a supervised program was restarted or a refresh did nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// The fields every line carries besides the event's own.
#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    #[serde(flatten)]
    event: &'a AuditEvent,
    environment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<&'a str>,
    pid: u32,
    host: &'a str,
    version: &'static str,
}

type Sink = Box<dyn Write + Send>;

/// The layer that turns audit events into lines.
struct AuditLayer {
    sink: Arc<Mutex<Sink>>,
    failure: Arc<Mutex<Option<String>>>,
}

impl<S: Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut visitor = LineVisitor(None);
        event.record(&mut visitor);
        let Some(mut line) = visitor.0 else { return };
        line.push('\n');
        let written = self
            .sink
            .lock()
            .map_err(|_| std::io::Error::other("audit sink poisoned"))
            .and_then(|mut sink| sink.write_all(line.as_bytes()).and_then(|()| sink.flush()));
        if let Err(error) = written
            && let Ok(mut failure) = self.failure.lock()
        {
            failure.get_or_insert_with(|| crate::fsio::io_reason(&error));
        }
    }
}

/// Takes the pre-serialised `line` field of an audit event.
struct LineVisitor(Option<String>);

impl tracing::field::Visit for LineVisitor {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "line" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, _field: &tracing::field::Field, _value: &dyn std::fmt::Debug) {}
}

/// The audit trail of one run (clones write to the same trail).
#[derive(Clone)]
pub struct Audit {
    enabled: bool,
    environment: String,
    host: String,
    failure: Arc<Mutex<Option<String>>>,
    destination: Destination,
    principal: Option<String>,
    alerts: Option<Arc<crate::alert::Alerts>>,
}

static INSTALLED: OnceLock<()> = OnceLock::new();

impl Audit {
    /// Opens the destination (creating a file with mode 0600) and installs the layer.
    ///
    /// # Errors
    /// [`Error::AuditLog`] (exit 73) when the file cannot be opened: reported before
    /// any secret is read.
    pub fn open(destination: Destination, environment: &str) -> Result<Self, Error> {
        let failure = Arc::new(Mutex::new(None));
        let sink: Option<Sink> = match &destination {
            Destination::Off => None,
            Destination::Stderr => Some(Box::new(std::io::stderr())),
            Destination::File(path) => Some(Box::new(open_log(path)?)),
        };
        let enabled = sink.is_some();
        if let Some(sink) = sink {
            let layer = AuditLayer {
                sink: Arc::new(Mutex::new(sink)),
                failure: Arc::clone(&failure),
            };
            let subscriber = tracing_subscriber::registry().with(layer);
            // One run, one destination: a second install (in tests) keeps the first.
            if INSTALLED.set(()).is_ok() {
                let _ = tracing::subscriber::set_global_default(subscriber);
            }
        }
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_default();
        Ok(Self {
            enabled,
            environment: environment.to_owned(),
            host,
            failure,
            destination,
            principal: None,
            alerts: None,
        })
    }

    /// Sends the alertable events of this run to `alerts`' targets (when
    /// [`Audit::send_alerts`] is called), whether or not lines are written.
    pub fn set_alerts(&mut self, alerts: crate::alert::Alerts) {
        self.alerts = Some(Arc::new(alerts));
    }

    /// Sends the alerts queued so far (at most [`crate::alert::BUDGET`]); a target
    /// that failed is an `alert.failed` line, which is not itself alerted. The
    /// outcome of the run never changes.
    pub fn send_alerts(&self) {
        let Some(alerts) = &self.alerts else { return };
        for (target, reason) in alerts.send() {
            self.emit(&AuditEvent {
                event: "alert.failed",
                severity: "warning",
                outcome: Some("failure"),
                target: Some(target),
                error_code: Some(reason),
                ..AuditEvent::default()
            });
        }
    }

    /// True when lines are written somewhere.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Adds the caller's identity (`--audit-principal`) to every later line.
    pub fn set_principal(&mut self, principal: String) {
        self.principal = Some(principal);
    }

    /// Records one event (and queues it as an alert when it is one).
    pub fn emit(&self, event: &AuditEvent) {
        let alert = self.alerts.as_ref().and_then(|alerts| {
            crate::alert::severity_of(event.event, event.severity, event.outcome)
                .filter(|severity| alerts.wants(*severity))
                .map(|severity| (alerts, severity))
        });
        if !self.enabled && alert.is_none() {
            return;
        }
        let line = Line {
            ts: crate::clock::timestamp(std::time::SystemTime::now()),
            event,
            environment: &self.environment,
            principal: self.principal.as_deref(),
            pid: std::process::id(),
            host: &self.host,
            version: env!("CARGO_PKG_VERSION"),
        };
        let Ok(text) = serde_json::to_string(&line) else {
            return;
        };
        if self.enabled {
            tracing::info!(target: TARGET, line = text.as_str());
        }
        if let Some((alerts, severity)) = alert {
            alerts.queue(crate::alert::Pending::new(
                event.event,
                severity,
                text,
                &self.environment,
                &self.host,
            ));
        }
    }

    /// `Ok` when every line was written; the launch is refused otherwise.
    ///
    /// # Errors
    /// [`Error::AuditWrite`] (exit 73) naming the destination and why.
    pub fn healthy(&self) -> Result<(), Error> {
        let failure = self.failure.lock().ok().and_then(|failure| failure.clone());
        match failure {
            None => Ok(()),
            Some(reason) => Err(Error::AuditWrite {
                destination: match &self.destination {
                    Destination::File(path) => path.display().to_string(),
                    _ => "stderr".to_owned(),
                },
                reason,
            }),
        }
    }
}

/// Opens the log file: appended, 0600 (an existing file is made 0600), never
/// through a symlink, and only a regular file.
fn open_log(path: &Path) -> Result<std::fs::File, Error> {
    crate::fsio::open_private_append(path).map_err(|source| Error::AuditLog {
        path: path.to_owned(),
        source,
    })
}

/// One audit event per secret read, failed or refused.
pub fn record_secret_access(audit: &Audit, secrets: &SecretsReport) {
    for read in &secrets.read {
        audit.emit(&AuditEvent {
            event: "secret.read",
            severity: "info",
            store: Some("secrets-manager"),
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
        let outcome = if failure.code == Code::CrossEnvironment {
            "refused"
        } else if denied {
            "denied"
        } else {
            "failure"
        };
        audit.emit(&AuditEvent {
            event: if denied {
                "secret.access_denied"
            } else {
                "secret.read_failed"
            },
            severity: if denied { "critical" } else { "error" },
            store: Some("secrets-manager"),
            secret_id: Some(failure.secret_id.clone()),
            vars: vec![failure.var.clone()],
            outcome: Some(outcome),
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
    for event in &secrets.parameters {
        audit.emit(&parameter_event(event));
    }
}

/// The audit line of one parameter read, failure or refusal.
fn parameter_event(event: &crate::secrets::parameters::ParameterEvent) -> AuditEvent {
    let base = AuditEvent {
        store: Some("parameter-store"),
        secret_id: Some(event.name.clone()),
        version_id: event.version.map(|version| version.to_string()),
        vars: event.vars.clone(),
        ..AuditEvent::default()
    };
    let Some((code, aws_code)) = &event.failure else {
        return AuditEvent {
            event: "secret.read",
            severity: "info",
            outcome: Some("success"),
            ..base
        };
    };
    let denied = matches!(code, Code::AccessDenied | Code::CrossEnvironment);
    AuditEvent {
        event: if denied {
            "secret.access_denied"
        } else {
            "secret.read_failed"
        },
        severity: if denied { "critical" } else { "error" },
        outcome: Some(match code {
            Code::CrossEnvironment => "refused",
            _ if denied => "denied",
            _ => "failure",
        }),
        error_code: Some(aws_code.clone()),
        alert: denied.then_some("critical"),
        ..base
    }
}

/// `config.valid` or `config.invalid` (names and codes only), and
/// `config.validation_skipped` when `SKIP_CONFIG_VALIDATION` is on.
pub fn record_configuration(audit: &Audit, problems: &[Problem], ok: bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(Destination::parse("-"), Destination::Stderr);
        assert_eq!(Destination::parse("off"), Destination::Off);
        assert_eq!(
            Destination::parse("/var/log/a"),
            Destination::File("/var/log/a".into())
        );
    }
}
