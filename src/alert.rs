//! Alerts: the audit events a person must hear about, sent to Amazon SNS (whose
//! subscriptions reach email, Slack through AWS Chatbot, PagerDuty) or to a
//! webhook that takes Slack's incoming-webhook JSON.
//!
//! Which events: `secret.access_denied` (critical; the guard's refusals are this
//! event), `secret.read_failed`, `rotation.failed`, a failed `secret.refresh`, and
//! `config.validation_skipped`. `ENVGATE_ALERT_SEVERITY=critical` keeps only the
//! critical ones. Sending never changes an outcome: every target together gets at
//! most [`BUDGET`], nothing is set up when nothing is due, and a target that fails
//! is reported back to the audit trail by its caller (never alerted itself).
//!
//! Nothing here reads a value: what is sent is the audit line (names, ids, codes)
//! and a one-line summary of it. A webhook URL is shown as scheme and host only:
//! Slack puts its secret in the path.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::resolve::EnvSnapshot;
use crate::secrets::SecretsOptions;

/// The most time all alerts of one flush may take, on every path.
pub const BUDGET: Duration = Duration::from_secs(2);

/// SNS's longest subject.
const MAX_SUBJECT_CHARS: usize = 100;

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An SNS topic, by ARN.
    Sns {
        /// `arn:aws:sns:REGION:ACCOUNT:TOPIC`.
        topic_arn: String,
    },
    /// A URL that receives a JSON POST.
    Webhook {
        /// The URL as given (it may hold a token: never shown whole).
        url: String,
        /// `scheme://host`, what is shown.
        shown: String,
    },
}

impl Target {
    /// Parses `--alert` / one item of `ENVGATE_ALERT`.
    ///
    /// # Errors
    /// What is wrong with it (never repeating a URL's path or query).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(arn) = text.strip_prefix("sns:") {
            let parts: Vec<&str> = arn.split(':').collect();
            return if parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "sns"
                && !parts[5].is_empty()
            {
                Ok(Self::Sns {
                    topic_arn: arn.to_owned(),
                })
            } else {
                Err("an SNS target is `sns:` followed by the topic's ARN (sns:arn:aws:sns:REGION:ACCOUNT:TOPIC)".to_owned())
            };
        }
        let url = url::Url::parse(text)
            .map_err(|_| "an alert target is `sns:TOPIC_ARN` or an https:// URL".to_owned())?;
        let shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        match url.scheme() {
            "https" if url.host().is_some() => Ok(Self::Webhook {
                url: text.to_owned(),
                shown,
            }),
            "http" if on_loopback(&url) => Ok(Self::Webhook {
                url: text.to_owned(),
                shown,
            }),
            "http" => Err(format!(
                "{shown}: a webhook must be https:// (plain http:// only to 127.0.0.1, ::1 or localhost): the alert would cross the network in clear"
            )),
            _ => Err(format!(
                "{shown}: an alert target is `sns:TOPIC_ARN` or an https:// URL"
            )),
        }
    }

    /// How the target is named in reports and the audit trail.
    #[must_use]
    pub fn shown(&self) -> &str {
        match self {
            Self::Sns { topic_arn } => topic_arn,
            Self::Webhook { shown, .. } => shown,
        }
    }
}

fn on_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// How grave an event must be to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Failures that need a look (the default threshold: everything listed).
    Error,
    /// Refusals and failures that need a person now.
    Critical,
}

impl Severity {
    /// Parses `ENVGATE_ALERT_SEVERITY`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Self::Error),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// The alert severity of an audit event, when it is one that is sent.
#[must_use]
pub fn severity_of(event: &str, audit_severity: &str, outcome: Option<&str>) -> Option<Severity> {
    let grave = |default: Severity| {
        Some(if audit_severity == "critical" {
            Severity::Critical
        } else {
            default
        })
    };
    match event {
        "secret.access_denied" => Some(Severity::Critical),
        "secret.read_failed" | "rotation.failed" | "config.validation_skipped" => {
            grave(Severity::Error)
        }
        "secret.refresh" if outcome == Some("failure") => grave(Severity::Error),
        _ => None,
    }
}

/// One alert waiting to be sent.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The event name.
    pub event: String,
    /// Its alert severity.
    pub severity: Severity,
    /// The audit line (JSON), exactly.
    pub line: String,
    /// `envgate: EVENT in ENVIRONMENT on HOST`.
    pub subject: String,
}

