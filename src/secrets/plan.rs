//! Planning: which secrets to fetch for which variables, and the cross-environment
//! guard. Pure: no request is sent here, so a refused reference costs nothing.

use secrecy::ExposeSecret;

use super::reference::{SecretRef, Selector, name_of};
use crate::problem::{Code, Problem};
use crate::resolve::Resolution;
use crate::schema::{Schema, VarSpec};

/// The most secret ids one BatchGetSecretValue call may name.
pub const BATCH_SIZE: usize = 20;

/// One variable's need for one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The variable.
    pub var: String,
    /// The secret id to request (full name or ARN).
    pub secret_id: String,
    /// The reference it came from.
    pub reference: SecretRef,
    /// True when the reference was the variable's value in the environment.
    pub from_env: bool,
}

/// One distinct secret version to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Request {
    /// Full name or ARN.
    pub secret_id: String,
    /// Which version.
    pub selector: Selector,
}

/// What to fetch, or why nothing may be fetched.
#[derive(Debug, Default)]
pub struct Plan {
    /// Every variable that reads a secret.
    pub needs: Vec<Need>,
    /// Cross-environment guard refusals; when any, nothing is fetched.
    pub refused: Vec<Problem>,
}

impl Plan {
    /// The distinct secret versions to fetch, in a stable order.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        let mut requests: Vec<Request> = self
            .needs
            .iter()
            .map(|need| Request {
                secret_id: need.secret_id.clone(),
                selector: need.reference.selector.clone(),
            })
            .collect();
        requests.sort();
        requests.dedup();
        requests
    }

    /// The variables that need `request`.
    #[must_use]
    pub fn vars_for(&self, request: &Request) -> Vec<&str> {
        self.needs
            .iter()
            .filter(|need| {
                need.secret_id == request.secret_id && need.reference.selector == request.selector
            })
            .map(|need| need.var.as_str())
            .collect()
    }
}

/// Which secrets the variables of `schema` need in `environment`.
///
/// A variable reads Secrets Manager when its value in the environment is a
/// reference (`aws-sm://…` or an ARN), or when `use_secrets_manager` is on and the
/// schema gives it a `secret`.
#[must_use]
pub fn plan(
    schema: &Schema,
    environment: &str,
    use_secrets_manager: bool,
    resolution: &Resolution,
) -> Plan {
    let mut result = Plan::default();
    for (var, resolved) in schema.vars.iter().zip(&resolution.vars) {
        let Some(need) = need_for(schema, var, environment, use_secrets_manager, resolved) else {
            continue;
        };
        if !allowed(schema, environment, &need.secret_id) {
            result.refused.push(refusal(schema, environment, &need));
        }
        result.needs.push(need);
    }
    result
}

fn need_for(
    schema: &Schema,
    var: &VarSpec,
    environment: &str,
    use_secrets_manager: bool,
    resolved: &crate::resolve::ResolvedVar,
) -> Option<Need> {
    let from_environment = resolved.origin.is_supplied_locally();
    let env_reference = resolved
        .value
        .as_ref()
        .filter(|_| from_environment)
        .and_then(|value| SecretRef::from_env_value(value.expose_secret()));
    if let Some(reference) = env_reference {
        return Some(Need {
            var: var.name.clone(),
            secret_id: reference.full_name(&schema.secret_name, environment),
            reference,
            from_env: true,
        });
    }
    if !use_secrets_manager {
        return None;
    }
    let secret = var.layer_for(environment).secret.clone()?;
    let reference = SecretRef::parse(&secret);
    Some(Need {
        var: var.name.clone(),
        secret_id: reference.full_name(&schema.secret_name, environment),
        reference,
        from_env: false,
    })
}

