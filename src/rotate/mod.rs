//! `envgate rotate`: AWS's four rotation steps driven by envgate itself, with
//! staging labels, resumable and idempotent.
//!
//! createSecret puts the new value as AWSPENDING (with a ClientRequestToken);
//! setSecret applies it at the target; testSecret checks it; finishSecret moves
//! AWSCURRENT to it (AWS moves AWSPREVIOUS to the old version) and drops AWSPENDING.
//! A run that died leaves an AWSPENDING version different from AWSCURRENT: the next
//! run finishes that version instead of making another. A lease (a tag on the secret
//! naming the owner and an expiry) keeps two live runs off the same secret.
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
pub mod targets;
pub mod tls;
pub mod values;

use std::fmt::Write as _;
use std::io::Read as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};

use crate::audit::{Audit, AuditEvent};
use crate::error::{Error, exit};
use crate::resolve::EnvSnapshot;
use crate::rules::check_value;
use crate::schema::{RotateKind, Schema, Strategy};
use crate::secrets::SecretsOptions;
use crate::secrets::fetch::FetchError;
use targets::{RotateType, Target};

pub use lease::LEASE_TAG;
/// Test seam: stop (as if killed) right after this step: create, set, test or finish.
#[cfg(feature = "test-seams")]
const FAIL_AFTER_VAR: &str = "ENVGATE_ROTATION_FAIL_AFTER";

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
    for target in selected {
        context.step.set("lease");
        let rotation = rotate_one(context, client, target, supplied);
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

/// The versions of a secret by staging label, and its lease.
struct State {
    current: Option<String>,
    pending: Option<String>,
    lease: Option<String>,
}

async fn state(client: &Client, secret_id: &str) -> Result<State, Failure> {
    let described = client
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|error| fail("describe", crate::secrets::fetch::map_sdk_error_any(&error)))?;
    let mut current = None;
    let mut pending = None;
    if let Some(versions) = described.version_ids_to_stages() {
        for (version, stages) in versions {
            if stages.iter().any(|stage| stage == "AWSCURRENT") {
                current = Some(version.clone());
            }
            if stages.iter().any(|stage| stage == "AWSPENDING") {
                pending = Some(version.clone());
            }
        }
    }
    let pending = pending.filter(|pending| Some(pending) != current.as_ref());
    let lease = described
        .tags()
        .iter()
        .find(|tag| tag.key() == Some(LEASE_TAG))
        .and_then(|tag| tag.value().map(str::to_owned));
    Ok(State {
        current,
        pending,
        lease,
    })
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

async fn read_version(
    client: &Client,
    secret_id: &str,
    version: &str,
    step: &'static str,
) -> Result<SecretString, Failure> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_id(version)
        .send()
        .await
        .map_err(|error| fail(step, crate::secrets::fetch::map_sdk_error_any(&error)))?;
    output
        .secret_string()
        .map(|text| SecretString::from(text.to_owned()))
        .ok_or_else(|| fail(step, "the secret has no string value"))
}

fn checkpoint(context: &Context<'_>, target: &Target, step: &'static str, version: &str) {
    context.step.set(match step {
        "create" => "set",
        "set" => "test",
        _ => "finish",
    });
    context.audit.emit(&AuditEvent {
        event: "rotation.step",
        severity: "info",
        secret_id: Some(target.secret_id.clone()),
        version_id: Some(version.to_owned()),
        stage: Some(step.to_owned()),
        outcome: Some("success"),
        ..AuditEvent::default()
    });
    if fails_after(context.env, step) {
        // Test seam: die here as a killed run would, lease and AWSPENDING left behind.
        std::process::exit(i32::from(exit::ROTATION_FAILED));
    }
}

/// The test seam: only builds with the `test-seams` feature (the test suite's)
/// honour `ENVGATE_ROTATION_FAIL_AFTER`; release builds and `cargo install` ignore it.
#[cfg(feature = "test-seams")]
fn fails_after(env: &EnvSnapshot, step: &str) -> bool {
    env.get_str(FAIL_AFTER_VAR) == Some(step)
}

