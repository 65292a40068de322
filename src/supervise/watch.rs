//! Refresh decisions (`--watch`), pure: what changed between two valid
//! configurations, whether that needs a restart or only a reload, and when the
//! next refresh is due.

use std::time::Duration;

use nix::sys::signal::Signal;
use secrecy::{ExposeSecret, SecretString};

/// One schema variable's resolved value in a running configuration.
pub struct Value {
    /// The variable's name.
    pub name: String,
    /// Its value, if it has one.
    pub value: Option<SecretString>,
    /// Masked in output (`sensitive` in the schema).
    pub sensitive: bool,
    /// Delivered as a file (`deliver = "file"`), so a reload can change it.
    pub file: bool,
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("name", &self.name)
            .field("sensitive", &self.sensitive)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// What a refresh asks of the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing changed.
    Unchanged,
    /// Only delivered files changed: rewrite them and send the reload signal.
    Reload(Vec<String>),
    /// Restart the program with the new environment.
    Restart(Vec<String>),
}

/// The names whose value differs between `old` and `new` (schema order), including
/// variables that gained or lost a value.
#[must_use]
pub fn changed_names(old: &[Value], new: &[Value]) -> Vec<String> {
    new.iter()
        .filter(|fresh| {
            let before = old.iter().find(|value| value.name == fresh.name);
            let before = before.and_then(|value| value.value.as_ref());
            !same(before, fresh.value.as_ref())
        })
        .map(|fresh| fresh.name.clone())
        .collect()
}

fn same(a: Option<&SecretString>, b: Option<&SecretString>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
        _ => false,
    }
}

/// Restart, unless a reload signal is set and every changed variable is a
/// delivered file that already existed (an environment variable cannot change
/// under a running process; a new file needs a new `NAME_FILE`).
#[must_use]
pub fn plan(old: &[Value], new: &[Value], reload_signal: Option<Signal>) -> Change {
    let names = changed_names(old, new);
    if names.is_empty() {
        return Change::Unchanged;
    }
    let delivered = |values: &[Value], name: &String| {
        values
            .iter()
            .any(|value| &value.name == name && value.file && value.value.is_some())
    };
    let reloadable = |name: &String| delivered(old, name) && delivered(new, name);
    if reload_signal.is_some() && names.iter().all(reloadable) {
        Change::Reload(names)
    } else {
        Change::Restart(names)
    }
}

/// The wait before the next refresh: the TTL plus up to a tenth of it, drawn from
/// `random`, so a fleet started together does not refresh together.
#[must_use]
pub fn next_delay(ttl: Duration, random: u64) -> Duration {
    let ttl = ttl.max(Duration::from_secs(1));
    let splay_ms = u64::try_from(ttl.as_millis() / 10)
        .unwrap_or(u64::MAX)
        .max(1);
    ttl + Duration::from_millis(random % splay_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(name: &str, value: Option<&str>, file: bool) -> Value {
        Value {
            name: name.to_owned(),
            value: value.map(|v| SecretString::from(v.to_owned())),
            sensitive: true,
            file,
        }
    }

    #[test]
    fn env_changes_restart_and_file_changes_reload() {
        let old = [value("A", Some("1"), false), value("KEY", Some("k1"), true)];
        let same = [value("A", Some("1"), false), value("KEY", Some("k1"), true)];
        assert_eq!(plan(&old, &same, Some(Signal::SIGHUP)), Change::Unchanged);
        let file_only = [value("A", Some("1"), false), value("KEY", Some("k2"), true)];
        assert_eq!(
            plan(&old, &file_only, Some(Signal::SIGHUP)),
            Change::Reload(vec!["KEY".to_owned()])
        );
        assert_eq!(
            plan(&old, &file_only, None),
            Change::Restart(vec!["KEY".to_owned()])
        );
        let both = [value("A", Some("2"), false), value("KEY", Some("k2"), true)];
        assert_eq!(
            plan(&old, &both, Some(Signal::SIGHUP)),
            Change::Restart(vec!["A".to_owned(), "KEY".to_owned()])
        );
        let gone = [value("A", None, false), value("KEY", Some("k1"), true)];
        assert_eq!(changed_names(&old, &gone), vec!["A".to_owned()]);
    }

    #[test]
    fn delay_is_ttl_plus_a_tenth_at_most() {
        let ttl = Duration::from_secs(300);
        for random in [0, 1, 29_999, u64::MAX] {
            let delay = next_delay(ttl, random);
            assert!(delay >= ttl && delay < ttl + Duration::from_secs(30));
        }
        assert!(next_delay(Duration::ZERO, 0) >= Duration::from_secs(1));
    }
}