impl Pending {
    /// An alert for the audit `line` of `event`.
    #[must_use]
    pub fn new(
        event: &str,
        severity: Severity,
        line: String,
        environment: &str,
        host: &str,
    ) -> Self {
        let subject: String = format!("envgate: {event} in {environment} on {host}")
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(MAX_SUBJECT_CHARS)
            .collect();
        Self {
            event: event.to_owned(),
            severity,
            line,
            subject,
        }
    }

    /// One line for a chat message: the subject, and the variables, the secret
    /// and the error code of the audit line when it has them.
    #[must_use]
    pub fn text(&self) -> String {
        let line: serde_json::Value = serde_json::from_str(&self.line).unwrap_or_default();
        let mut text = format!("{} ({})", self.subject, self.severity.as_str());
        if let Some(vars) = line["vars"].as_array().filter(|vars| !vars.is_empty()) {
            let names: Vec<&str> = vars.iter().filter_map(serde_json::Value::as_str).collect();
            let _ = write!(text, ": {}", names.join(", "));
        }
        for (field, label) in [
            ("secret_id", "secret"),
            ("error_code", "code"),
            ("store", "store"),
        ] {
            if let Some(value) = line[field].as_str() {
                let _ = write!(text, "; {label} {value}");
            }
        }
        text
    }
}

/// The alert targets of one run, and what waits to be sent.
#[derive(Debug)]
pub struct Alerts {
    targets: Vec<Target>,
    threshold: Severity,
    pending: Mutex<Vec<Pending>>,
    options: SecretsOptions,
    env: EnvSnapshot,
}

impl Alerts {
    /// Alerts to `targets` at `threshold` and above; the SNS client, when one is
    /// needed, is set up from `options` and `env` as the Secrets Manager one is.
    #[must_use]
    pub fn new(
        targets: Vec<Target>,
        threshold: Severity,
        options: SecretsOptions,
        env: EnvSnapshot,
    ) -> Self {
        let options = SecretsOptions {
            timeout: BUDGET,
            ..options
        };
        Self {
            targets,
            threshold,
            pending: Mutex::new(Vec::new()),
            options,
            env,
        }
    }

    /// Whether an event of `severity` is sent.
    #[must_use]
    pub fn wants(&self, severity: Severity) -> bool {
        !self.targets.is_empty() && severity >= self.threshold
    }

    /// Queues an alert.
    pub fn queue(&self, alert: Pending) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.push(alert);
        }
    }

    /// Sends what is queued to every target at once, within [`BUDGET`] in all;
    /// returns the targets that failed, each with why. Nothing is set up when
    /// nothing is queued.
    #[must_use]
    pub fn send(&self) -> Vec<(String, String)> {
        let pending: Vec<Pending> = self
            .pending
            .lock()
            .map(|mut pending| std::mem::take(&mut *pending))
            .unwrap_or_default();
        if pending.is_empty() {
            return Vec::new();
        }
        let started = std::time::Instant::now();
        let sent = crate::secrets::block_on_within(BUDGET, async {
            let sns = if self
                .targets
                .iter()
                .any(|target| matches!(target, Target::Sns { .. }))
            {
                Some(aws_sdk_sns::Client::new(
                    &crate::secrets::sdk_config(&self.options, &self.env).await?,
                ))
            } else {
                None
            };
            let sends = self
                .targets
                .iter()
                .flat_map(|target| pending.iter().map(move |alert| (target, alert)));
            let sends = sends.map(|(target, alert)| {
                let sns = sns.as_ref();
                async move {
                    let left = BUDGET.saturating_sub(started.elapsed());
                    let result =
                        tokio::time::timeout(left, send_one(target, alert, sns, &self.env))
                            .await
                            .unwrap_or_else(|_| {
                                Err(format!("no answer within {} s", BUDGET.as_secs()))
                            });
                    (target, result)
                }
            });
            Ok(futures_util::future::join_all(sends).await)
        });
        match sent {
            Ok(results) => {
                let mut failed: Vec<(String, String)> = Vec::new();
                for (target, result) in results {
                    if let Err(why) = result
                        && !failed.iter().any(|(shown, _)| shown == target.shown())
                    {
                        failed.push((target.shown().to_owned(), why));
                    }
                }
                failed
            }
            Err(error) => self
                .targets
                .iter()
                .map(|target| {
                    (
                        target.shown().to_owned(),
                        format!("not sent: {}", error.aws_code()),
                    )
                })
                .collect(),
        }
    }
}

