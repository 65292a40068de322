//! `--fetch agent`: reading through the AWS Secrets Manager Agent, or the Lambda
//! Parameters and Secrets extension, on the same host.
//!
//! Both answer `GET /secretsmanager/get?secretId=…` (with `versionStage` or
//! `versionId` for pinned references) with GetSecretValue's JSON, from a cache
//! that they refresh every TTL, so a host running many processes costs one fetch
//! per secret per TTL. Requests carry the agent's SSRF token in
//! `X-Aws-Parameters-Secrets-Token`, taken from `AWS_TOKEN` (a value, or
//! `file://PATH`), else `AWS_SESSION_TOKEN`, as the agent itself reads it. No AWS
//! SDK is set up on this path: the agent holds the credentials. Errors come back
//! as `{"__type": code, "message": …}` with the HTTP status of the AWS answer,
//! and are mapped like the SDK's ([`super::fetch::map_code`]).

use base64::Engine;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::fetch::{FetchError, FetchedSecret, Outcome, map_code};
use super::plan::Request;
use super::reference::Selector;
use crate::resolve::EnvSnapshot;

/// The agent's default address (its `http_port` default, 2773).
pub const DEFAULT_AGENT: &str = "http://127.0.0.1:2773";

/// How an error reads when the agent's own call to Secrets Manager failed.
const AGENT_UPSTREAM_FAILED: &str = "the agent could not reach Secrets Manager";

/// How an error reads when the agent closed a connection before answering.
const AGENT_DROPPED: &str = "the Secrets Manager Agent closed the connection without an answer";

/// How many requests may be in flight to the agent at once.
const CONCURRENCY: usize = 10;

/// The most of an agent's answer envgate reads: a secret holds at most 64 KiB,
/// which JSON escaping or base64 can make larger; anything beyond is refused
/// unread.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Where the agent listens and the token it wants.
pub struct Agent {
    /// `http://host:port`, without a trailing slash.
    pub base: String,
    token: SecretString,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// The agent of `ENVGATE_SECRETS_AGENT` (default [`DEFAULT_AGENT`]) and its token.
    ///
    /// # Errors
    /// [`FetchError::AgentToken`] when no token is set or its file cannot be read.
    pub fn from_env(env: &EnvSnapshot) -> Result<Self, FetchError> {
        let base = env
            .get_str("ENVGATE_SECRETS_AGENT")
            .filter(|url| !url.is_empty())
            .unwrap_or(DEFAULT_AGENT)
            .trim_end_matches('/')
            .to_owned();
        on_this_host(&base)?;
        let token = token(env)?;
        Ok(Self { base, token })
    }
}

/// `Ok` when `base` is `http://HOST:PORT` with a loopback HOST: a loopback
/// address, or a name all of whose addresses are loopback. Checked before any
/// connection: the token (possibly `AWS_SESSION_TOKEN`, a real AWS credential)
/// goes in clear over HTTP.
fn on_this_host(base: &str) -> Result<(), FetchError> {
    let refuse = |why: &str| FetchError::AgentAddress {
        reason: format!(
            "ENVGATE_SECRETS_AGENT must be an http:// URL of an agent on this host (a loopback address); {why} (got {})",
            crate::secrets::without_credentials(base)
        ),
    };
    let url = url::Url::parse(base).map_err(|_| refuse("it is not a URL"))?;
    if url.scheme() != "http" {
        return Err(refuse("its scheme is not http"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("it carries a user name or password"));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let loopback = match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => resolves_only_to_loopback(name, port),
        None => false,
    };
    if loopback {
        Ok(())
    } else {
        Err(refuse("its host is not a loopback address"))
    }
}

/// Whether `name` resolves, and only to loopback addresses.
fn resolves_only_to_loopback(name: &str, port: u16) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(addresses) = (name, port).to_socket_addrs() else {
        return false;
    };
    let addresses: Vec<_> = addresses.collect();
    !addresses.is_empty() && addresses.iter().all(|address| address.ip().is_loopback())
}

