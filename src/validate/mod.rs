//! Validation: resolved values against the schema, for one environment.
//!
//! Pure: `(&Schema, environment, &Resolution) -> Vec<Problem>`. Every variable is
//! checked and every broken rule reported. Each problem names the variable, says
//! what was expected, and carries the rule's fix followed by the variable's own
//! `help` (for `SECRET_KEY`, the command that generates one).

pub use crate::rules;

use std::fmt::Write as _;

use secrecy::ExposeSecret;

use crate::problem::{Code, Problem};
use crate::resolve::{Origin, Resolution};
use crate::schema::reference::SecretRef;
use crate::schema::{Delivery, Schema, VarSpec};

/// What validation should do with rule violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rule violations are errors.
    Enforce,
    /// `SKIP_CONFIG_VALIDATION`: rule violations become warnings; missing required
    /// values and unreadable sources stay errors (envgate still fails closed).
    Skip,
}

/// Validates every variable of `schema` in `environment`.
#[must_use]
pub fn validate(
    schema: &Schema,
    environment: &str,
    resolution: &Resolution,
    mode: Mode,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    // `resolve` returns one entry per variable, in schema order.
    for (var, resolved) in schema.vars.iter().zip(&resolution.vars) {
        if resolved.origin == Origin::Failed {
            continue; // the resolver already reported why
        }
        match &resolved.value {
            None if var.is_required_in(environment) => {
                problems.push(missing(schema, var, environment));
            }
            None => {}
            Some(value) => {
                let value = value.expose_secret();
                let sensitive = var.sensitive || resolved.origin.is_secure_store();
                let mut found = check(var, environment, value, sensitive);
                if mode == Mode::Skip {
                    found = found.into_iter().map(demote).collect();
                }
                problems.extend(found);
                // What exec(2) would refuse is an error whatever the mode.
                problems.extend(deliverable(var, value));
            }
        }
        if let Some(warning) = deprecation(var, &resolved.origin) {
            problems.push(warning);
        }
    }
    problems
}

fn check(var: &VarSpec, environment: &str, value: &str, sensitive: bool) -> Vec<Problem> {
    let layer = var.layer_for(environment);
    if value.is_empty() && var.is_required_in(environment) {
        let problem =
            Problem::error(Code::Empty, format!("{} is set but empty", var.name)).help(format!(
                "{} is required in {environment}; give it a value.",
                var.name
            ));
        return vec![with_context(problem, var, layer.help.as_deref())];
    }
    rules::check_value(var.kind, &layer.rules, value, sensitive)
        .into_iter()
        .map(|violation| {
            let problem = Problem::error(
                violation.code,
                format!("{} {}", var.name, violation.message),
            )
            .help(violation.help);
            with_context(problem, var, layer.help.as_deref())
        })
        .collect()
}

/// The most bytes one `NAME=value` string may have in a program's environment
/// (Linux's MAX_ARG_STRLEN, 32 pages, the terminating NUL included).
pub const MAX_ENV_STRING_BYTES: usize = 32 * 4096;

/// What the kernel would refuse when passing the value in the environment: a NUL
/// byte ends a C string, and one string may not exceed [`MAX_ENV_STRING_BYTES`].
/// A value delivered as a file has neither limit.
fn deliverable(var: &VarSpec, value: &str) -> Option<Problem> {
    if var.deliver == Delivery::File {
        return None;
    }
    let problem = if value.contains('\0') {
        Problem::error(
            Code::NulByte,
            format!(
                "{} contains a NUL byte, which an environment variable cannot hold",
                var.name
            ),
        )
        .help("Remove the NUL byte from the value (check the file or secret it came from), or deliver it as a file with deliver = \"file\".")
    } else if var.name.len() + value.len() + 2 > MAX_ENV_STRING_BYTES {
        Problem::error(
            Code::TooLongForExec,
            format!(
                "{} is {} bytes long; the kernel accepts at most {} bytes for one environment variable",
                var.name,
                value.len(),
                MAX_ENV_STRING_BYTES - var.name.len() - 2
            ),
        )
        .help("Deliver large values as files: set deliver = \"file\" and the program reads NAME_FILE.")
    } else {
        return None;
    };
    Some(problem.var(&var.name).at(var.span.clone(), "declared here"))
}