#[cfg(not(feature = "test-seams"))]
fn fails_after(_env: &EnvSnapshot, _step: &str) -> bool {
    false
}

async fn rotate_one(
    context: &Context<'_>,
    client: &Client,
    target: &Target,
    supplied: Option<&SecretString>,
) -> Result<(String, bool), Failure> {
    context.audit.emit(&AuditEvent {
        event: "rotation.started",
        severity: "info",
        secret_id: Some(target.secret_id.clone()),
        vars: vec![target.var.clone()],
        ..AuditEvent::default()
    });
    let before = state(client, &target.secret_id).await?;
    lease::take(
        client,
        &target.secret_id,
        before.lease.as_deref(),
        &context.lease,
    )
    .await
    .map_err(|reason| fail("lease", reason))?;
    context.step.set("create");
    // Read again under the lease: what a run before us left is what we finish.
    let result = match state(client, &target.secret_id).await {
        Ok(state) => steps(context, client, target, supplied, &state).await,
        Err(failure) => Err(failure),
    };
    lease::release(client, &target.secret_id, &context.lease).await;
    let (version, resumed) = result?;
    context.audit.emit(&AuditEvent {
        event: "rotation.finished",
        severity: "info",
        secret_id: Some(target.secret_id.clone()),
        version_id: Some(version.clone()),
        stage: Some("AWSCURRENT".to_owned()),
        outcome: Some("success"),
        ..AuditEvent::default()
    });
    Ok((version, resumed))
}

/// create → set → test → finish; each step idempotent.
async fn steps(
    context: &Context<'_>,
    client: &Client,
    target: &Target,
    supplied: Option<&SecretString>,
    state: &State,
) -> Result<(String, bool), Failure> {
    let current = state
        .current
        .clone()
        .ok_or_else(|| fail("create", "the secret has no AWSCURRENT version"))?;
    let (pending, resumed) = match &state.pending {
        Some(pending) if supplied.is_some() || context.request.rollback => {
            let asked = if supplied.is_some() {
                "--value-from-stdin"
            } else {
                "--rollback"
            };
            return Err(fail(
                "create",
                format!(
                    "an interrupted rotation left version {pending} as AWSPENDING, so {asked} cannot be honoured. Finish that rotation first (envgate rotate --type {} --name {}, without {asked}), then run this again; or drop the pending version: aws secretsmanager update-secret-version-stage --secret-id {} --version-stage AWSPENDING --remove-from-version-id {pending}",
                    target.spec.kind.type_name(),
                    target.name,
                    target.secret_id
                ),
            ));
        }
        Some(pending) => (pending.clone(), true),
        None => (
            create(context, client, target, supplied, &current).await?,
            false,
        ),
    };
    checkpoint(context, target, "create", &pending);
    let value = read_version(client, &target.secret_id, &pending, "set").await?;
    // setSecret: only PostgreSQL has a server envgate updates; for API keys and
    // Django keys the service's own configuration reads the new value (the guide's
    // "update service configuration after rotation").
    if target.spec.kind == RotateKind::Postgres {
        let old = read_version(client, &target.secret_id, &current, "set").await?;
        postgres_set(context, client, target, &old, &value).await?;
    }
    checkpoint(context, target, "set", &pending);
    if target.spec.kind == RotateKind::Postgres {
        let pending_secret = db_secret(&value, "test")?;
        postgres::test_login(&pending_secret, &trust(context, target))
            .await
            .map_err(|reason| fail("test", reason))?;
    }
    test(context, target, &value)?;
    checkpoint(context, target, "test", &pending);
    finish(client, &target.secret_id, &current, &pending).await?;
    checkpoint(context, target, "finish", &pending);
    Ok((pending, resumed))
}

