//! `envgate import`: the guide's migration. Every schema variable with a `secret`
//! takes its value from the file given (or the environment) into Secrets Manager
//! under the naming convention, one JSON secret per path, merged with the keys
//! already there.
//!
//! Order of refusals, each before any write: the values are validated against the
//! schema (a weak value stops the import, 78); the cross-environment guard refuses
//! a secret outside the environment (77, before any request). Then each secret is
//! read, merged (a key that exists is changed only with `--overwrite`) and written:
//! `CreateSecret` (tagged `envgate:managed-by = envgate`, with `--kms-key-id`) or
//! `PutSecretValue`. The report names secrets and keys, never values; each write is
//! a `secret.written` audit line.

mod parameters;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};

use crate::audit::{Audit, AuditEvent};
use crate::error::{Error, exit};
use crate::problem::{Code, Problem};
use crate::resolve::{EnvSnapshot, Origin, Resolution};
use crate::schema::Schema;
use crate::schema::reference::SecretRef;
use crate::secrets::SecretsOptions;
use crate::secrets::fetch::FetchError;

/// The tag every secret envgate creates carries.
pub const MANAGED_TAG: (&str, &str) = ("envgate:managed-by", "envgate");

/// What `envgate import` was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportRequest {
    /// `--from`: the file holding the values (the environment too, first).
    pub from: Option<PathBuf>,
    /// `--dry-run`: say what would be written, write nothing.
    pub dry_run: bool,
    /// `--overwrite`: change keys that already exist.
    pub overwrite: bool,
    /// `--kms-key-id`: the key new secrets are encrypted with.
    pub kms_key_id: Option<String>,
    /// `--to`: the store written.
    pub to: Store,
}

/// The store `import` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Store {
    /// AWS Secrets Manager: variables with `secret`.
    #[default]
    SecretsManager,
    /// AWS SSM Parameter Store: variables with `parameter`.
    ParameterStore,
}

/// The values headed for one secret: key → (variable, value).
struct Planned {
    /// The JSON keys and their values; `None` as key for a whole-string secret.
    keys: BTreeMap<String, (String, SecretString)>,
    whole: Option<(String, SecretString)>,
}

/// Groups every resolved value of a variable with a `secret` by secret id.
fn plan(
    schema: &Schema,
    environment: &str,
    resolution: &Resolution,
) -> (BTreeMap<String, Planned>, Vec<String>) {
    let mut secrets: BTreeMap<String, Planned> = BTreeMap::new();
    let mut without_value = Vec::new();
    for (var, resolved) in schema.vars.iter().zip(&resolution.vars) {
        let Some(secret) = var.layer_for(environment).secret.clone() else {
            continue;
        };
        let Some(value) = resolved
            .value
            .clone()
            .filter(|_| resolved.origin != Origin::Default)
        else {
            without_value.push(var.name.clone());
            continue;
        };
        let reference = SecretRef::parse(&secret);
        let id = reference.full_name(&schema.secret_name, environment);
        let planned = secrets.entry(id).or_insert_with(|| Planned {
            keys: BTreeMap::new(),
            whole: None,
        });
        match reference.key {
            Some(key) => {
                planned.keys.insert(key, (var.name.clone(), value));
            }
            None => planned.whole = Some((var.name.clone(), value)),
        }
    }
    (secrets, without_value)
}

