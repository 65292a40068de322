//! What can be rotated: the schema's variables with a `rotate` table and a secret.
//! Pure.

use crate::schema::{RotateKind, RotateSpec, Schema};
use crate::secrets::reference::SecretRef;

/// `--type` values, as the guide's `rotate_secrets` command names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RotateType {
    /// PostgreSQL passwords (`kind = "postgres"`).
    Database,
    /// API keys (`kind = "api-key"`).
    ApiKey,
    /// Django's SECRET_KEY (`kind = "django-secret-key"`).
    DjangoSecretKey,
}

impl RotateType {
    /// The schema's `rotate.kind` for this type.
    #[must_use]
    pub fn kind(self) -> RotateKind {
        match self {
            Self::Database => RotateKind::Postgres,
            Self::ApiKey => RotateKind::ApiKey,
            Self::DjangoSecretKey => RotateKind::DjangoSecretKey,
        }
    }
}

/// One secret to rotate.
#[derive(Debug, Clone)]
pub struct Target {
    /// The variable whose `rotate` table this is.
    pub var: String,
    /// The short name (`primary` for `database/primary`).
    pub name: String,
    /// The secret id in this environment.
    pub secret_id: String,
    /// The JSON key of the rotated value.
    pub key: Option<String>,
    /// The rotation settings.
    pub spec: RotateSpec,
}

/// Every rotatable secret in `environment`, in schema order.
#[must_use]
pub fn targets(schema: &Schema, environment: &str) -> Vec<Target> {
    let mut found: Vec<Target> = Vec::new();
    for var in &schema.vars {
        let (Some(spec), Some(secret)) = (&var.rotate, var.layer_for(environment).secret.clone())
        else {
            continue;
        };
        let reference = SecretRef::parse(&secret);
        let secret_id = reference.full_name(&schema.secret_name, environment);
        if found
            .iter()
            .any(|target| target.secret_id == secret_id && target.spec.kind == spec.kind)
        {
            continue;
        }
        let name = reference
            .path
            .rsplit(['/', ':'])
            .next()
            .unwrap_or(&reference.path)
            .to_owned();
        found.push(Target {
            var: var.name.clone(),
            name,
            secret_id,
            key: reference.key.clone(),
            spec: (**spec).clone(),
        });
    }
    found
}

/// The targets `--type`/`--name` (or `--all`) select.
///
/// # Errors
/// A message listing the known targets when nothing matches.
pub fn select(
    all: &[Target],
    kind: Option<RotateType>,
    name: Option<&str>,
) -> Result<Vec<Target>, String> {
    let selected: Vec<Target> = all
        .iter()
        .filter(|target| kind.is_none_or(|kind| target.spec.kind == kind.kind()))
        .filter(|target| {
            // Whole path segments: `primary` and `database/primary` select
            // `…/database/primary`, never `…/replica-primary`.
            name.is_none_or(|name| {
                target.name == name
                    || target.secret_id == name
                    || target.secret_id.ends_with(&format!("/{name}"))
            })
        })
        .cloned()
        .collect();
    if selected.is_empty() {
        let known: Vec<String> = all
            .iter()
            .map(|target| {
                format!(
                    "--type {} --name {}",
                    target.spec.kind.type_name(),
                    target.name
                )
            })
            .collect();
        return Err(format!(
            "no rotatable secret matches; the schema's are: {}",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join("; ")
            }
        ));
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_of_the_example_schema() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/muejam.toml"))
                .unwrap();
        let schema = crate::schema::from_str("muejam.toml", &text).unwrap();
        let all = targets(&schema, "production");
        let names: Vec<(&str, &str)> = all
            .iter()
            .map(|t| (t.spec.kind.as_str(), t.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("django-secret-key", "secret-key"),
                ("postgres", "primary"),
                ("api-key", "resend"),
                ("api-key", "clerk")
            ]
        );
        assert_eq!(all[2].secret_id, "production/api-keys/resend");
        assert_eq!(
            select(&all, Some(RotateType::ApiKey), Some("resend"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            select(&all, None, Some("api-keys/resend")).unwrap().len(),
            1
        );
        assert!(select(&all, None, Some("esend")).is_err());
        let error = select(&all, Some(RotateType::ApiKey), Some("stripe")).unwrap_err();
        assert!(error.contains("--type api-key --name resend"), "{error}");
        assert!(error.contains("--type database --name primary"), "{error}");
    }
}
