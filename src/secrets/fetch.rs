//! Fetching from Secrets Manager: BatchGetSecretValue for AWSCURRENT (20 ids per
//! call, every call in flight at once), GetSecretValue for pinned versions and as
//! the fallback, and one mapping from SDK errors to [`FetchError`].
//!
//! Why a fallback: the guide's IAM policy grants `secretsmanager:GetSecretValue`
//! but not `secretsmanager:BatchGetSecretValue`, and the batch action has a far
//! lower rate quota (100 requests per second per region, not adjustable, against
//! 10,000). In `auto` mode each batch call is tried once, without the SDK's
//! retries: when it is throttled (or denied, or fails any other way) its ids go
//! at once to concurrent GetSecretValue calls, which retry as usual, within the
//! same deadline. Ids that a batch already returned are not fetched again. In a
//! restart storm the batch quota runs out first; waiting for it (the SDK's
//! backoff) leaves the far larger GetSecretValue quota idle.

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use futures_util::future::join_all;
use secrecy::{SecretBox, SecretString};
use tokio::sync::Semaphore;

use super::plan::{Request, batches};
use super::reference::Selector;

/// How many GetSecretValue calls may be in flight at once.
const SINGLE_CONCURRENCY: usize = 10;

/// How envgate reads secrets (`--fetch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FetchMode {
    /// Batches, falling back to single reads when the batch action is denied or throttled.
    #[default]
    Auto,
    /// Batches only (BatchGetSecretValue).
    Batch,
    /// One GetSecretValue call per secret.
    Single,
    /// Through the Secrets Manager Agent on this host (`ENVGATE_SECRETS_AGENT`).
    Agent,
}

/// A secret as Secrets Manager returned it; its value is held as a secret from
/// the moment the SDK's response is read.
pub struct FetchedSecret {
    /// The secret's ARN (with AWS's random suffix).
    pub arn: Option<String>,
    /// The secret's name.
    pub name: Option<String>,
    /// The version read.
    pub version_id: Option<String>,
    /// The staging labels of that version.
    pub stages: Vec<String>,
    /// When that version was created (seconds since the epoch).
    pub created: Option<i64>,
    /// SecretString.
    pub string: Option<SecretString>,
    /// SecretBinary.
    pub binary: Option<SecretBox<Vec<u8>>>,
}

/// A [`FetchedSecret`] from a batch entry or a GetSecretValue output (same
/// accessors, different types): the value is wrapped as a secret at once.
macro_rules! fetched {
    ($source:expr) => {
        FetchedSecret {
            arn: $source.arn().map(str::to_owned),
            name: $source.name().map(str::to_owned),
            version_id: $source.version_id().map(str::to_owned),
            stages: $source.version_stages().to_vec(),
            created: $source.created_date().map(|date| date.secs()),
            string: $source
                .secret_string()
                .map(|text| SecretString::from(text.to_owned())),
            binary: $source
                .secret_binary()
                .map(|blob| SecretBox::new(Box::new(blob.as_ref().to_vec()))),
        }
    };
}

impl std::fmt::Debug for FetchedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedSecret")
            .field("arn", &self.arn)
            .field("version_id", &self.version_id)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// ResourceNotFoundException.
    NotFound,
    /// AccessDeniedException, or an HTTP 403 without a modeled error.
    AccessDenied {
        /// The AWS error code (or `HTTP 403`).
        code: String,
    },
    /// DecryptionFailure: KMS could not decrypt the secret.
    Decryption,
    /// The secret is scheduled for deletion.
    ScheduledForDeletion,
    /// Throttled past every retry.
    Throttled,
    /// The endpoint could not be reached or did not answer.
    Unavailable {
        /// What happened, without the request.
        reason: String,
    },
    /// The deadline passed.
    Timeout,
    /// The Secrets Manager Agent has no token from envgate, or refused it.
    AgentToken {
        /// What is wrong.
        reason: String,
    },
    /// `ENVGATE_SECRETS_AGENT` does not name an agent on this host: refused
    /// before any connection, so the token never leaves the host.
    AgentAddress {
        /// What is wrong.
        reason: String,
    },
    /// The credential chain found no credentials.
    NoCredentials {
        /// The SDK's explanation.
        detail: String,
    },
    /// Any other service error.
    Other {
        /// The AWS error code.
        code: String,
        /// The AWS message.
        message: String,
    },
}