/// Runs `envgate import` for a resolution already validated; returns the exit code
/// and what to print.
///
/// # Errors
/// [`Error::Usage`] for nothing to import.
pub fn run(
    schema: &Schema,
    environment: &str,
    secrets: &SecretsOptions,
    env: &EnvSnapshot,
    resolution: &Resolution,
    request: &ImportRequest,
    audit: &Audit,
) -> Result<(u8, String), Error> {
    if request.to == Store::ParameterStore {
        return parameters::run(
            schema,
            environment,
            secrets,
            env,
            resolution,
            request,
            audit,
        );
    }
    let (planned, without_value) = plan(schema, environment, resolution);
    let mut report = String::new();
    for name in &without_value {
        let _ = writeln!(
            report,
            "skipped {name}: no value in the file or the environment"
        );
    }
    if planned.is_empty() {
        return Err(Error::Usage(
            "nothing to import: no variable with a `secret` has a value in the file or the environment".to_owned(),
        ));
    }
    // The guard, before any request.
    let refused: Vec<&String> = planned
        .keys()
        .filter(|id| !crate::secrets::plan::allowed(schema, environment, id))
        .collect();
    if !refused.is_empty() {
        for id in &refused {
            audit.emit(&AuditEvent {
                event: "secret.access_denied",
                severity: "critical",
                secret_id: Some((*id).clone()),
                outcome: Some("refused"),
                error_code: Some(Code::CrossEnvironment.as_str().to_owned()),
                alert: Some("critical"),
                ..AuditEvent::default()
            });
            let _ = writeln!(
                report,
                "envgate: refused to import into `{id}`, outside the {environment} environment; nothing was written."
            );
        }
        return Ok((exit::ACCESS_DENIED, report));
    }
    let outcome = crate::secrets::block_on_within(secrets.timeout, async {
        let client = Client::new(&crate::secrets::sdk_config(secrets, env).await?);
        let (mut lines, mut conflicts) = (String::new(), 0);
        // On a terminal, a line per secret as it is written.
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
        for (index, (id, values)) in planned.iter().enumerate() {
            if progress {
                crate::fsio::eprint(&format!("[{}/{}] {id}…\n", index + 1, planned.len()));
            }
            let (line, conflict) = import_one(&client, id, values, request, audit).await?;
            lines.push_str(&line);
            conflicts += usize::from(conflict);
        }
        Ok((lines, conflicts))
    });
    match outcome {
        Ok((lines, conflicts)) => {
            report.push_str(&lines);
            if request.dry_run {
                report.push_str("dry run: nothing was written\n");
            }
            if conflicts > 0 {
                let _ = writeln!(
                    report,
                    "envgate: {conflicts} secret(s) not written: their current value is not a JSON object (give --overwrite to replace it)"
                );
                return Ok((exit::CONFIG_INVALID, report));
            }
            Ok((exit::OK, report))
        }
        Err(error) => {
            let _ = writeln!(
                report,
                "envgate: import stopped: {}",
                describe(&error, secrets.region.as_deref())
            );
            let code = match error {
                FetchError::AccessDenied { .. } => exit::ACCESS_DENIED,
                _ => exit::UNAVAILABLE,
            };
            Ok((code, report))
        }
    }
}

fn describe(error: &FetchError, region: Option<&str>) -> String {
    match error {
        FetchError::NoCredentials { .. } => "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or give the task a role)".to_owned(),
        FetchError::Unavailable { reason } => format!("cannot reach Secrets Manager: {reason}"),
        FetchError::Timeout => "no answer from Secrets Manager within the deadline (--timeout)".to_owned(),
        FetchError::AccessDenied { code } => format!(
            "access denied ({code}): the role needs secretsmanager:GetSecretValue, CreateSecret, PutSecretValue and TagResource in {}",
            region.unwrap_or("the region")
        ),
        other => format!("Secrets Manager refused: {}", other.aws_code()),
    }
}

