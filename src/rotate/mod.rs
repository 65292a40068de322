//! `envgate rotate`: AWS's four rotation steps driven by envgate itself, with
//! staging labels, resumable and idempotent.
//!
//! createSecret puts the new value as AWSPENDING (with a ClientRequestToken);
//! setSecret applies it at the target; testSecret checks it; finishSecret moves
//! AWSCURRENT to it (AWS moves AWSPREVIOUS to the old version) and drops AWSPENDING.
//! A run that died leaves an AWSPENDING version different from AWSCURRENT: the next
//! run finishes that version instead of making another. A lease (`lease`: a tag
//! with a per-run token and an expiry) keeps two live runs off the same secret.
//!
//! Layout: this module selects targets, applies the cross-environment guard and
//! runs each rotation within its deadline; `steps` holds the four steps, `lease`
//! the lease, `dry_run` the dry run and `--due`, `report` what is printed,
//! `postgres` and `tls` the database side, `values` the next values per kind.
//!
//! Kinds: `postgres` (a new password set on the server as a SCRAM verifier, for the
//! same role or, with `alternating-users`, the other of `user`/`user_clone`),
//! `api-key` (generated, or from standard input; the old key kept as
//! `previous_key`; `--rollback` swaps back) and `django-secret-key` (a new key that
//! passes the schema's own rules; the old one first in `SECRET_KEY_FALLBACKS`).

mod dry_run;
pub mod lease;
pub mod postgres;
pub mod report;
mod steps;
pub mod targets;
pub mod tls;
pub mod values;

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Read as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::Client;
use secrecy::SecretString;

use crate::audit::{Audit, AuditEvent};
use crate::error::{Error, exit};
use crate::resolve::EnvSnapshot;

use crate::schema::{RotateKind, Schema};
use crate::secrets::SecretsOptions;
use crate::secrets::fetch::FetchError;
use targets::{RotateType, Target};

pub use lease::LEASE_TAG;