impl FetchError {
    /// The AWS error code, for the audit log and JSON output.
    #[must_use]
    pub fn aws_code(&self) -> &str {
        match self {
            Self::NotFound => "ResourceNotFoundException",
            Self::AccessDenied { code } | Self::Other { code, .. } => code,
            Self::Decryption => "DecryptionFailure",
            Self::ScheduledForDeletion => "InvalidRequestException",
            Self::Throttled => "ThrottlingException",
            Self::Unavailable { .. } => "Unreachable",
            Self::Timeout => "Timeout",
            Self::NoCredentials { .. } => "NoCredentials",
            Self::AgentToken { .. } => "AgentToken",
            Self::AgentAddress { .. } => "AgentAddress",
        }
    }
}

/// What a fetch did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One result per request.
    pub results: Vec<(Request, Result<FetchedSecret, FetchError>)>,
    /// BatchGetSecretValue calls sent.
    pub batch_calls: usize,
    /// GetSecretValue calls sent.
    pub single_calls: usize,
}

#[derive(Default)]
struct Counters {
    batch: AtomicUsize,
    single: AtomicUsize,
}

/// Fetches every request, concurrently.
pub async fn fetch(client: &Client, requests: &[Request], mode: FetchMode) -> Outcome {
    let counters = Counters::default();
    let (batched, mut singles) = match mode {
        FetchMode::Single | FetchMode::Agent => (Vec::new(), requests.to_vec()),
        FetchMode::Auto | FetchMode::Batch => batches(requests),
    };
    let mut results = Vec::new();
    let calls = batched.iter().map(|ids| {
        counters.batch.fetch_add(1, Ordering::Relaxed);
        batch_get(client, ids, mode == FetchMode::Auto)
    });
    let outcomes = join_all(calls).await;
    for (ids, outcome) in batched.into_iter().zip(outcomes) {
        match outcome {
            Ok(found) => results.extend(found),
            Err(error) if mode == FetchMode::Auto && falls_back(&error) => {
                singles.extend(ids.into_iter().map(current));
            }
            Err(error) => {
                results.extend(ids.into_iter().map(|id| (current(id), Err(error.clone()))));
            }
        }
    }
    results.extend(get_each(client, singles, &counters).await);
    Outcome {
        results,
        batch_calls: counters.batch.load(Ordering::Relaxed),
        single_calls: counters.single.load(Ordering::Relaxed),
    }
}

fn current(secret_id: String) -> Request {
    Request {
        secret_id,
        selector: Selector::Current,
    }
}

/// Whether a failed batch call's ids are worth single reads: everything but a
/// missing credential chain or the spent deadline, which single reads would
/// meet too.
fn falls_back(error: &FetchError) -> bool {
    !matches!(
        error,
        FetchError::NoCredentials { .. } | FetchError::Timeout
    )
}

type Found = Vec<(Request, Result<FetchedSecret, FetchError>)>;

/// One BatchGetSecretValue call; `Err` when the call itself failed. With
/// `once`, the SDK does not retry it (`auto` falls back instead).
async fn batch_get(client: &Client, ids: &[String], once: bool) -> Result<Found, FetchError> {
    let mut call = client
        .batch_get_secret_value()
        .set_secret_id_list(Some(ids.to_vec()))
        .customize();
    if once {
        call = call.config_override(
            aws_sdk_secretsmanager::config::Config::builder()
                .retry_config(aws_config::retry::RetryConfig::disabled()),
        );
    }
    let output = call.send().await.map_err(|error| map_sdk_error(&error))?;
    let found = ids
        .iter()
        .map(|id| {
            let entry = output
                .secret_values()
                .iter()
                .find(|entry| returned_for(id, entry.name(), entry.arn()));
            let result = match entry {
                Some(entry) => Ok(fetched!(entry)),
                None => Err(output
                    .errors()
                    .iter()
                    .find(|error| {
                        error
                            .secret_id()
                            .is_some_and(|secret| returned_for(id, Some(secret), None))
                    })
                    .map_or(FetchError::NotFound, |error| {
                        map_code(
                            error.error_code(),
                            error.message().unwrap_or_default(),
                            None,
                        )
                    })),
            };
            (current(id.clone()), result)
        })
        .collect();
    Ok(found)
}