async fn create(
    context: &Context<'_>,
    client: &Client,
    target: &Target,
    supplied: Option<&SecretString>,
    current: &str,
) -> Result<String, Failure> {
    let key = target.key.as_deref().ok_or_else(|| {
        fail(
            "create",
            "rotation needs a JSON key in the reference (`path#key`)",
        )
    })?;
    let text = read_version(client, &target.secret_id, current, "create").await?;
    let object =
        values::as_object(text.expose_secret()).map_err(|reason| fail("create", reason))?;
    let now = crate::clock::timestamp(SystemTime::now());
    let next = match target.spec.kind {
        RotateKind::ApiKey if context.request.rollback => {
            values::rolled_back_api_key(&object, key, &now)
        }
        RotateKind::ApiKey => values::next_api_key(
            &object,
            key,
            &target.spec,
            supplied.map(|value| value.expose_secret().to_owned()),
            &now,
        ),
        RotateKind::Postgres => postgres_next(&object, key, &target.spec, &now),
        RotateKind::DjangoSecretKey => {
            let fresh = django_key(context, target).map_err(|reason| fail("create", reason))?;
            Ok(values::next_django_key(
                &object,
                key,
                fresh,
                target
                    .spec
                    .max_fallbacks
                    .unwrap_or(values::DEFAULT_MAX_FALLBACKS),
                &now,
            ))
        }
    }
    .map_err(|reason| fail("create", reason))?;
    let token = request_token()?;
    let body = SecretString::from(serde_json::Value::Object(next).to_string());
    let written = client
        .put_secret_value()
        .secret_id(&target.secret_id)
        .client_request_token(&token)
        .secret_string(body.expose_secret())
        .version_stages("AWSPENDING")
        .send()
        .await
        .map_err(|error| fail("create", crate::secrets::fetch::map_sdk_error_any(&error)))?;
    context.audit.emit(&AuditEvent {
        event: "secret.written",
        severity: "info",
        secret_id: Some(target.secret_id.clone()),
        version_id: written.version_id().map(str::to_owned),
        stage: Some("AWSPENDING".to_owned()),
        outcome: Some("success"),
        ..AuditEvent::default()
    });
    Ok(written.version_id().unwrap_or(&token).to_owned())
}

fn db_secret(value: &SecretString, step: &'static str) -> Result<postgres::DbSecret, Failure> {
    let object = values::as_object(value.expose_secret()).map_err(|reason| fail(step, reason))?;
    postgres::DbSecret::parse(&object).map_err(|reason| fail(step, reason))
}

/// The next database secret: a new password, for the same role or the other one
/// of the alternating pair; every other field kept.
fn postgres_next(
    object: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    spec: &crate::schema::RotateSpec,
    now: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let current = postgres::DbSecret::parse(object)?;
    let password = values::random_string(
        spec.alphabet.as_deref().unwrap_or(values::DEFAULT_ALPHABET),
        spec.length.unwrap_or(32),
    )?;
    let user_key = if object.contains_key("username") {
        "username"
    } else {
        "user"
    };
    let mut next = object.clone();
    next.insert(key.to_owned(), serde_json::Value::String(password));
    next.insert(
        user_key.to_owned(),
        serde_json::Value::String(postgres::next_user(
            &current.user,
            spec.strategy.unwrap_or_default(),
        )),
    );
    next.insert(
        "rotated_at".to_owned(),
        serde_json::Value::String(now.to_owned()),
    );
    Ok(next)
}