async fn send_one(
    target: &Target,
    alert: &Pending,
    sns: Option<&aws_sdk_sns::Client>,
    env: &EnvSnapshot,
) -> Result<(), String> {
    match (target, sns) {
        (Target::Sns { topic_arn }, Some(client)) => publish(client, topic_arn, alert).await,
        (Target::Webhook { url, .. }, _) => {
            crate::secrets::post_json(env, url, &webhook_body(alert)).await
        }
        (Target::Sns { .. }, None) => Err("no SNS client".to_owned()),
    }
}

async fn publish(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    alert: &Pending,
) -> Result<(), String> {
    use aws_sdk_sns::types::MessageAttributeValue;
    let attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|error| error.to_string())
    };
    client
        .publish()
        .topic_arn(topic_arn)
        .subject(&alert.subject)
        .message(&alert.line)
        .message_attributes("event", attribute(&alert.event)?)
        .message_attributes("severity", attribute(alert.severity.as_str())?)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| crate::secrets::fetch::map_sdk_error_any(&error))
}

/// Slack's incoming-webhook shape, with the audit line as an object beside it.
fn webhook_body(alert: &Pending) -> Vec<u8> {
    let event: serde_json::Value = serde_json::from_str(&alert.line).unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({ "text": alert.text(), "event": event }))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_how_they_are_shown() {
        let sns = Target::parse("sns:arn:aws:sns:eu-west-1:123456789012:ops").unwrap();
        assert_eq!(sns.shown(), "arn:aws:sns:eu-west-1:123456789012:ops");
        let slack = Target::parse("https://hooks.slack.com/services/T000/B000/XXXXSECRET").unwrap();
        assert_eq!(slack.shown(), "https://hooks.slack.com");
        let local = Target::parse("http://127.0.0.1:9000/hook?token=abc").unwrap();
        assert_eq!(local.shown(), "http://127.0.0.1");
        assert!(Target::parse("http://[::1]:9/x").is_ok());
        assert!(Target::parse("http://localhost:9/x").is_ok());
        let remote = Target::parse("http://hooks.example.com/T0/SECRETPATH").unwrap_err();
        assert!(!remote.contains("SECRETPATH"), "{remote}");
        assert!(Target::parse("sns:not-an-arn").is_err());
        assert!(Target::parse("mailto:ops@example.com").is_err());
    }

    #[test]
    fn which_events_are_sent() {
        assert_eq!(
            severity_of("secret.access_denied", "critical", Some("refused")),
            Some(Severity::Critical)
        );
        assert_eq!(
            severity_of("secret.read_failed", "error", Some("failure")),
            Some(Severity::Error)
        );
        assert_eq!(
            severity_of("rotation.failed", "error", None),
            Some(Severity::Error)
        );
        assert_eq!(
            severity_of("secret.refresh", "critical", Some("failure")),
            Some(Severity::Critical)
        );
        assert_eq!(
            severity_of("secret.refresh", "info", Some("restarted")),
            None
        );
        assert_eq!(
            severity_of("config.validation_skipped", "warning", None),
            Some(Severity::Error)
        );
        assert_eq!(severity_of("config.invalid", "error", None), None);
        assert_eq!(severity_of("alert.failed", "warning", None), None);
    }

    #[test]
    fn the_subject_fits_sns() {
        let alert = Pending::new(
            "secret.read_failed",
            Severity::Error,
            "{}".to_owned(),
            "production",
            &"h\u{e9}".repeat(80),
        );
        assert!(alert.subject.chars().count() <= MAX_SUBJECT_CHARS);
        assert!(alert.subject.is_ascii());
    }
}
