//! Parameter Store references, as written in a schema (`parameter = "app/X:3"`) or
//! the environment (`aws-ssm://NAME`, a parameter ARN). Pure: names in, names out.

/// The longest parameter name Parameter Store accepts (ARN form included).
pub const MAX_NAME_CHARS: usize = 2048;

/// The scheme of a reference written in the environment.
const SCHEME: &str = "aws-ssm://";

/// Checks a parameter reference as written (schema or environment): a name of
/// letters, digits and `_.-/`, at most 2,048 characters, optionally `:selector`.
///
/// # Errors
/// What is wrong, in words that never repeat the text.
pub fn check_reference(reference: &str) -> Result<(), &'static str> {
    let (name, selector) = split_selector(reference);
    if name.is_empty() || name == "/" {
        return Err("it names no parameter");
    }
    if reference.chars().count() > MAX_NAME_CHARS {
        return Err("it is longer than 2048 characters");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    if !name.chars().all(allowed) {
        return Err("a parameter name holds only letters, digits and `_.-/` (no spaces)");
    }
    if name.contains("//") {
        return Err("it has an empty path segment (`//`)");
    }
    match selector {
        Some("") => Err("it ends with `:` and no version or label"),
        Some(selector)
            if !selector
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) =>
        {
            Err("a version or label holds only letters, digits and `_.-`")
        }
        _ => Ok(()),
    }
}

/// `name:selector` split at the last `:` after the last `/`.
#[must_use]
pub fn split_selector(reference: &str) -> (&str, Option<&str>) {
    let segment_start = reference.rfind('/').map_or(0, |at| at + 1);
    match reference[segment_start..].rfind(':') {
        Some(at) => (
            &reference[..segment_start + at],
            Some(&reference[segment_start + at + 1..]),
        ),
        None => (reference, None),
    }
}

/// The parameter an environment value refers to: `aws-ssm://NAME` (any case of
/// the scheme) or `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`. A hierarchical
/// name in an ARN gets back its leading `/`.
#[must_use]
pub fn from_env_value(value: &str) -> Option<String> {
    if value.len() >= SCHEME.len() && value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return Some(value[SCHEME.len()..].to_owned());
    }
    let mut parts = value.splitn(6, ':');
    let arn = parts.next()?.eq_ignore_ascii_case("arn");
    let _partition = parts.next()?;
    let service = parts.next()?;
    let (_region, _account) = (parts.next()?, parts.next()?);
    let resource = parts.next()?;
    if !arn || !service.eq_ignore_ascii_case("ssm") {
        return None;
    }
    let name = resource.strip_prefix("parameter/")?;
    Some(if name.contains('/') {
        format!("/{name}")
    } else {
        name.to_owned()
    })
}

/// The full name of a schema `parameter` in `environment`: a name starting with
/// `/` is already full; otherwise the convention places it.
#[must_use]
pub fn full_name(convention: &str, environment: &str, reference: &str) -> String {
    if reference.starts_with('/') {
        return reference.to_owned();
    }
    convention
        .replace("{environment}", environment)
        .replace("{name}", reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_in_the_environment() {
        assert_eq!(
            from_env_value("aws-ssm:///production/app/DB_HOST").as_deref(),
            Some("/production/app/DB_HOST")
        );
        assert_eq!(from_env_value("AWS-SSM://plain").as_deref(), Some("plain"));
        assert_eq!(
            from_env_value("arn:aws:ssm:eu-west-1:123456789012:parameter/production/app/DB_HOST")
                .as_deref(),
            Some("/production/app/DB_HOST")
        );
        assert_eq!(
            from_env_value("arn:aws:ssm:eu-west-1:1:parameter/flat").as_deref(),
            Some("flat")
        );
        assert_eq!(from_env_value("aws-ssm://").as_deref(), Some(""));
        assert_eq!(from_env_value("arn:aws:secretsmanager:r:1:secret:x"), None);
        assert_eq!(from_env_value("db.internal"), None);
    }

    #[test]
    fn bad_references_are_named_without_their_text() {
        for bad in [
            "",
            "/",
            "has space",
            "a//b",
            "x:",
            "x:a b",
            &"a".repeat(2049),
        ] {
            let why = check_reference(bad).unwrap_err();
            assert!(!why.contains("has space"), "{why}");
        }
        for good in [
            "app/DB_HOST",
            "/production/app/DB_HOST:3",
            "/p/x:blue",
            "flat_name",
        ] {
            assert_eq!(check_reference(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn names_follow_the_convention() {
        assert_eq!(
            full_name("/{environment}/{name}", "production", "app/DB_HOST:3"),
            "/production/app/DB_HOST:3"
        );
        assert_eq!(
            full_name("/{environment}/{name}", "production", "/shared/x"),
            "/shared/x"
        );
        assert_eq!(split_selector("/p/app/X:blue"), ("/p/app/X", Some("blue")));
        assert_eq!(split_selector("/p/app/X"), ("/p/app/X", None));
    }
}
