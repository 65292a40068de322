//! `envgate import --to parameter-store`: every schema variable with a
//! `parameter` takes its value from the file given (or the environment) into
//! Parameter Store under the naming convention. Sensitive variables become
//! `SecureString` (with `--kms-key-id` when given), the others `String`.
//!
//! Refusals come before any write: invalid values (78, by the caller), a pinned
//! `:version` or `:label` (78: a write makes a new version, it cannot change an
//! old one), names the guard refuses (77, before any request). A parameter that
//! exists with another value is kept unless `--overwrite`. New parameters are
//! tagged `envgate:managed-by = envgate`; each write is a `secret.written` audit
//! line with `"store": "parameter-store"`; values are never printed.

use std::fmt::Write as _;

use aws_sdk_ssm::types::{ParameterType, Tag};
use secrecy::{ExposeSecret, SecretString};

use super::{ImportRequest, MANAGED_TAG, describe};
use crate::audit::{Audit, AuditEvent};
use crate::error::{Error, exit};
use crate::problem::Code;
use crate::resolve::{EnvSnapshot, Origin, Resolution};
use crate::schema::Schema;
use crate::secrets::SecretsOptions;
use crate::secrets::fetch::{FetchError, map_sdk_error, map_sdk_error_any};
use crate::secrets::parameters::{allowed, check_reference, full_name};

/// One value headed for one parameter.
struct Planned {
    var: String,
    name: String,
    value: SecretString,
    secure: bool,
}

/// What to write, the variables with no value, and names that cannot be written.
fn plan(
    schema: &Schema,
    environment: &str,
    resolution: &Resolution,
) -> (Vec<Planned>, Vec<String>, Vec<String>) {
    let (mut planned, mut without_value, mut pinned) = (Vec::new(), Vec::new(), Vec::new());
    for (var, resolved) in schema.vars.iter().zip(&resolution.vars) {
        let Some(reference) = var.layer_for(environment).parameter.clone() else {
            continue;
        };
        let name = full_name(&schema.parameter_name, environment, &reference);
        if name
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
            || check_reference(&name).is_err()
        {
            pinned.push(var.name.clone());
            continue;
        }
        match resolved
            .value
            .clone()
            .filter(|_| resolved.origin != Origin::Default)
        {
            Some(value) => planned.push(Planned {
                var: var.name.clone(),
                name,
                value,
                secure: var.sensitive,
            }),
            None => without_value.push(var.name.clone()),
        }
    }
    (planned, without_value, pinned)
}

/// Runs the import into Parameter Store; returns the exit code and what to print.
///
/// # Errors
/// [`Error::Usage`] for nothing to import.
pub(super) fn run(
    schema: &Schema,
    environment: &str,
    secrets: &SecretsOptions,
    env: &EnvSnapshot,
    resolution: &Resolution,
    request: &ImportRequest,
    audit: &Audit,
) -> Result<(u8, String), Error> {
    let (planned, without_value, pinned) = plan(schema, environment, resolution);
    let mut report = String::new();
    for name in &without_value {
        let _ = writeln!(
            report,
            "skipped {name}: no value in the file or the environment"
        );
    }
    if !pinned.is_empty() {
        for name in &pinned {
            let _ = writeln!(
                report,
                "envgate: cannot import {name}: its parameter is pinned to a version or label (or is not a valid name); a write makes a new version. Nothing was written."
            );
        }
        return Ok((exit::CONFIG_INVALID, report));
    }
    if planned.is_empty() {
        return Err(Error::Usage(
            "nothing to import: no variable with a `parameter` has a value in the file or the environment".to_owned(),
        ));
    }
    let refused: Vec<&Planned> = planned
        .iter()
        .filter(|planned| !allowed(schema, environment, &planned.name))
        .collect();
    if !refused.is_empty() {
        for planned in refused {
            audit.emit(&AuditEvent {
                event: "secret.access_denied",
                severity: "critical",
                store: Some("parameter-store"),
                secret_id: Some(planned.name.clone()),
                vars: vec![planned.var.clone()],
                outcome: Some("refused"),
                error_code: Some(Code::CrossEnvironment.as_str().to_owned()),
                alert: Some("critical"),
                ..AuditEvent::default()
            });
            let _ = writeln!(
                report,
                "envgate: refused to import into `{}`, outside the {environment} environment; nothing was written.",
                planned.name
            );
        }
        return Ok((exit::ACCESS_DENIED, report));
    }
    let outcome = crate::secrets::block_on_within(secrets.timeout, async {
        let client = aws_sdk_ssm::Client::new(&crate::secrets::sdk_config(secrets, env).await?);
        let mut lines = String::new();
        for planned in &planned {
            lines.push_str(&import_one(&client, planned, request, audit).await?);
        }
        Ok(lines)
    });
    match outcome {
        Ok(lines) => {
            report.push_str(&lines);
            if request.dry_run {
                report.push_str("dry run: nothing was written\n");
            }
            Ok((exit::OK, report))
        }
        Err(error) => {
            let reason = describe(&error, secrets.region.as_deref())
                .replace("Secrets Manager", "Parameter Store")
                .replace(
                    "secretsmanager:GetSecretValue, CreateSecret, PutSecretValue and TagResource",
                    "ssm:GetParameter, ssm:PutParameter and ssm:AddTagsToResource (and kms:Encrypt on the key of a SecureString)",
                );
            let _ = writeln!(report, "envgate: import stopped: {reason}");
            let code = match error {
                FetchError::AccessDenied { .. } => exit::ACCESS_DENIED,
                _ => exit::UNAVAILABLE,
            };
            Ok((code, report))
        }
    }
}