/// True when a returned name or ARN answers the requested id: the same name, the
/// same ARN, or a partial ARN (AWS appends `-` and six random characters).
#[must_use]
pub fn returned_for(requested: &str, name: Option<&str>, arn: Option<&str>) -> bool {
    name == Some(requested)
        || arn == Some(requested)
        || arn.is_some_and(|arn| {
            arn.strip_prefix(requested)
                .is_some_and(|suffix| suffix.len() == 7 && suffix.starts_with('-'))
        })
}

/// GetSecretValue for each request, at most [`SINGLE_CONCURRENCY`] at once.
async fn get_each(client: &Client, requests: Vec<Request>, counters: &Counters) -> Found {
    let permits = Semaphore::new(SINGLE_CONCURRENCY);
    let calls = requests.into_iter().map(|request| {
        let permits = &permits;
        async move {
            let _permit = permits.acquire().await;
            counters.single.fetch_add(1, Ordering::Relaxed);
            let result = get_one(client, &request).await;
            (request, result)
        }
    });
    join_all(calls).await
}

async fn get_one(client: &Client, request: &Request) -> Result<FetchedSecret, FetchError> {
    let mut call = client.get_secret_value().secret_id(&request.secret_id);
    call = match &request.selector {
        Selector::Current => call,
        Selector::Stage(stage) => call.version_stage(stage),
        Selector::Version(id) => call.version_id(id),
    };
    let output = call.send().await.map_err(|error| map_sdk_error(&error))?;
    Ok(fetched!(output))
}

/// The modeled errors of an operation, recognised by variant rather than by code
/// (a modeled error need not carry its code in its metadata).
pub trait ModeledError: ProvideErrorMetadata + std::error::Error + 'static {
    /// The kind of a modeled error, if this is one envgate distinguishes.
    fn modeled(&self) -> Option<FetchError>;
}

macro_rules! modeled_error {
    ($error:ty) => {
        impl ModeledError for $error {
            fn modeled(&self) -> Option<FetchError> {
                match self {
                    Self::ResourceNotFoundException(_) => Some(FetchError::NotFound),
                    Self::DecryptionFailure(_) => Some(FetchError::Decryption),
                    Self::InvalidRequestException(inner)
                        if inner.message().is_some_and(marked_for_deletion) =>
                    {
                        Some(FetchError::ScheduledForDeletion)
                    }
                    _ => None,
                }
            }
        }
    };
}

modeled_error!(aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError);
modeled_error!(aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueError);

impl ModeledError for aws_sdk_ssm::operation::get_parameters::GetParametersError {
    fn modeled(&self) -> Option<FetchError> {
        match self {
            // A SecureString's KMS key is missing, disabled or not the caller's to use.
            Self::InvalidKeyId(_) => Some(FetchError::AccessDenied {
                code: "InvalidKeyId".to_owned(),
            }),
            _ => None,
        }
    }
}

impl ModeledError for aws_sdk_ssm::operation::get_parameter::GetParameterError {
    fn modeled(&self) -> Option<FetchError> {
        match self {
            Self::ParameterNotFound(_) | Self::ParameterVersionNotFound(_) => {
                Some(FetchError::NotFound)
            }
            Self::InvalidKeyId(_) => Some(FetchError::AccessDenied {
                code: "InvalidKeyId".to_owned(),
            }),
            _ => None,
        }
    }
}

impl ModeledError for aws_sdk_ssm::operation::put_parameter::PutParameterError {
    fn modeled(&self) -> Option<FetchError> {
        match self {
            Self::InvalidKeyId(_) => Some(FetchError::AccessDenied {
                code: "InvalidKeyId".to_owned(),
            }),
            _ => None,
        }
    }
}

