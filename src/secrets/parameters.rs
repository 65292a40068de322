//! The AWS SSM Parameter Store source, beside Secrets Manager: which parameters
//! the variables need (pure, guarded before any request), `GetParameters` in
//! calls of up to 10 names sent at once, and the values and problems they give.
//!
//! A variable reads Parameter Store when its value in the environment is an
//! `aws-ssm://NAME` reference or a parameter ARN, or when `USE_PARAMETER_STORE` is
//! on and the schema gives it a `parameter`. A relative `parameter` takes the
//! `[envgate] parameter_name` convention (`/{environment}/{name}` by default); a
//! `:3` or `:blue` suffix pins a version or a label, as Parameter Store writes it.

use secrecy::{ExposeSecret, SecretString};

use super::fetch::{FetchError, map_sdk_error};
use super::plan::{environment_prefix, under_prefix};
use crate::problem::{Code, Problem};
use crate::resolve::{Origin, Resolution, ResolvedVar};
use crate::schema::parameter::split_selector;
pub use crate::schema::parameter::{check_reference, from_env_value, full_name};
use crate::schema::{Guard, Schema, VarSpec};

/// The most names one `GetParameters` call may carry.
pub const BATCH_SIZE: usize = 10;

/// One variable's need for one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterNeed {
    /// The variable.
    pub var: String,
    /// The full name to request, with its `:version` or `:label` when pinned.
    pub name: String,
    /// True when the reference was the variable's value in the environment.
    pub from_env: bool,
}

/// The cross-environment guard for parameters: in environment E a name must lie
/// under E's prefix (`/E/`, or `E/`) or a `shared_prefixes` entry, by whole segments.
#[must_use]
pub fn allowed(schema: &Schema, environment: &str, name: &str) -> bool {
    if schema.guard == Guard::None {
        return true;
    }
    let (name, _) = split_selector(name);
    let name = name.trim_start_matches('/');
    let own = environment_prefix(&schema.parameter_name, environment);
    std::iter::once(own.as_str())
        .chain(schema.shared_prefixes.iter().map(String::as_str))
        .any(|prefix| under_prefix(name, prefix.trim_start_matches('/')))
}

/// Which parameters the variables of `schema` need in `environment`.
#[must_use]
pub fn needs(
    schema: &Schema,
    environment: &str,
    use_parameter_store: bool,
    resolution: &Resolution,
) -> Vec<ParameterNeed> {
    schema
        .vars
        .iter()
        .zip(&resolution.vars)
        .filter_map(|(var, resolved)| {
            need_for(schema, var, environment, use_parameter_store, resolved)
        })
        .collect()
}

fn need_for(
    schema: &Schema,
    var: &VarSpec,
    environment: &str,
    use_parameter_store: bool,
    resolved: &ResolvedVar,
) -> Option<ParameterNeed> {
    let from_environment = resolved.origin.is_supplied_locally();
    if let Some(name) = resolved
        .value
        .as_ref()
        .filter(|_| from_environment)
        .and_then(|value| from_env_value(value.expose_secret()))
    {
        return Some(ParameterNeed {
            var: var.name.clone(),
            name,
            from_env: true,
        });
    }
    if !use_parameter_store {
        return None;
    }
    let reference = var.layer_for(environment).parameter.clone()?;
    Some(ParameterNeed {
        var: var.name.clone(),
        name: full_name(&schema.parameter_name, environment, &reference),
        from_env: false,
    })
}

/// Problems found before any request: names Parameter Store would refuse, and
/// names the guard refuses. Any of them, and nothing is requested.
#[must_use]
pub fn refusals(schema: &Schema, environment: &str, needs: &[ParameterNeed]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for need in needs {
        let var = &need.var;
        if let Err(why) = check_reference(&need.name) {
            problems.push(
                Problem::error(Code::InvalidSetting, format!("{var}: the parameter reference is not valid: {why}"))
                    .var(var)
                    .help("Write aws-ssm:// followed by the parameter's full name, e.g. aws-ssm:///production/app/DB_HOST (three slashes for a name starting with /), or the parameter's ARN."),
            );
        } else if !allowed(schema, environment, &need.name) {
            let own = environment_prefix(&schema.parameter_name, environment);
            problems.push(
                Problem::error(
                    Code::CrossEnvironment,
                    format!(
                        "{var}: parameter `{}` is outside the {environment} environment's prefix `{own}`",
                        need.name
                    ),
                )
                .var(var)
                .help(format!(
                    "In {environment}, parameters must live under `{own}` or a prefix listed in [envgate] shared_prefixes. Nothing was requested."
                )),
            );
        }
    }
    problems
}

/// What Parameter Store holds for one name.
#[derive(Clone)]
pub struct FetchedParameter {
    /// The value (decrypted for a SecureString).
    pub value: SecretString,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    /// Its version.
    pub version: i64,
}