/// Reads one parameter, writes it when new or (with `--overwrite`) different;
/// returns the report line.
async fn import_one(
    client: &aws_sdk_ssm::Client,
    planned: &Planned,
    request: &ImportRequest,
    audit: &Audit,
) -> Result<String, FetchError> {
    let name = &planned.name;
    let existing = match client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
    {
        Ok(output) => output
            .parameter()
            .and_then(|parameter| parameter.value())
            .map(str::to_owned),
        Err(error) => match map_sdk_error(&error) {
            FetchError::NotFound => None,
            FetchError::Other { code, .. } if code == "ParameterNotFound" => None,
            other => return Err(other),
        },
    };
    let kind = if planned.secure {
        "SecureString"
    } else {
        "String"
    };
    let verb = if request.dry_run { "would " } else { "" };
    let action = match &existing {
        Some(current) if current == planned.value.expose_secret() => {
            return Ok(format!("unchanged {name} ({kind})\n"));
        }
        Some(_) if !request.overwrite => {
            return Ok(format!(
                "skipped {name}: it has a different value; --overwrite replaces it\n"
            ));
        }
        Some(_) => "update",
        None => "create",
    };
    if !request.dry_run {
        let mut put = client
            .put_parameter()
            .name(name)
            .value(planned.value.expose_secret())
            .r#type(ParameterType::from(kind))
            .overwrite(existing.is_some());
        if planned.secure
            && let Some(key) = &request.kms_key_id
        {
            put = put.key_id(key);
        }
        if existing.is_none() {
            put = put.tags(
                Tag::builder()
                    .key(MANAGED_TAG.0)
                    .value(MANAGED_TAG.1)
                    .build()
                    .map_err(|error| FetchError::Other {
                        code: "Tag".to_owned(),
                        message: error.to_string(),
                    })?,
            );
        }
        let written = put
            .send()
            .await
            .map_err(|error| match map_sdk_error(&error) {
                denied @ FetchError::AccessDenied { .. } => denied,
                _ => FetchError::Other {
                    code: "PutParameter".to_owned(),
                    message: map_sdk_error_any(&error),
                },
            })?;
        audit.emit(&AuditEvent {
            event: "secret.written",
            store: Some("parameter-store"),
            severity: "info",
            secret_id: Some(name.clone()),
            version_id: Some(written.version().to_string()),
            vars: vec![planned.var.clone()],
            outcome: Some("success"),
            ..AuditEvent::default()
        });
    }
    Ok(format!("{verb}{action} {name} ({kind})\n"))
}