/// Maps any SDK error to a [`FetchError`].
pub fn map_sdk_error<E: ModeledError>(error: &SdkError<E, HttpResponse>) -> FetchError {
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let metadata = service.err();
            metadata.modeled().unwrap_or_else(|| {
                map_code(
                    metadata.code(),
                    metadata.message().unwrap_or_default(),
                    Some(status),
                )
            })
        }
        SdkError::TimeoutError(_) => FetchError::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => FetchError::Timeout,
        // A body the SDK cannot read (HTML or XML from a proxy, a firewall, or a
        // server that answers errors its own way): the status still says denied
        // or throttled.
        SdkError::ResponseError(response)
            if matches!(response.raw().status().as_u16(), 403 | 429) =>
        {
            map_code(None, "", Some(response.raw().status().as_u16()))
        }
        other => {
            let context = DisplayErrorContext(other).to_string();
            if context.contains("credentials") || context.contains("Credentials") {
                FetchError::NoCredentials { detail: context }
            } else {
                FetchError::Unavailable {
                    reason: innermost_cause(other),
                }
            }
        }
    }
}

/// A one-line reason for any operation's SDK error (rotation's calls).
pub(crate) fn map_sdk_error_any<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let metadata = service.err();
            format!(
                "{}: {}",
                metadata.code().unwrap_or("error"),
                metadata.message().unwrap_or_default()
            )
        }
        other => innermost_cause(other),
    }
}

/// The innermost cause of an error, which is the useful part
/// ("Connection refused (os error 111)", "invalid peer certificate: UnknownIssuer").
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// AWS says "marked for deletion"; moto says "marked deleted".
fn marked_for_deletion(message: &str) -> bool {
    message.contains("deletion") || message.contains("marked deleted")
}