/// Reads one secret, merges the planned values, writes it; returns the report
/// line and whether the secret was left alone for a conflict.
async fn import_one(
    client: &Client,
    id: &str,
    planned: &Planned,
    request: &ImportRequest,
    audit: &Audit,
) -> Result<(String, bool), FetchError> {
    let existing = match client.get_secret_value().secret_id(id).send().await {
        Ok(output) => Some(output.secret_string().unwrap_or_default().to_owned()),
        Err(error) => match crate::secrets::fetch::map_sdk_error(&error) {
            FetchError::NotFound => None,
            other => return Err(other),
        },
    };
    let merged = merge(existing.as_deref(), planned, request.overwrite);
    let vars: Vec<String> = planned
        .keys
        .values()
        .map(|(var, _)| var.clone())
        .chain(planned.whole.iter().map(|(var, _)| var.clone()))
        .collect();
    let verb = if request.dry_run { "would " } else { "" };
    let line = match (&existing, &merged.body) {
        _ if merged.conflict => return Ok((format!("conflict {id}{}\n", merged.notes), true)),
        (_, None) => format!("unchanged {id}{}\n", merged.notes),
        (None, Some(body)) => {
            if !request.dry_run {
                let mut create = client
                    .create_secret()
                    .name(id)
                    .secret_string(body.expose_secret())
                    .tags(
                        aws_sdk_secretsmanager::types::Tag::builder()
                            .key(MANAGED_TAG.0)
                            .value(MANAGED_TAG.1)
                            .build(),
                    );
                if let Some(key) = &request.kms_key_id {
                    create = create.kms_key_id(key);
                }
                let created = create.send().await.map_err(|error| FetchError::Other {
                    code: "CreateSecret".to_owned(),
                    message: crate::secrets::fetch::map_sdk_error_any(&error),
                })?;
                written(audit, id, created.version_id(), vars);
            }
            format!("{verb}create {id}{}\n", merged.notes)
        }
        (Some(_), Some(body)) => {
            if !request.dry_run {
                let put = client
                    .put_secret_value()
                    .secret_id(id)
                    .secret_string(body.expose_secret())
                    .send()
                    .await
                    .map_err(|error| FetchError::Other {
                        code: "PutSecretValue".to_owned(),
                        message: crate::secrets::fetch::map_sdk_error_any(&error),
                    })?;
                let _ = client
                    .tag_resource()
                    .secret_id(id)
                    .tags(
                        aws_sdk_secretsmanager::types::Tag::builder()
                            .key(MANAGED_TAG.0)
                            .value(MANAGED_TAG.1)
                            .build(),
                    )
                    .send()
                    .await;
                written(audit, id, put.version_id(), vars);
            }
            format!("{verb}update {id}{}\n", merged.notes)
        }
    };
    Ok((line, false))
}

fn written(audit: &Audit, id: &str, version: Option<&str>, vars: Vec<String>) {
    audit.emit(&AuditEvent {
        event: "secret.written",
        store: Some("secrets-manager"),
        severity: "info",
        secret_id: Some(id.to_owned()),
        version_id: version.map(str::to_owned),
        stage: Some("AWSCURRENT".to_owned()),
        vars,
        outcome: Some("success"),
        ..AuditEvent::default()
    });
}

/// The new secret body, when anything changes, and notes naming keys (never values).
struct Merged {
    body: Option<SecretString>,
    notes: String,
    /// The secret holds something other than a JSON object and `--overwrite`
    /// was not given: nothing is written.
    conflict: bool,
}

/// Merges the planned keys into the existing JSON object (or the whole string).
fn merge(existing: Option<&str>, planned: &Planned, overwrite: bool) -> Merged {
    if let Some((_, value)) = &planned.whole {
        let same = existing == Some(value.expose_secret());
        return match (existing, same, overwrite) {
            (_, true, _) => Merged {
                body: None,
                notes: " (the whole value is already current)".to_owned(),
                conflict: false,
            },
            (Some(_), false, false) => Merged {
                body: None,
                notes: " (skipped: it has a different value; --overwrite replaces it)".to_owned(),
                conflict: false,
            },
            _ => Merged {
                body: Some(value.clone()),
                notes: " (the whole value)".to_owned(),
                conflict: false,
            },
        };
    }
    // Keys go into a JSON object; anything else there (text, a list, a number,
    // broken JSON, a binary secret) is replaced only when asked.
    let current = existing.map(serde_json::from_str::<serde_json::Value>);
    let (mut object, replacing) = match current {
        None => (serde_json::Map::new(), false),
        Some(Ok(serde_json::Value::Object(object))) => (object, false),
        Some(_) if overwrite => (serde_json::Map::new(), true),
        Some(_) => {
            return Merged {
                body: None,
                notes: ": its current value is not a JSON object; nothing was written (--overwrite replaces the whole value)".to_owned(),
                conflict: true,
            };
        }
    };
    let (mut added, mut replaced, mut skipped, mut same) = (vec![], vec![], vec![], vec![]);
    for (key, (_, value)) in &planned.keys {
        let new = serde_json::Value::String(value.expose_secret().to_owned());
        match object.get(key) {
            None => {
                object.insert(key.clone(), new);
                added.push(key.as_str());
            }
            Some(old) if old.as_str() == Some(value.expose_secret()) => same.push(key.as_str()),
            Some(_) if overwrite => {
                object.insert(key.clone(), new);
                replaced.push(key.as_str());
            }
            Some(_) => skipped.push(key.as_str()),
        }
    }
    let mut notes = String::new();
    for (label, keys) in [
        ("added keys", &added),
        ("replaced keys", &replaced),
        (
            "kept keys (already there, different; --overwrite replaces them)",
            &skipped,
        ),
        ("current keys", &same),
    ] {
        if !keys.is_empty() {
            let _ = write!(notes, "; {label}: {}", keys.join(", "));
        }
    }
    if replacing {
        notes.insert_str(
            0,
            "; its current value (not a JSON object) is replaced whole",
        );
    }
    let notes = notes.replacen("; ", ": ", 1);
    let changed = replacing || !added.is_empty() || !replaced.is_empty();
    Merged {
        body: changed.then(|| SecretString::from(serde_json::Value::Object(object).to_string())),
        notes,
        conflict: false,
    }
}