impl std::fmt::Debug for FetchedParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedParameter")
            .field("kind", &self.kind)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The answers for every name requested.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `GetParameters` calls sent.
    pub calls: usize,
    /// One result per distinct name, in request order.
    pub results: Vec<(String, Result<FetchedParameter, FetchError>)>,
}

impl Outcome {
    /// Every name failing with `error` (the deadline, no client).
    #[must_use]
    pub fn all_failed(names: &[String], error: &FetchError) -> Self {
        Self {
            calls: 0,
            results: names
                .iter()
                .map(|name| (name.clone(), Err(error.clone())))
                .collect(),
        }
    }
}

/// The distinct names `needs` request, in a stable order.
#[must_use]
pub fn distinct_names(needs: &[ParameterNeed]) -> Vec<String> {
    let mut names: Vec<String> = needs.iter().map(|need| need.name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// `names` in calls of at most [`BATCH_SIZE`], no call naming one parameter
/// twice (`/p/x` and `/p/x:blue`): an answer names the parameter, and not every
/// server says which selector it answered, so one name per call keeps each answer
/// unambiguous.
#[must_use]
pub fn calls(names: &[String]) -> Vec<Vec<String>> {
    let mut calls: Vec<Vec<String>> = Vec::new();
    for name in names {
        let (base, _) = split_selector(name);
        let open = calls.iter_mut().find(|call| {
            call.len() < BATCH_SIZE && call.iter().all(|other| split_selector(other).0 != base)
        });
        match open {
            Some(call) => call.push(name.clone()),
            None => calls.push(vec![name.clone()]),
        }
    }
    calls
}

/// Reads `names` with `GetParameters`, 10 a call, every call at once, decrypted.
pub async fn fetch(client: &aws_sdk_ssm::Client, names: &[String]) -> Outcome {
    let calls = calls(names);
    let calls = calls.iter().map(|chunk| async move {
        let answer = client
            .get_parameters()
            .set_names(Some(chunk.clone()))
            .with_decryption(true)
            .send()
            .await;
        (chunk, answer)
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut outcome = Outcome {
        calls: answers.len(),
        results: Vec::with_capacity(names.len()),
    };
    for (chunk, answer) in answers {
        match answer {
            Ok(output) => {
                for name in chunk {
                    let (base, _) = split_selector(name);
                    let refused = output
                        .invalid_parameters()
                        .iter()
                        .any(|invalid| invalid == name);
                    let found = output
                        .parameters()
                        .iter()
                        .find(|parameter| parameter.name() == Some(base))
                        .filter(|_| !refused);
                    let result = found.map_or(Err(FetchError::NotFound), |parameter| {
                        Ok(FetchedParameter {
                            value: SecretString::from(
                                parameter.value().unwrap_or_default().to_owned(),
                            ),
                            kind: parameter.r#type().map_or_else(
                                || "String".to_owned(),
                                |kind| kind.as_str().to_owned(),
                            ),
                            version: parameter.version(),
                        })
                    });
                    outcome.results.push((name.clone(), result));
                }
            }
            Err(error) => {
                let error = map_sdk_error(&error);
                for name in chunk {
                    outcome.results.push((name.clone(), Err(error.clone())));
                }
            }
        }
    }
    outcome
}

/// One parameter read or failed, for the report and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterEvent {
    /// The name requested.
    pub name: String,
    /// The version read.
    pub version: Option<i64>,
    /// The variables it fed (or the one that failed).
    pub vars: Vec<String>,
    /// envgate's code and the AWS error code, when it failed.
    pub failure: Option<(Code, String)>,
}

/// Puts the values into `resolution`; returns the problems and the events.
pub fn apply(
    schema: &Schema,
    environment: &str,
    needs: &[ParameterNeed],
    outcome: &Outcome,
    resolution: &mut Resolution,
) -> (Vec<Problem>, Vec<ParameterEvent>) {
    let mut problems = Vec::new();
    let mut events = Vec::new();
    for (name, result) in &outcome.results {
        if let Ok(parameter) = result {
            events.push(ParameterEvent {
                name: name.clone(),
                version: Some(parameter.version),
                vars: needs
                    .iter()
                    .filter(|need| need.name == *name)
                    .map(|need| need.var.clone())
                    .collect(),
                failure: None,
            });
        }
    }
    for need in needs {
        let Some((_, result)) = outcome.results.iter().find(|(name, _)| *name == need.name) else {
            continue;
        };
        let spec = schema.var(&need.var);
        match result {
            Ok(parameter) => {
                let secure = parameter.kind == "SecureString";
                if secure && spec.is_some_and(|var| !var.sensitive) {
                    problems.push(
                        Problem::warning(
                            Code::SecureParameterNotSensitive,
                            format!(
                                "{}: parameter `{}` is a SecureString but the schema does not mark {} sensitive; envgate masks it anyway",
                                need.var, need.name, need.var
                            ),
                        )
                        .var(&need.var)
                        .help("Add `sensitive = true` to the variable, so the docs and every report treat it as the secret it is."),
                    );
                }
                resolution.from_store(
                    &need.var,
                    parameter.value.clone(),
                    Origin::ParameterStore {
                        name: need.name.clone(),
                        version: Some(parameter.version),
                        secure,
                    },
                );
            }
            Err(error) => {
                let required = spec.is_some_and(|var| var.must_be_set_in(environment));
                if matches!(error, FetchError::NotFound) && !required && !need.from_env {
                    // As for Secrets Manager: an optional variable keeps its local value.
                    continue;
                }
                let problem = problem(need, error);
                events.push(ParameterEvent {
                    name: need.name.clone(),
                    version: None,
                    vars: vec![need.var.clone()],
                    failure: Some((problem.code, error.aws_code().to_owned())),
                });
                problems.push(match spec {
                    Some(var) => problem.var(&need.var).at(
                        var.span.clone(),
                        format!("{} reads this parameter", var.name),
                    ),
                    None => problem.var(&need.var),
                });
                resolution.fail(&need.var);
            }
        }
    }
    (problems, events)
}

fn problem(need: &ParameterNeed, error: &FetchError) -> Problem {
    let (var, name) = (&need.var, &need.name);
    match error {
        FetchError::NotFound => Problem::error(
            Code::SecretNotFound,
            format!("{var}: parameter `{name}` was not found (or has no such version or label)"),
        )
        .help(format!(
            "1. Check that it exists in this account and region: aws ssm get-parameters --names {name}\n2. Check the name against the environment's convention ([envgate] parameter_name).\n3. A pinned `:version` or `:label` must exist (aws ssm get-parameter-history --name …)."
        )),
        FetchError::AccessDenied { code } => Problem::error(
            Code::AccessDenied,
            format!("{var}: access to parameter `{name}` was denied ({code})"),
        )
        .help("Allow ssm:GetParameters on the parameter, and kms:Decrypt on the KMS key of a SecureString, to the task's IAM role."),
        FetchError::Throttled => Problem::error(
            Code::Throttled,
            format!("{var}: Parameter Store throttled the requests for `{name}` until the deadline"),
        )
        .help("Parameter Store allows 40 requests a second per account and region by default, shared by every task: stagger the start, raise the deadline with --timeout, or turn on higher throughput (3,000/s)."),
        FetchError::Timeout => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: no answer from Parameter Store within the deadline for parameter `{name}`"),
        )
        .help("Check network access to the SSM endpoint, or raise the deadline with --timeout SECONDS."),
        FetchError::NoCredentials { .. } => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: no AWS credentials found to read parameter `{name}`"),
        )
        .help("Give the task or instance an IAM role, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)."),
        FetchError::Unavailable { reason } => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: cannot read parameter `{name}` from Parameter Store: {reason}"),
        )
        .help("Check network access to the SSM endpoint (VPC endpoint, security groups, proxy) and AWS_REGION / AWS_ENDPOINT_URL."),
        other => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: Parameter Store did not return parameter `{name}`: {}", other.aws_code()),
        )
        .help("Check the parameter in the AWS console and CloudTrail for the request."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// moto does not enforce KMS for Parameter Store, so the mapping of a KMS
    /// refusal is held here: a SecureString whose key may not be used is 77.
    #[test]
    fn a_kms_refusal_is_access_denied() {
        use crate::secrets::fetch::ModeledError as _;
        let error = aws_sdk_ssm::operation::get_parameters::GetParametersError::InvalidKeyId(
            aws_sdk_ssm::types::error::InvalidKeyId::builder().build(),
        );
        let mapped = error.modeled().unwrap();
        assert!(
            matches!(mapped, FetchError::AccessDenied { .. }),
            "{mapped:?}"
        );
        let need = ParameterNeed {
            var: "TOKEN".to_owned(),
            name: "/production/app/TOKEN".to_owned(),
            from_env: false,
        };
        let problem = problem(&need, &mapped);
        assert_eq!(problem.code, Code::AccessDenied);
        assert!(
            problem.message.contains("/production/app/TOKEN"),
            "{}",
            problem.message
        );
        assert!(
            problem.message.contains("InvalidKeyId"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn a_call_never_names_one_parameter_twice() {
        let mut names: Vec<String> = (0..23).map(|index| format!("/p/v{index}")).collect();
        names.push("/p/v1:blue".to_owned());
        names.push("/p/v1:3".to_owned());
        let calls = calls(&names);
        assert!(calls.len() <= 4, "{calls:?}");
        assert_eq!(calls.iter().map(Vec::len).sum::<usize>(), 25);
        assert!(calls.iter().all(|call| call.len() <= BATCH_SIZE));
        for call in &calls {
            let v1 = call
                .iter()
                .filter(|name| name.starts_with("/p/v1:") || *name == "/p/v1")
                .count();
            assert!(v1 <= 1, "{call:?}");
        }
    }
}