/// The prefix every secret name of `environment` starts with under the naming
/// convention: the convention up to `{environment}`, filled in, plus `/`
/// (`production/` for the default `{environment}/{name}`).
#[must_use]
pub fn environment_prefix(convention: &str, environment: &str) -> String {
    match convention.find("{environment}") {
        Some(index) => format!("{}{environment}/", &convention[..index]),
        None => convention
            .split("{name}")
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The cross-environment guard: in environment E a secret must live under E's
/// prefix or a `shared_prefixes` entry.
#[must_use]
pub fn allowed(schema: &Schema, environment: &str, secret_id: &str) -> bool {
    if schema.guard == crate::schema::Guard::None {
        return true;
    }
    let name = name_of(secret_id);
    let own = environment_prefix(&schema.secret_name, environment);
    under_prefix(name, &own)
        || schema
            .shared_prefixes
            .iter()
            .any(|prefix| under_prefix(name, prefix))
}

/// Whether `name` lies under `prefix` by whole path segments: `prod` covers
/// `prod/db` (and `prod` itself), not `production/db`; a prefix ending in `/`
/// covers what follows it.
pub(crate) fn under_prefix(name: &str, prefix: &str) -> bool {
    let segments = prefix.trim_end_matches('/');
    if segments.is_empty() {
        return false;
    }
    name == segments
        || name
            .strip_prefix(segments)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn refusal(schema: &Schema, environment: &str, need: &Need) -> Problem {
    let own = environment_prefix(&schema.secret_name, environment);
    let shared = if schema.shared_prefixes.is_empty() {
        String::new()
    } else {
        format!(
            " or a shared prefix ({})",
            schema.shared_prefixes.join(", ")
        )
    };
    Problem::error(
        Code::CrossEnvironment,
        format!(
            "{} refers to secret `{}`, outside the {environment} environment; envgate refused to read it",
            need.var, need.secret_id
        ),
    )
    .var(&need.var)
    .help(format!(
        "In {environment}, secrets must live under `{own}`{shared}. Point {} at the {environment} secret, or add the prefix to `[envgate].shared_prefixes` if it is meant to be shared.",
        need.var
    ))
}

/// Splits requests into BatchGetSecretValue calls (AWSCURRENT, 20 ids each) and
/// single GetSecretValue calls (pinned versions, which batches cannot read).
#[must_use]
pub fn batches(requests: &[Request]) -> (Vec<Vec<String>>, Vec<Request>) {
    let (current, pinned): (Vec<&Request>, Vec<&Request>) = requests
        .iter()
        .partition(|request| request.selector == Selector::Current);
    let batches = current
        .chunks(BATCH_SIZE)
        .map(|chunk| {
            chunk
                .iter()
                .map(|request| request.secret_id.clone())
                .collect()
        })
        .collect();
    (batches, pinned.into_iter().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{EnvSnapshot, resolve};

    const SCHEMA: &str = r#"
[envgate]
shared_prefixes = ["shared/"]
[vars.DATABASE_HOST]
secret = "database/primary#host"
[vars.DATABASE_PASSWORD]
secret = "database/primary#password"
[vars.OLD_PASSWORD]
secret = "database/primary#password@AWSPREVIOUS"
[vars.SHARED]
secret = "arn:aws:secretsmanager:us-east-1:1:secret:shared/thing-AbCdEf"
[vars.PLAIN]
"#;

    fn plan_for(env: &[(&str, &str)], environment: &str, use_sm: bool) -> Plan {
        let schema = crate::schema::from_str("s.toml", SCHEMA).unwrap();
        let snapshot = EnvSnapshot::from_pairs(env.iter().copied());
        let resolution = resolve(&schema, environment, &snapshot, &[]);
        plan(&schema, environment, use_sm, &resolution)
    }

    #[test]
    fn variables_sharing_a_secret_cost_one_request() {
        let plan = plan_for(&[], "production", true);
        assert!(plan.refused.is_empty());
        let requests = plan.requests();
        assert_eq!(requests.len(), 3, "{requests:?}");
        let (batches, singles) = batches(&requests);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].len(), 2);
        assert_eq!(singles[0].selector, Selector::Stage("AWSPREVIOUS".into()));
        let current = Request {
            secret_id: "production/database/primary".into(),
            selector: Selector::Current,
        };
        assert_eq!(
            plan.vars_for(&current),
            ["DATABASE_HOST", "DATABASE_PASSWORD"]
        );
    }

    #[test]
    fn secrets_manager_off_reads_only_references_in_the_environment() {
        let plan = plan_for(
            &[("PLAIN", "aws-sm://production/app#key")],
            "production",
            false,
        );
        assert_eq!(plan.needs.len(), 1);
        assert!(plan.needs[0].from_env);
        assert_eq!(plan.needs[0].secret_id, "production/app");
    }

    #[test]
    fn the_guard_refuses_other_environments() {
        let plan = plan_for(&[("PLAIN", "aws-sm://production/app#key")], "staging", true);
        assert_eq!(plan.refused.len(), 1);
        assert_eq!(plan.refused[0].code, Code::CrossEnvironment);
        assert_eq!(plan.refused[0].var.as_deref(), Some("PLAIN"));
    }

    #[test]
    fn batches_hold_twenty_ids() {
        let requests: Vec<Request> = (0..41)
            .map(|index| Request {
                secret_id: format!("production/s{index:02}"),
                selector: Selector::Current,
            })
            .collect();
        let (batches, singles) = batches(&requests);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [20, 20, 1]
        );
        assert!(singles.is_empty());
    }

    #[test]
    fn prefixes_cover_whole_path_segments() {
        assert!(under_prefix("prod/db", "prod"));
        assert!(under_prefix("prod/db", "prod/"));
        assert!(under_prefix("prod", "prod"));
        assert!(!under_prefix("production/db", "prod"));
        assert!(!under_prefix("production/db", "prod/"));
        assert!(under_prefix("shared-x/smtp", "shared-x/"));
        assert!(!under_prefix("anything", ""));
        assert!(!under_prefix("anything", "/"));
    }

    #[test]
    fn environment_prefixes() {
        assert_eq!(
            environment_prefix("{environment}/{name}", "production"),
            "production/"
        );
        assert_eq!(
            environment_prefix("apps/{environment}/{name}", "staging"),
            "apps/staging/"
        );
        assert_eq!(environment_prefix("apps/{name}", "staging"), "apps/");
    }
}