/// The SSRF token: `AWS_TOKEN` (or the file it names), else `AWS_SESSION_TOKEN`.
fn token(env: &EnvSnapshot) -> Result<SecretString, FetchError> {
    let Some(value) = ["AWS_TOKEN", "AWS_SESSION_TOKEN"]
        .into_iter()
        .find_map(|name| env.get_str(name).filter(|value| !value.is_empty()))
    else {
        return Err(FetchError::AgentToken {
            reason: "no token for the agent: set AWS_TOKEN to the agent's SSRF token (or file://PATH of the file holding it)".to_owned(),
        });
    };
    let Some(path) = value.strip_prefix("file://") else {
        return Ok(SecretString::from(value.to_owned()));
    };
    let bytes = crate::fsio::read_regular(std::path::Path::new(path), 4096).map_err(|error| {
        FetchError::AgentToken {
            reason: format!(
                "cannot read the agent's token from {path}: {}",
                crate::fsio::io_reason(&error)
            ),
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| FetchError::AgentToken {
        reason: format!("the agent's token in {path} is not UTF-8"),
    })?;
    Ok(SecretString::from(text.trim().to_owned()))
}

/// Fetches every request through the agent, [`CONCURRENCY`] at once.
pub async fn fetch(agent: &Agent, requests: &[Request]) -> Outcome {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let permits = Semaphore::new(CONCURRENCY);
    let calls = requests.iter().map(|request| {
        let (client, permits) = (&client, &permits);
        async move {
            let _permit = permits.acquire().await;
            (request.clone(), get_retrying(client, agent, request).await)
        }
    });
    let results = futures_util::future::join_all(calls).await;
    Outcome {
        single_calls: results.len(),
        results,
        batch_calls: 0,
    }
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// [`get_one`], again after a pause while the answer is one that passes (the agent
/// busy or throttled, or its own call to AWS failing), until the run's deadline
/// stops it. Backoff as on the direct path: 50 ms doubling, at most 2 s, jittered.
async fn get_retrying(
    client: &HttpClient,
    agent: &Agent,
    request: &Request,
) -> Result<FetchedSecret, FetchError> {
    let mut backoff = std::time::Duration::from_millis(50);
    loop {
        match get_one(client, agent, request).await {
            Err(error) if passes(&error) => {
                tokio::time::sleep(jittered(backoff)).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// Whether an answer may pass: the agent throttled or at its connection limit, its
/// own call to AWS timed out or failed, or it dropped the connection. A refused
/// connection (no agent) does not pass: that is said at once.
fn passes(error: &FetchError) -> bool {
    match error {
        FetchError::Throttled => true,
        FetchError::Unavailable { reason } => {
            reason.starts_with(AGENT_UPSTREAM_FAILED) || reason.starts_with(AGENT_DROPPED)
        }
        _ => false,
    }
}

/// Somewhere between half of `backoff` and all of it.
fn jittered(backoff: std::time::Duration) -> std::time::Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    backoff / 2 + backoff * u32::from(byte[0]) / 512
}

async fn get_one(
    client: &HttpClient,
    agent: &Agent,
    request: &Request,
) -> Result<FetchedSecret, FetchError> {
    let uri = format!("{}/secretsmanager/get?{}", agent.base, query(request));
    let call = hyper::Request::get(uri)
        .header(
            "X-Aws-Parameters-Secrets-Token",
            agent.token.expose_secret(),
        )
        .body(Empty::new())
        .map_err(|error| FetchError::Unavailable {
            reason: format!("cannot build the request to the agent: {error}"),
        })?;
    let response = client.request(call).await.map_err(|error| {
        let why = reason(&error);
        FetchError::Unavailable {
            reason: if error.is_connect() {
                // Nothing listens: said at once, not retried.
                format!("the Secrets Manager Agent did not answer ({why})")
            } else {
                // Dropped before an answer (the agent's own limit while AWS was slow).
                format!("{AGENT_DROPPED} ({why})")
            },
        }
    })?;
    let status = response.status().as_u16();
    let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|error| FetchError::Unavailable {
            reason: if error.is::<http_body_util::LengthLimitError>() {
                format!("the agent's answer (HTTP {status}) is larger than {MAX_ANSWER_BYTES} bytes; it was not read")
            } else {
                format!("the agent's answer (HTTP {status}) broke off")
            },
        })?
        .to_bytes();
    if status == 200 {
        return parse(&body);
    }
    Err(agent_error(status, &body))
}

/// The innermost cause of a client error (hyper-util's own says only "client error").
fn reason(error: &dyn std::error::Error) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

/// `secretId=…` and the pin, percent-encoded.
fn query(request: &Request) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("secretId", &request.secret_id);
    match &request.selector {
        Selector::Current => {}
        Selector::Stage(stage) => {
            query.append_pair("versionStage", stage);
        }
        Selector::Version(id) => {
            query.append_pair("versionId", id);
        }
    }
    query.finish()
}

/// GetSecretValue's answer as the agent writes it (`CreatedDate` in seconds, as text).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentSecret {
    #[serde(rename = "ARN")]
    arn: Option<String>,
    name: Option<String>,
    version_id: Option<String>,
    secret_string: Option<String>,
    secret_binary: Option<String>,
    #[serde(default)]
    version_stages: Vec<String>,
    created_date: Option<serde_json::Value>,
}

fn parse(body: &[u8]) -> Result<FetchedSecret, FetchError> {
    let secret: AgentSecret =
        serde_json::from_slice(body).map_err(|error| FetchError::Unavailable {
            reason: format!(
                "the agent's answer ({} bytes) is not GetSecretValue's JSON ({})",
                body.len(),
                json_error_place(&error)
            ),
        })?;
    let binary = match secret.secret_binary {
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| FetchError::Unavailable {
                    reason: "the agent's SecretBinary is not base64".to_owned(),
                })?,
        ),
        None => None,
    };
    let created = secret.created_date.and_then(|date| match date {
        serde_json::Value::String(text) => text.parse::<f64>().ok(),
        serde_json::Value::Number(number) => number.as_f64(),
        _ => None,
    });
    Ok(FetchedSecret {
        arn: secret.arn,
        name: secret.name,
        version_id: secret.version_id,
        stages: secret.version_stages,
        #[allow(clippy::cast_possible_truncation)] // seconds since 1970 fit
        created: created.map(|seconds| seconds as i64),
        string: secret.secret_string.map(SecretString::from),
        binary: binary.map(|bytes| SecretBox::new(Box::new(bytes))),
    })
}

/// What kind of JSON error `error` is and where, never the text it quotes (a
/// value, a token).
fn json_error_place(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

/// Whether `code` reads as an AWS error code (`ResourceNotFoundException`,
/// `DecryptionFailure`, `AccessDenied`, …): letters only, ending as AWS's codes
/// end. Anything else in that field (a value a hostile agent put there) is not
/// repeated.
fn looks_like_code(code: &str) -> bool {
    const ENDINGS: [&str; 7] = [
        "Exception",
        "Error",
        "Failure",
        "Denied",
        "Operation",
        "Exceeded",
        "Throttling",
    ];
    code.len() <= 64
        && code.bytes().all(|byte| byte.is_ascii_alphabetic())
        && ENDINGS.iter().any(|ending| code.ends_with(ending))
}

/// An error answer: AWS's code when the agent passed it on, else what the agent
/// itself refused. Only the status, the length and a well-formed code are
/// described: the body is never repeated (an agent or a proxy may echo the
/// token or a value).
fn agent_error(status: u16, body: &[u8]) -> FetchError {
    #[derive(Deserialize)]
    struct AwsError {
        #[serde(rename = "__type")]
        kind: Option<String>,
        message: Option<String>,
    }
    if let Ok(error) = serde_json::from_slice::<AwsError>(body)
        && let Some(kind) = error.kind.as_deref().filter(|kind| looks_like_code(kind))
    {
        return match kind {
            "TimeoutError" | "ConnectionError" | "InternalFailure" => FetchError::Unavailable {
                reason: format!("{AGENT_UPSTREAM_FAILED} ({kind}, HTTP {status})"),
            },
            _ => match map_code(
                Some(kind),
                error.message.as_deref().unwrap_or_default(),
                Some(status),
            ) {
                FetchError::Other { code, .. } => FetchError::Other {
                    code,
                    message: format!("the agent answered HTTP {status}"),
                },
                mapped => mapped,
            },
        };
    }
    let length = body.len();
    match status {
        403 => FetchError::AgentToken {
            reason: format!(
                "the agent refused the token (HTTP 403, {length} bytes): AWS_TOKEN must hold the token the agent was started with"
            ),
        },
        429 => FetchError::Throttled,
        _ => FetchError::Unavailable {
            reason: format!("the agent answered HTTP {status} ({length} bytes)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_json_becomes_a_fetched_secret() {
        let body = br#"{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:prod/db-AbCdEf","Name":"prod/db","VersionId":"v1","SecretString":"{\"password\":\"p\"}","VersionStages":["AWSCURRENT"],"CreatedDate":"1732958400.125"}"#;
        let secret = parse(body).unwrap();
        assert_eq!(secret.name.as_deref(), Some("prod/db"));
        assert_eq!(secret.created, Some(1_732_958_400));
        assert_eq!(secret.stages, ["AWSCURRENT"]);
    }

    #[test]
    fn agent_errors_map_like_the_sdks() {
        let not_found = br#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#;
        assert_eq!(agent_error(400, not_found), FetchError::NotFound);
        assert!(matches!(
            agent_error(403, b"Bad Token"),
            FetchError::AgentToken { .. }
        ));
        assert!(matches!(
            agent_error(504, br#"{"__type":"TimeoutError","message":"Timeout"}"#),
            FetchError::Unavailable { .. }
        ));
        assert_eq!(
            agent_error(429, b"Connection limit exceeded"),
            FetchError::Throttled
        );
    }

    #[test]
    fn only_an_agent_on_this_host_is_accepted() {
        for base in [
            "http://127.0.0.1:2773",
            "http://127.9.8.7:1",
            "http://[::1]:2773",
            "http://localhost:2773",
        ] {
            assert_eq!(on_this_host(base), Ok(()), "{base}");
        }
        for base in [
            "http://192.0.2.1:2773",
            "http://[2001:db8::1]:2773",
            "https://127.0.0.1:2773",
            "http://u:p@127.0.0.1:2773",
            "http://agent.invalid:2773",
            "127.0.0.1:2773",
        ] {
            let error = on_this_host(base).unwrap_err();
            assert!(
                matches!(error, FetchError::AgentAddress { .. }),
                "{base}: {error:?}"
            );
            assert!(!format!("{error:?}").contains("u:p"), "{error:?}");
        }
    }

    proptest::proptest! {
        /// Whatever an agent answers, with whatever status, the error never
        /// repeats a byte run of the body (a value, a token) longer than an
        /// AWS error code, and its parse errors say where, not what.
        #[test]
        fn no_answer_is_repeated(
            status in 200u16..600,
            canary in "CANARY[a-zA-Z0-9]{10,30}",
            shape in 0usize..6,
        ) {
            let body = match shape {
                0 => format!(r#"{{"SecretString":"{canary}","Name":"n"}}"#),
                1 => format!(r#"{{"__type":"{canary} x","message":"{canary}"}}"#),
                2 => format!(r#"{{"__type":"ValidationException","message":"{canary}"}}"#),
                3 => format!(r#"{{"SecretString": {canary}}}"#),
                4 => canary.clone(),
                _ => format!(r#"{{"SecretBinary":"{canary}!"}}"#),
            };
            let described = if status == 200 {
                parse(body.as_bytes()).err().map(|error| format!("{error:?}"))
            } else {
                Some(format!("{:?}", agent_error(status, body.as_bytes())))
            };
            if let Some(described) = described {
                proptest::prop_assert!(!described.contains(&canary), "{}", described);
            }
        }
    }

    #[test]
    fn pins_go_in_the_query() {
        let request = Request {
            secret_id: "prod/db key".to_owned(),
            selector: Selector::Stage("AWSPREVIOUS".to_owned()),
        };
        assert_eq!(
            query(&request),
            "secretId=prod%2Fdb+key&versionStage=AWSPREVIOUS"
        );
    }
}