/// What `envgate rotate` was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
pub struct RotateRequest {
    /// `--type`.
    pub kind: Option<RotateType>,
    /// `--name`.
    pub name: Option<String>,
    /// `--all`.
    pub all: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--due`: only what is older than its `rotate.every`.
    pub due: bool,
    /// `--format json`: one JSON object instead of lines.
    pub json: bool,
    /// `--rollback`.
    pub rollback: bool,
    /// `--value-from-stdin`.
    pub value_from_stdin: bool,
}

/// A rotation that failed, and at which step.
#[derive(Debug)]
struct Failure {
    step: &'static str,
    reason: String,
}

fn fail(step: &'static str, reason: impl Into<String>) -> Failure {
    Failure {
        step,
        reason: reason.into(),
    }
}

/// Runs `envgate rotate`; returns the exit code (0, or 70 when a rotation failed).
///
/// # Errors
/// [`Error::Usage`] for an unknown `--type`/`--name` (listing the known ones).
pub fn run(
    schema: &Schema,
    environment: &str,
    secrets: &SecretsOptions,
    env: &EnvSnapshot,
    request: &RotateRequest,
    audit: &Audit,
) -> Result<u8, Error> {
    let all = targets::targets(schema, environment);
    if !request.all && !request.due && request.kind.is_none() && request.name.is_none() {
        return Err(Error::Usage("give --type and --name, or --all".to_owned()));
    }
    let selected =
        targets::select(&all, request.kind, request.name.as_deref()).map_err(Error::Usage)?;
    if request.rollback
        && selected
            .iter()
            .any(|target| target.spec.kind != RotateKind::ApiKey)
    {
        return Err(Error::Usage(
            "--rollback applies to api-key secrets only".to_owned(),
        ));
    }
    // The cross-environment guard, as on the launch path: before any request.
    let refused = refused_secrets(schema, environment, &selected);
    if !refused.is_empty() {
        return Ok(refuse(environment, &refused, audit));
    }
    let supplied = if request.value_from_stdin {
        if selected.len() != 1 {
            return Err(Error::Usage(
                "--value-from-stdin rotates exactly one secret".to_owned(),
            ));
        }
        Some(read_stdin_value()?)
    } else {
        None
    };
    let context = Context {
        schema,
        environment,
        env,
        audit,
        request,
        lease: lease::Lease::new().map_err(Error::Usage)?,
        step: std::cell::Cell::new("lease"),
    };
    // --timeout is each secret's deadline; the run as a whole gets one per secret.
    let targets = u32::try_from(selected.len()).unwrap_or(u32::MAX).max(1);
    let whole_run = secrets.timeout.saturating_mul(targets.saturating_add(1));
    let outcome = crate::secrets::block_on_within(whole_run, async {
        let client = Client::new(&crate::secrets::sdk_config(secrets, env).await?);
        if request.dry_run {
            let mut entries = Vec::with_capacity(selected.len());
            for target in &selected {
                entries.push(dry_run::dry_run_entry(&client, target).await?);
            }
            return Ok(entries);
        }
        // Credentials, region and network are the run's, not a step's: one read
        // first, so that their failure gets the launch path's words and code.
        if let Some(first) = selected.first() {
            client
                .get_secret_value()
                .secret_id(&first.secret_id)
                .send()
                .await
                .map_err(|error| crate::secrets::fetch::map_sdk_error(&error))?;
        }
        let (selected, mut entries) = if request.due {
            dry_run::due_only(&client, &selected).await?
        } else {
            (selected.clone(), Vec::new())
        };
        entries.extend(
            rotate_all(
                &context,
                &client,
                &selected,
                supplied.as_ref(),
                secrets.timeout,
            )
            .await,
        );
        Ok(entries)
    });
    say(
        request,
        environment,
        secrets.region.as_deref(),
        outcome,
        audit,
    )
}

/// Prints what the run did (lines, a table, or JSON) and returns its exit code.
fn say(
    request: &RotateRequest,
    environment: &str,
    region: Option<&str>,
    outcome: Result<Vec<report::Entry>, FetchError>,
    audit: &Audit,
) -> Result<u8, Error> {
    match outcome {
        Ok(entries) => {
            let failed = entries.iter().any(report::Entry::failed);
            if request.json {
                crate::fsio::print(&report::json(environment, request.dry_run, &entries));
            } else if request.dry_run {
                crate::fsio::print(&report::dry_run_table(&entries));
            } else if failed {
                crate::fsio::eprint(&report::human(&entries));
            } else {
                crate::fsio::print(&report::human(&entries));
            }
            audit.healthy()?;
            Ok(if failed {
                exit::ROTATION_FAILED
            } else {
                exit::OK
            })
        }
        Err(error) => {
            let (message, code) = store_failure(&error, region);
            if request.json {
                crate::fsio::print(&failure_json(environment, &message, code));
            } else {
                crate::fsio::eprint(&message);
            }
            Ok(code)
        }
    }
}

/// A run that stopped before any secret, as the JSON report's shape.
fn failure_json(environment: &str, message: &str, code: u8) -> String {
    let json = serde_json::json!({
        "ok": false,
        "environment": environment,
        "exit": code,
        "message": message.trim_end(),
    });
    format!("{json:#}\n")
}

/// Rotates each target in turn, each within `timeout`; returns the report and
/// whether any rotation failed.
async fn rotate_all(
    context: &Context<'_>,
    client: &Client,
    selected: &[Target],
    supplied: Option<&SecretString>,
    timeout: Duration,
) -> Vec<report::Entry> {
    let mut entries = Vec::with_capacity(selected.len());
    let progress = !context.request.json && std::io::stderr().is_terminal();
    for target in selected {
        context.step.set("lease");
        if progress {
            crate::fsio::eprint(&format!(
                "rotating {} ({})…\n",
                target.secret_id, target.spec.kind
            ));
        }
        let rotation = steps::rotate_one(context, client, target, supplied);
        let result = if let Ok(result) = tokio::time::timeout(timeout, rotation).await {
            result
        } else {
            // The rotation was dropped mid-step: give the lease back (it is ours
            // only if we wrote it) and say where it stopped.
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                lease::release(client, &target.secret_id, &context.lease),
            )
            .await;
            Err(fail(
                context.step.get(),
                format!(
                    "no answer within {}s (--timeout, per secret); AWSCURRENT is unchanged and the next run finishes what was started",
                    timeout.as_secs_f32()
                ),
            ))
        };
        let kind = target.spec.kind.as_str();
        match result {
            Ok((version, resumed)) => {
                let mut entry = report::Entry::new(&target.secret_id, kind, "rotated");
                entry.step = Some("finish");
                entry.version = Some(version);
                entry.resumed = resumed;
                entries.push(entry);
            }
            Err(failure) => {
                context.audit.emit(&AuditEvent {
                    event: "rotation.failed",
                    severity: "error",
                    secret_id: Some(target.secret_id.clone()),
                    outcome: Some("failure"),
                    error_code: Some(failure.step.to_owned()),
                    ..AuditEvent::default()
                });
                let mut entry = report::Entry::new(&target.secret_id, kind, "failed");
                entry.step = Some(failure.step);
                entry.reason = Some(failure.reason);
                entries.push(entry);
            }
        }
    }
    entries
}

/// Secrets Manager failed before or outside a rotation step: the launch path's
/// words (what is missing, what to check) and exit codes (69 unavailable, 77
/// denied, 78 not found or unreadable).
fn store_failure(error: &FetchError, region: Option<&str>) -> (String, u8) {
    let region = region.unwrap_or("the configured region");
    let (what, help, code) = match error {
        FetchError::NoCredentials { .. } => (
            "no AWS credentials found".to_owned(),
            "envgate looked in: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the shared config and credentials files (AWS_PROFILE, ~/.aws/credentials), web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), the ECS container credentials endpoint and the EC2 instance metadata service. Give the task or instance an IAM role, or set those variables.".to_owned(),
            exit::UNAVAILABLE,
        ),
        FetchError::Unavailable { reason } => (
            format!("cannot reach Secrets Manager: {reason}"),
            "Check AWS_REGION / AWS_ENDPOINT_URL and network access to the endpoint (VPC endpoint, security groups, proxy).".to_owned(),
            exit::UNAVAILABLE,
        ),
        FetchError::Timeout => (
            "no answer from Secrets Manager within the deadline".to_owned(),
            "Check network access to the endpoint, or raise the deadline with --timeout SECONDS.".to_owned(),
            exit::UNAVAILABLE,
        ),
        FetchError::Throttled => (
            "Secrets Manager throttled the requests past every retry".to_owned(),
            "Run the rotation again in a minute; rotations are few, the launches sharing the quota are many.".to_owned(),
            exit::UNAVAILABLE,
        ),
        FetchError::AccessDenied { code } => (
            format!("access was denied ({code})"),
            "The rotating role needs secretsmanager:GetSecretValue, DescribeSecret, PutSecretValue, UpdateSecretVersionStage and TagResource/UntagResource on the secret.".to_owned(),
            exit::ACCESS_DENIED,
        ),
        FetchError::NotFound => (
            "the secret was not found".to_owned(),
            format!("Verify the secret exists in AWS Secrets Manager ({region}) under the environment's prefix."),
            exit::CONFIG_INVALID,
        ),
        other => (
            format!("Secrets Manager did not return the secret ({})", other.aws_code()),
            "Check the secret in the AWS console and CloudTrail for the request.".to_owned(),
            exit::CONFIG_INVALID,
        ),
    };
    (
        format!("envgate: rotation stopped before any change: {what}\nhelp: {help}\n"),
        code,
    )
}

fn read_stdin_value() -> Result<SecretString, Error> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|_| {
        Error::Usage("--value-from-stdin: standard input is not UTF-8 text".to_owned())
    })?;
    let value = text.trim_end_matches(['\n', '\r']).to_owned();
    if value.is_empty() {
        return Err(Error::Usage(
            "--value-from-stdin: standard input is empty".to_owned(),
        ));
    }
    Ok(SecretString::from(value))
}

struct Context<'a> {
    schema: &'a Schema,
    environment: &'a str,
    env: &'a EnvSnapshot,
    audit: &'a Audit,
    request: &'a RotateRequest,
    /// This run's lease identity.
    lease: lease::Lease,
    /// The step the current target is at, for a deadline that fires mid-step.
    step: std::cell::Cell<&'static str>,
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Every secret the selected rotations would read or write (the rotated secret,
/// and its `admin_secret`) that the cross-environment guard refuses in
/// `environment`: `(variable, secret id)`.
fn refused_secrets(
    schema: &Schema,
    environment: &str,
    selected: &[Target],
) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    for target in selected {
        let admin = target.spec.admin_secret.as_deref().map(|reference| {
            crate::secrets::reference::SecretRef::parse(reference)
                .full_name(&schema.secret_name, environment)
        });
        for id in std::iter::once(target.secret_id.clone()).chain(admin) {
            if !crate::secrets::plan::allowed(schema, environment, &id) {
                refused.push((target.var.clone(), id));
            }
        }
    }
    refused
}

/// Refuses a rotation that crosses environments: one `secret.access_denied` audit
/// line per secret (critical), a message naming each, exit 77.
fn refuse(environment: &str, refused: &[(String, String)], audit: &Audit) -> u8 {
    let mut message = String::new();
    for (var, id) in refused {
        audit.emit(&AuditEvent {
            event: "secret.access_denied",
            severity: "critical",
            secret_id: Some(id.clone()),
            vars: vec![var.clone()],
            outcome: Some("refused"),
            error_code: Some(crate::problem::Code::CrossEnvironment.as_str().to_owned()),
            alert: Some("critical"),
            ..AuditEvent::default()
        });
        let _ = writeln!(
            message,
            "envgate: refused to rotate: {var} uses secret `{id}`, outside the {environment} environment; nothing was read or written."
        );
    }
    message.push_str("help: run the rotation from the environment that owns the secret, or add its prefix to `[envgate].shared_prefixes` if it is meant to be shared.\n");
    crate::fsio::eprint(&message);
    exit::ACCESS_DENIED
}
