//! One rotation: AWS's four steps (create, set, test, finish) under the lease,
//! each idempotent, with a checkpoint in the audit trail after each.

use std::time::SystemTime;

use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};

use super::targets::Target;
use super::{Context, Failure, fail, lease, postgres, tls, values};
use crate::audit::AuditEvent;
use crate::error::exit;
use crate::resolve::EnvSnapshot;
use crate::rules::check_value;
use crate::schema::{RotateKind, Strategy};

/// Test seam: stop (as if killed) right after this step: create, set, test or finish.
#[cfg(feature = "test-seams")]
const FAIL_AFTER_VAR: &str = "ENVGATE_ROTATION_FAIL_AFTER";

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
        .find(|tag| tag.key() == Some(lease::LEASE_TAG))
        .and_then(|tag| tag.value().map(str::to_owned));
    Ok(State {
        current,
        pending,
        lease,
    })
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

pub(super) async fn rotate_one(
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
        store: Some("secrets-manager"),
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
