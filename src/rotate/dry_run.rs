//! `--dry-run` and `--due`: when each secret was last rotated, and whether it is
//! due against its `rotate.every`. Read-only; a read that fails is an error,
//! never a guess.

use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_secretsmanager::Client;

use super::report::Entry;
use super::targets::Target;
use super::{now_seconds, values};
use crate::secrets::fetch::FetchError;

/// The targets older than their `rotate.every`, and an entry for each of the others.
pub(super) async fn due_only(
    client: &Client,
    selected: &[Target],
) -> Result<(Vec<Target>, Vec<Entry>), FetchError> {
    let mut due = Vec::new();
    let mut skipped = Vec::new();
    for target in selected {
        let mut entry = dry_run_entry(client, target).await?;
        if entry
            .due
            .as_deref()
            .is_some_and(|due| due.starts_with("yes"))
        {
            due.push(target.clone());
        } else {
            entry.outcome = "not_due";
            entry.due = None;
            skipped.push(entry);
        }
    }
    Ok((due, skipped))
}

/// One `--dry-run` entry: when the secret was last rotated and whether it is due.
pub(super) async fn dry_run_entry(client: &Client, target: &Target) -> Result<Entry, FetchError> {
    let last = last_rotated(client, target).await?;
    let due = match (
        last.as_ref()
            .and_then(|text| crate::clock::parse_timestamp(text)),
        target.spec.every,
    ) {
        (Some(at), Some(every)) => {
            if now_seconds().saturating_sub(at) >= every.as_secs() {
                "yes"
            } else {
                "no"
            }
        }
        (None, _) => "yes (never rotated)",
        (Some(_), None) => "no (no `every`)",
    };
    let mut entry = Entry::new(&target.secret_id, target.spec.kind.as_str(), "listed");
    entry.last_rotated = Some(last.unwrap_or_else(|| "never".to_owned()));
    entry.every = Some(
        target
            .spec
            .every_text
            .clone()
            .unwrap_or_else(|| "-".to_owned()),
    );
    entry.due = Some(due.to_owned());
    Ok(entry)
}

/// `rotated_at` from the secret's JSON, else the secret's LastRotatedDate; an
/// error when Secrets Manager cannot say (never a guess).
async fn last_rotated(client: &Client, target: &Target) -> Result<Option<String>, FetchError> {
    let output = client
        .get_secret_value()
        .secret_id(&target.secret_id)
        .send()
        .await
        .map_err(|error| crate::secrets::fetch::map_sdk_error(&error))?;
    if let Some(text) = output.secret_string()
        && let Ok(object) = values::as_object(text)
        && let Some(serde_json::Value::String(at)) = object.get("rotated_at")
    {
        return Ok(Some(at.clone()));
    }
    let described = client
        .describe_secret()
        .secret_id(&target.secret_id)
        .send()
        .await
        .map_err(|error| FetchError::Other {
            code: "DescribeSecret".to_owned(),
            message: crate::secrets::fetch::map_sdk_error_any(&error),
        })?;
    Ok(described
        .last_rotated_date()
        .and_then(|date| u64::try_from(date.secs()).ok())
        .map(|secs| crate::clock::timestamp(UNIX_EPOCH + Duration::from_secs(secs))))
}