fn missing(schema: &Schema, var: &VarSpec, environment: &str) -> Problem {
    let layer = var.layer_for(environment);
    let mut help = format!(
        "Set {name} in the environment or in an --env-file, or put it in a file and set {name}_FILE to its path.",
        name = var.name
    );
    if let Some(secret) = &layer.secret {
        let full = SecretRef::parse(secret).full_name(&schema.secret_name, environment);
        let _ = write!(
            help,
            "\nOr store it in AWS Secrets Manager as `{full}` and set USE_SECRETS_MANAGER=true."
        );
    }
    let problem = Problem::error(
        Code::Missing,
        format!("{} is not set (required in {environment})", var.name),
    )
    .help(help);
    with_context(problem, var, layer.help.as_deref())
}

fn deprecation(var: &VarSpec, origin: &Origin) -> Option<Problem> {
    let (set_as, replacement) = match origin {
        Origin::Alias(alias) => (alias.clone(), format!("Rename {alias} to {}.", var.name)),
        Origin::Env | Origin::File(_) | Origin::SecretsDir(_) | Origin::EnvFile(_)
            if var.deprecated.is_some() =>
        {
            (var.name.clone(), format!("Stop setting {}.", var.name))
        }
        _ => return None,
    };
    let note = var.deprecated.as_deref().filter(|note| !note.is_empty());
    let message = match note {
        Some(note) => format!("{set_as} is deprecated: {note}"),
        None => format!("{set_as} is deprecated"),
    };
    Some(
        Problem::warning(Code::Deprecated, message)
            .var(&var.name)
            .at(var.span.clone(), "declared here")
            .help(replacement),
    )
}

fn with_context(problem: Problem, var: &VarSpec, var_help: Option<&str>) -> Problem {
    let label = match &var.description {
        Some(description) => format!("{}: {description}", var.name),
        None => format!("{} is declared here", var.name),
    };
    let problem = problem.var(&var.name).at(var.span.clone(), label);
    match var_help {
        Some(help) => problem.help(help),
        None => problem,
    }
}

fn demote(mut problem: Problem) -> Problem {
    if problem.code != Code::Empty {
        problem.severity = crate::problem::Severity::Warning;
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{EnvSnapshot, resolve};
    use crate::schema::from_str;

    const SCHEMA: &str = r#"
[vars.SECRET_KEY]
description = "Signs sessions."
sensitive = true
min_length = 50
help = "Generate one."

[vars.DEBUG]
type = "bool"
default = "false"
[vars.DEBUG.environments.production]
one_of = ["false"]

[vars.ALLOWED_HOSTS]
type = "list"
required_in = ["production"]
"#;

    fn problems(env: &[(&str, &str)], environment: &str) -> Vec<Problem> {
        let schema = from_str("s.toml", SCHEMA).unwrap();
        let snapshot = EnvSnapshot::from_pairs(env.iter().copied());
        let resolution = resolve(&schema, environment, &snapshot, &[]);
        validate(&schema, environment, &resolution, Mode::Enforce)
    }

    fn codes(found: &[Problem]) -> Vec<(Code, &str)> {
        found
            .iter()
            .map(|problem| (problem.code, problem.var.as_deref().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn every_problem_in_one_run() {
        let found = problems(&[("SECRET_KEY", "short"), ("DEBUG", "True")], "production");
        assert_eq!(
            codes(&found),
            vec![
                (Code::TooShort, "SECRET_KEY"),
                (Code::NotOneOf, "DEBUG"),
                (Code::Missing, "ALLOWED_HOSTS"),
            ]
        );
    }

    #[test]
    fn required_in_only_binds_its_environments() {
        let key = "k".repeat(10) + &"x9!Q".repeat(10);
        let found = problems(&[("SECRET_KEY", &key), ("DEBUG", "True")], "development");
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn messages_carry_length_minimum_and_help() {
        let found = problems(&[("SECRET_KEY", "short")], "development");
        let problem = &found[0];
        assert!(problem.message.contains("(5 characters)"));
        assert!(problem.message.contains("at least 50"));
        assert!(problem.help.as_deref().unwrap().ends_with("Generate one."));
        assert!(
            problem
                .label
                .as_deref()
                .unwrap()
                .contains("Signs sessions.")
        );
    }

    #[test]
    fn skip_mode_demotes_rules_but_not_missing() {
        let schema = from_str("s.toml", SCHEMA).unwrap();
        let snapshot = EnvSnapshot::from_pairs([("SECRET_KEY", "short")]);
        let resolution = resolve(&schema, "production", &snapshot, &[]);
        let found = validate(&schema, "production", &resolution, Mode::Skip);
        assert!(!found[0].is_error());
        assert!(
            found
                .iter()
                .any(|p| p.code == Code::Missing && p.is_error())
        );
    }
}