/// The problems that stop an import before any write: every rule of every
/// variable headed for Secrets Manager.
#[must_use]
pub fn blocking(problems: &[Problem], schema: &Schema, environment: &str) -> Vec<Problem> {
    problems
        .iter()
        .filter(|problem| problem.is_error())
        .filter(|problem| {
            problem.var.as_deref().is_none_or(|name| {
                schema.var(name).is_some_and(|var| {
                    let layer = var.layer_for(environment);
                    layer.secret.is_some() || layer.parameter.is_some()
                })
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(pairs: &[(&str, &str)]) -> Planned {
        Planned {
            keys: pairs
                .iter()
                .map(|(key, value)| {
                    (
                        (*key).to_owned(),
                        ((*key).to_uppercase(), SecretString::from(*value)),
                    )
                })
                .collect(),
            whole: None,
        }
    }

    #[test]
    fn existing_keys_change_only_with_overwrite() {
        let existing = r#"{"password":"old","host":"db"}"#;
        let plan = planned(&[("password", "new"), ("user", "app"), ("host", "db")]);
        let kept = merge(Some(existing), &plan, false);
        let body: serde_json::Value =
            serde_json::from_str(kept.body.unwrap().expose_secret()).unwrap();
        assert_eq!(body["password"], "old");
        assert_eq!(body["user"], "app");
        assert!(kept.notes.contains("added keys: user"), "{}", kept.notes);
        assert!(kept.notes.contains("kept keys"), "{}", kept.notes);
        assert!(
            !kept.notes.contains("new"),
            "no value in notes: {}",
            kept.notes
        );
        let replaced = merge(Some(existing), &plan, true);
        let body: serde_json::Value =
            serde_json::from_str(replaced.body.unwrap().expose_secret()).unwrap();
        assert_eq!(body["password"], "new");
        let nothing = merge(Some(r#"{"host":"db"}"#), &planned(&[("host", "db")]), false);
        assert!(nothing.body.is_none());
    }

    #[test]
    fn a_value_that_is_not_an_object_is_replaced_only_with_overwrite() {
        const OLD: &str = "CANARY-old-9e2b";
        let plan = planned(&[("token", "new")]);
        for existing in [
            OLD.to_owned(),
            format!(r#"["{OLD}"]"#),
            format!(r#""{OLD}""#),
            "12345".to_owned(),
            format!(r#"{{"token":"{OLD}""#),
            String::new(),
        ] {
            let kept = merge(Some(&existing), &plan, false);
            assert!(kept.conflict && kept.body.is_none(), "{existing}");
            assert!(kept.notes.contains("not a JSON object"), "{}", kept.notes);
            let replaced = merge(Some(&existing), &plan, true);
            assert!(!replaced.conflict, "{existing}");
            assert_eq!(
                replaced.body.unwrap().expose_secret(),
                r#"{"token":"new"}"#,
                "{existing}"
            );
            assert!(
                replaced.notes.contains("replaced whole"),
                "{}",
                replaced.notes
            );
            assert!(!replaced.notes.contains(OLD) && !kept.notes.contains(OLD));
        }
    }
}
