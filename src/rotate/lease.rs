//! The rotation lease: one run at a time per secret.
//!
//! A lease is the tag `envgate-rotation-lease` on the secret, whose value is
//! `TOKEN:HOST:BOOT:PIDNS:PID:EXPIRY`. The token is 128 random bits drawn once per
//! run: a lease is this run's only when the token matches exactly, so two
//! containers with the same hostname (both PID 1) never take each other's lease.
//! A lease is live until it expires (15 minutes after it was taken), unless it
//! was written on this machine's boot, in this PID namespace, by a process that no
//! longer exists: only then can envgate tell the run died, so a lease from another
//! container or host is honoured until it expires. Tags have no compare-and-swap:
//! a run writes its lease, waits for concurrent writes to land, and goes on only if
//! its own still stands; it removes the lease only while the lease is still its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::Client;

/// The tag that holds a rotation's lease.
pub const LEASE_TAG: &str = "envgate-rotation-lease";

/// How long a lease protects a run that stopped answering.
const LEASE_SECONDS: u64 = 15 * 60;

/// How long a run waits for a concurrent lease write to land.
const LEASE_SETTLE: Duration = Duration::from_millis(300);

/// This run's lease identity.
#[derive(Debug, Clone)]
pub struct Lease {
    token: String,
}

/// Who holds a live lease, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder(pub String);

impl Lease {
    /// A new identity: 128 random bits.
    ///
    /// # Errors
    /// When the system has no randomness to give.
    pub fn new() -> Result<Self, String> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|error| format!("no randomness: {error}"))?;
        Ok(Self {
            token: bytes.iter().fold(String::new(), |mut hex, byte| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{byte:02x}");
                hex
            }),
        })
    }

    /// The tag value for a lease taken now.
    #[must_use]
    pub fn value(&self) -> String {
        let here = Here::now();
        format!(
            "{}:{}:{}:{}:{}:{}",
            self.token,
            here.host,
            here.boot,
            here.pid_namespace,
            std::process::id(),
            now_seconds() + LEASE_SECONDS
        )
    }

    /// True when `value` is a lease this run wrote.
    #[must_use]
    pub fn owns(&self, value: &str) -> bool {
        value.split(':').next() == Some(self.token.as_str())
    }
}

/// Where this run runs: host, boot and PID namespace.
struct Here {
    host: String,
    boot: String,
    pid_namespace: String,
}

impl Here {
    fn now() -> Self {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_default()
            .replace(':', "_");
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|id| id.trim().to_owned())
            .unwrap_or_default();
        let pid_namespace = std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .and_then(|link| {
                let text = link.to_string_lossy().into_owned();
                text.strip_prefix("pid:[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Self {
            host,
            boot,
            pid_namespace,
        }
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The holder of `value` when the lease is live for `me`; `None` when it expired,
/// was written by `me`, or by a process of this boot and PID namespace that is gone.
#[must_use]
pub fn live_holder(value: &str, me: &Lease) -> Option<Holder> {
    if me.owns(value) {
        return None;
    }
    let parts: Vec<&str> = value.split(':').collect();
    let expires: u64 = parts.last()?.parse().ok()?;
    if expires <= now_seconds() {
        return None;
    }
    let [_, host, boot, pid_namespace, pid, _] = parts.as_slice() else {
        // Another format (an older envgate): honour it until it expires.
        return Some(Holder(
            value
                .rsplit_once(':')
                .map_or(value, |(holder, _)| holder)
                .to_owned(),
        ));
    };
    let here = Here::now();
    let gone = !boot.is_empty()
        && *boot == here.boot
        && !pid_namespace.is_empty()
        && *pid_namespace == here.pid_namespace
        && !std::path::Path::new(&format!("/proc/{pid}")).exists();
    if gone {
        return None;
    }
    Some(Holder(format!("{host}, pid {pid}")))
}

async fn current_value(client: &Client, secret_id: &str) -> Result<Option<String>, String> {
    let described = client
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|error| crate::secrets::fetch::map_sdk_error_any(&error))?;
    Ok(described
        .tags()
        .iter()
        .find(|tag| tag.key() == Some(LEASE_TAG))
        .and_then(|tag| tag.value().map(str::to_owned)))
}

/// Takes the lease on `secret_id` for this run, given the lease value seen.
///
/// # Errors
/// Who holds it, when another live run does, or why it could not be written.
pub async fn take(
    client: &Client,
    secret_id: &str,
    seen: Option<&str>,
    me: &Lease,
) -> Result<(), String> {
    if let Some(Holder(holder)) = seen.and_then(|value| live_holder(value, me)) {
        return Err(format!(
            "another rotation ({holder}) holds this secret; it was left alone. Run again when it has finished or its lease has expired."
        ));
    }
    client
        .tag_resource()
        .secret_id(secret_id)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(LEASE_TAG)
                .value(me.value())
                .build(),
        )
        .send()
        .await
        .map_err(|error| crate::secrets::fetch::map_sdk_error_any(&error))?;
    // Two runs that looked at the same moment both write; the later write wins.
    tokio::time::sleep(LEASE_SETTLE).await;
    match current_value(client, secret_id).await? {
        Some(value) if me.owns(&value) => Ok(()),
        _ => Err(
            "another rotation took this secret at the same moment; it was left to that run"
                .to_owned(),
        ),
    }
}

/// Removes the lease, only while it is still this run's (best effort).
pub async fn release(client: &Client, secret_id: &str, me: &Lease) {
    let Ok(Some(value)) = current_value(client, secret_id).await else {
        return;
    };
    if !me.owns(&value) {
        return;
    }
    let _ = client
        .untag_resource()
        .secret_id(secret_id)
        .tag_keys(LEASE_TAG)
        .send()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_its_runs_by_token_alone() {
        let me = Lease::new().unwrap();
        let other = Lease::new().unwrap();
        let mine = me.value();
        assert!(me.owns(&mine));
        assert!(!other.owns(&mine), "same host and pid, other token");
        assert_eq!(live_holder(&mine, &me), None);
        assert!(
            live_holder(&mine, &other).is_some(),
            "this process is alive"
        );
    }

    #[test]
    fn dead_processes_count_only_in_this_boot_and_pid_namespace() {
        let me = Lease::new().unwrap();
        let here = Here::now();
        let future = now_seconds() + 600;
        let dead_here = format!(
            "0000:{}:{}:{}:999999999:{future}",
            here.host, here.boot, here.pid_namespace
        );
        assert_eq!(live_holder(&dead_here, &me), None);
        let other_namespace = format!("0000:{}:{}:1:999999999:{future}", here.host, here.boot);
        assert!(
            live_holder(&other_namespace, &me).is_some(),
            "another PID namespace: honoured until it expires"
        );
        let expired = format!("0000:{}:{}:1:1:{}", here.host, here.boot, now_seconds() - 1);
        assert_eq!(live_holder(&expired, &me), None);
        let legacy = format!("{}:1:{future}", here.host);
        assert!(live_holder(&legacy, &me).is_some());
    }
}