/// Maps an AWS error code (from a service error or a batch `Errors[]` entry).
#[must_use]
pub fn map_code(code: Option<&str>, message: &str, status: Option<u16>) -> FetchError {
    match code {
        Some("ResourceNotFoundException") => FetchError::NotFound,
        Some(code @ ("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation")) => {
            FetchError::AccessDenied {
                code: code.to_owned(),
            }
        }
        Some("DecryptionFailure") => FetchError::Decryption,
        Some("InvalidRequestException") if marked_for_deletion(message) => {
            FetchError::ScheduledForDeletion
        }
        Some(code)
            if code.contains("Throttl")
                || code == "TooManyRequestsException"
                || code == "RequestLimitExceeded" =>
        {
            FetchError::Throttled
        }
        None if status == Some(403) => FetchError::AccessDenied {
            code: "HTTP 403".to_owned(),
        },
        None if status == Some(429) => FetchError::Throttled,
        Some(code) => FetchError::Other {
            code: code.to_owned(),
            message: message.to_owned(),
        },
        None => FetchError::Other {
            code: status.map_or_else(|| "unknown".to_owned(), |status| format!("HTTP {status}")),
            message: message.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::batch_get_secret_value::{
        BatchGetSecretValueError, BatchGetSecretValueOutput,
    };
    use aws_sdk_secretsmanager::operation::get_secret_value::{
        GetSecretValueError, GetSecretValueOutput,
    };
    use aws_sdk_secretsmanager::types::error::{
        DecryptionFailure, InvalidRequestException, ResourceNotFoundException,
    };
    use aws_sdk_secretsmanager::types::{ApiErrorType, SecretValueEntry};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn requests(ids: &[&str]) -> Vec<Request> {
        ids.iter().map(|id| current((*id).to_owned())).collect()
    }

    fn error_of(outcome: &Outcome, id: &str) -> FetchError {
        outcome
            .results
            .iter()
            .find(|(request, _)| request.secret_id == id)
            .and_then(|(_, result)| result.as_ref().err().cloned())
            .unwrap()
    }

    #[test]
    fn modeled_errors_map_to_their_kinds() {
        fn generic(code: &str) -> GetSecretValueError {
            GetSecretValueError::generic(
                aws_sdk_secretsmanager::error::ErrorMetadata::builder()
                    .code(code)
                    .message("from the mock")
                    .build(),
            )
        }
        let cases: Vec<(fn() -> GetSecretValueError, FetchError)> = vec![
            (
                || {
                    GetSecretValueError::ResourceNotFoundException(
                        ResourceNotFoundException::builder().build(),
                    )
                },
                FetchError::NotFound,
            ),
            (
                || GetSecretValueError::DecryptionFailure(DecryptionFailure::builder().build()),
                FetchError::Decryption,
            ),
            (
                || {
                    GetSecretValueError::InvalidRequestException(
                        InvalidRequestException::builder()
                            .message("You can't perform this operation on the secret because it was marked for deletion.")
                            .build(),
                    )
                },
                FetchError::ScheduledForDeletion,
            ),
            (
                || generic("AccessDeniedException"),
                FetchError::AccessDenied {
                    code: "AccessDeniedException".into(),
                },
            ),
            (|| generic("ThrottlingException"), FetchError::Throttled),
        ];
        for (error, expected) in cases {
            let rule = mock!(Client::get_secret_value).then_error(error);
            let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&rule]);
            let outcome = block_on(fetch(
                &client,
                &requests(&["production/db"]),
                FetchMode::Single,
            ));
            assert_eq!(error_of(&outcome, "production/db"), expected);
        }
    }

    #[test]
    fn unmodeled_access_denied_and_throttling_codes() {
        assert_eq!(
            map_code(Some("AccessDeniedException"), "", Some(400)),
            FetchError::AccessDenied {
                code: "AccessDeniedException".into()
            }
        );
        assert_eq!(
            map_code(None, "", Some(403)),
            FetchError::AccessDenied {
                code: "HTTP 403".into()
            }
        );
        assert_eq!(
            map_code(Some("ThrottlingException"), "Rate exceeded", Some(400)),
            FetchError::Throttled
        );
    }

    #[test]
    fn auto_falls_back_to_single_reads_when_the_batch_is_denied() {
        let denied = mock!(Client::batch_get_secret_value).then_error(|| {
            BatchGetSecretValueError::generic(
                aws_sdk_secretsmanager::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized to perform: secretsmanager:BatchGetSecretValue")
                    .build(),
            )
        });
        let single = mock!(Client::get_secret_value).then_output(|| {
            GetSecretValueOutput::builder()
                .name("production/db")
                .arn("arn:aws:secretsmanager:us-east-1:1:secret:production/db-AbCdEf")
                .version_id("v1")
                .secret_string("{}")
                .version_stages("AWSCURRENT")
                .build()
        });
        let client = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            &[&denied, &single]
        );
        let outcome = block_on(fetch(
            &client,
            &requests(&["production/db"]),
            FetchMode::Auto,
        ));
        assert_eq!(outcome.batch_calls, 1);
        assert_eq!(outcome.single_calls, 1);
        assert!(outcome.results[0].1.is_ok());

        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&denied]);
        let outcome = block_on(fetch(
            &client,
            &requests(&["production/db"]),
            FetchMode::Batch,
        ));
        assert!(matches!(
            error_of(&outcome, "production/db"),
            FetchError::AccessDenied { .. }
        ));
    }

    #[test]
    fn batch_errors_and_arns_are_matched_to_requests() {
        let rule = mock!(Client::batch_get_secret_value).then_output(|| {
            BatchGetSecretValueOutput::builder()
                .secret_values(
                    SecretValueEntry::builder()
                        .name("production/a")
                        .arn("arn:aws:secretsmanager:us-east-1:1:secret:production/a-AbCdEf")
                        .secret_string("x")
                        .build(),
                )
                .errors(
                    ApiErrorType::builder()
                        .secret_id("production/b")
                        .error_code("DecryptionFailure")
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&rule]);
        let outcome = block_on(fetch(
            &client,
            &requests(&["production/a", "production/b"]),
            FetchMode::Batch,
        ));
        assert_eq!(outcome.batch_calls, 1);
        assert!(
            outcome
                .results
                .iter()
                .any(|(r, result)| r.secret_id == "production/a" && result.is_ok())
        );
        assert_eq!(error_of(&outcome, "production/b"), FetchError::Decryption);
    }

    #[test]
    fn partial_arns_match_full_arns() {
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:production/a-AbCdEf";
        assert!(returned_for(
            "arn:aws:secretsmanager:us-east-1:1:secret:production/a",
            None,
            Some(arn)
        ));
        assert!(returned_for(arn, None, Some(arn)));
        assert!(returned_for(
            "production/a",
            Some("production/a"),
            Some(arn)
        ));
        assert!(!returned_for(
            "production/ab",
            Some("production/a"),
            Some(arn)
        ));
    }
}