/// setSecret for PostgreSQL: the pending role gets the pending password, set by the
/// admin secret's role (`rotate.admin_secret`) or the current credentials. Already
/// done (a resumed run) when the pending credentials log in.
async fn postgres_set(
    context: &Context<'_>,
    client: &Client,
    target: &Target,
    current: &SecretString,
    pending: &SecretString,
) -> Result<(), Failure> {
    let pending = db_secret(pending, "set")?;
    let trust = trust(context, target);
    if postgres::test_login(&pending, &trust).await.is_ok() {
        return Ok(());
    }
    let current = db_secret(current, "set")?;
    let admin = match &target.spec.admin_secret {
        Some(reference) => {
            let reference = crate::secrets::reference::SecretRef::parse(reference);
            let id = reference.full_name(&context.schema.secret_name, context.environment);
            let output = client
                .get_secret_value()
                .secret_id(&id)
                .send()
                .await
                .map_err(|error| {
                    fail(
                        "set",
                        format!(
                            "admin secret {id}: {}",
                            crate::secrets::fetch::map_sdk_error_any(&error)
                        ),
                    )
                })?;
            let text = SecretString::from(output.secret_string().unwrap_or_default().to_owned());
            db_secret(&text, "set")?
        }
        None => current,
    };
    let create_in = (target.spec.strategy == Some(Strategy::AlternatingUsers)).then(|| {
        pending
            .user
            .strip_suffix(postgres::CLONE_SUFFIX)
            .unwrap_or(&pending.user)
            .to_owned()
    });
    postgres::set_password(
        &admin,
        &pending.user,
        &pending.password,
        create_in.as_deref(),
        &trust,
    )
    .await
    .map_err(|reason| fail("set", reason))
}

/// The CAs a PostgreSQL rotation trusts: `rotate.ca_file`, else `PGSSLROOTCERT`,
/// else the system bundle.
fn trust(context: &Context<'_>, target: &Target) -> postgres::Trust {
    postgres::Trust {
        bundle: tls::ca_bundle(
            target.spec.ca_file.as_deref(),
            context.env.get_str("PGSSLROOTCERT"),
            context.env.get_str("SSL_CERT_FILE"),
        ),
    }
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

/// A ClientRequestToken: 32 random hex characters, as AWS's own rotation uses a UUID.
fn request_token() -> Result<String, Failure> {
    let hex =
        values::random_string("0123456789abcdef", 32).map_err(|reason| fail("create", reason))?;
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// A new Django key that passes the schema's own rules for the variable.
fn django_key(context: &Context<'_>, target: &Target) -> Result<String, String> {
    let var = context.schema.var(&target.var);
    for _ in 0..20 {
        let candidate = values::random_string(values::DJANGO_ALPHABET, values::DJANGO_LENGTH)?;
        let passes = var.is_none_or(|var| {
            check_value(
                var.kind,
                &var.layer_for(context.environment).rules,
                &candidate,
                true,
            )
            .is_empty()
        });
        if passes {
            return Ok(candidate);
        }
    }
    Err("could not generate a key that passes the schema's rules".to_owned())
}

/// testSecret: the pending value must pass the variable's own rules.
fn test(context: &Context<'_>, target: &Target, value: &SecretString) -> Result<(), Failure> {
    let key = target.key.as_deref().unwrap_or_default();
    let object = values::as_object(value.expose_secret()).map_err(|reason| fail("test", reason))?;
    let Some(serde_json::Value::String(new)) = object.get(key) else {
        return Err(fail("test", format!("the pending version has no `{key}`")));
    };
    if let Some(var) = context.schema.var(&target.var) {
        let problems = check_value(
            var.kind,
            &var.layer_for(context.environment).rules,
            new,
            true,
        );
        if let Some(problem) = problems.first() {
            return Err(fail(
                "test",
                format!("the new value of {} {}", var.name, problem.message),
            ));
        }
    }
    Ok(())
}

/// finishSecret: AWSCURRENT to the new version (AWS gives AWSPREVIOUS to the old one),
/// then AWSPENDING removed. Both calls are no-ops when already done.
async fn finish(
    client: &Client,
    secret_id: &str,
    current: &str,
    pending: &str,
) -> Result<(), Failure> {
    if current != pending {
        client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage("AWSCURRENT")
            .move_to_version_id(pending)
            .remove_from_version_id(current)
            .send()
            .await
            .map_err(|error| fail("finish", crate::secrets::fetch::map_sdk_error_any(&error)))?;
    }
    client
        .update_secret_version_stage()
        .secret_id(secret_id)
        .version_stage("AWSPENDING")
        .remove_from_version_id(pending)
        .send()
        .await
        .map_err(|error| fail("finish", crate::secrets::fetch::map_sdk_error_any(&error)))?;
    Ok(())
}
