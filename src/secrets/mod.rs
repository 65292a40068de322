//! The AWS Secrets Manager source.
//!
//! `plan` decides (purely) which secrets the variables need and applies the
//! cross-environment guard; only when something is to be fetched does this module
//! start a single-threaded tokio runtime and build an SDK client, so the no-AWS
//! launch path never touches either. `fetch` talks to the service, `extract` takes
//! each variable's value out of its secret, and this module turns every outcome
//! into values in the [`Resolution`] or per-variable problems.

pub mod agent;
pub mod extract;
pub mod fetch;
mod https;
pub mod parameters;
pub mod plan;
pub use crate::schema::reference;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::SharedHttpClient;
use secrecy::ExposeSecret;

use crate::problem::{Code, Problem};
use crate::resolve::{EnvSnapshot, Origin, Resolution};
use crate::schema::Schema;
use extract::{ExtractError, extract};
use fetch::{FetchError, FetchMode, FetchedSecret, Outcome};
use plan::{Need, Request, environment_prefix};

thread_local! {
    static RUNTIMES_STARTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many async runtimes this thread has started: the no-AWS path must start none.
#[must_use]
pub fn runtimes_started() -> usize {
    RUNTIMES_STARTED.with(std::cell::Cell::get)
}

/// The fewest attempts per call, throttling included (exponential backoff, full jitter).
const MIN_ATTEMPTS: u32 = 8;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Attempts per call: enough to keep retrying until the deadline. In a restart
/// storm the quota, not the attempt count, must decide when the values arrive;
/// `--timeout` bounds the whole fetch anyway. One per second of deadline (a
/// jittered backoff of at most 2 s averages about 1 s), plus 2: 12 for a 10 s
/// deadline, 32 for the default 30 s, 602 for 600 s.
#[must_use]
pub fn attempts_within(timeout: Duration) -> u32 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped below
    let attempts = timeout.as_secs_f64() as u32 + 2;
    attempts.clamp(MIN_ATTEMPTS, 3602)
}

/// How secrets are read.
#[derive(Debug, Clone)]
pub struct SecretsOptions {
    /// `USE_SECRETS_MANAGER`.
    pub use_secrets_manager: bool,
    /// `USE_PARAMETER_STORE`.
    pub use_parameter_store: bool,
    /// `--fetch`.
    pub mode: FetchMode,
    /// `--timeout`: the total deadline.
    pub timeout: Duration,
    /// `AWS_REGION`.
    pub region: Option<String>,
}

/// What reading secrets did, for reports and the audit log.
#[derive(Debug, Default)]
pub struct SecretsReport {
    /// Problems: refusals, failures, overrides.
    pub problems: Vec<Problem>,
    /// BatchGetSecretValue calls sent.
    pub batch_calls: usize,
    /// GetSecretValue calls sent.
    pub single_calls: usize,
    /// Secrets read: `(secret id, version id, stage, variables)`.
    pub read: Vec<SecretRead>,
    /// Secrets that could not be read, or were refused.
    pub failed: Vec<SecretFailure>,
    /// GetParameters calls sent.
    pub parameter_calls: usize,
    /// Parameters read or failed.
    pub parameters: Vec<parameters::ParameterEvent>,
}

/// One secret that could not be read for one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFailure {
    /// The id as requested.
    pub secret_id: String,
    /// The variable that needed it.
    pub var: String,
    /// envgate's problem code.
    pub code: Code,
    /// The AWS error code, when AWS answered.
    pub aws_code: Option<String>,
}

/// One secret that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRead {
    /// The id as requested.
    pub secret_id: String,
    /// The version read.
    pub version_id: Option<String>,
    /// The staging label that selected it.
    pub stage: Option<String>,
    /// The variables it fed.
    pub vars: Vec<String>,
}

/// Reads every secret the variables need and puts the values into `resolution`.
#[must_use]
pub fn resolve_secrets(
    schema: &Schema,
    environment: &str,
    options: &SecretsOptions,
    env: &EnvSnapshot,
    resolution: &mut Resolution,
) -> SecretsReport {
    let plan = plan::plan(schema, environment, options.use_secrets_manager, resolution);
    let parameter_needs =
        parameters::needs(schema, environment, options.use_parameter_store, resolution);
    if plan.needs.is_empty() && parameter_needs.is_empty() {
        return SecretsReport::default();
    }
    let parameter_refusals = parameters::refusals(schema, environment, &parameter_needs);
    if !parameter_refusals.is_empty() {
        // Invalid or guarded parameter names: nothing is requested from either store.
        let mut problems = plan.refused;
        let parameters = parameter_refusals
            .iter()
            .filter_map(|problem| {
                let var = problem.var.clone()?;
                let need = parameter_needs.iter().find(|need| need.var == var)?;
                Some(parameters::ParameterEvent {
                    name: need.name.clone(),
                    version: None,
                    vars: vec![var],
                    failure: Some((problem.code, problem.code.as_str().to_owned())),
                })
            })
            .collect();
        problems.extend(parameter_refusals);
        for need in &parameter_needs {
            resolution.fail(&need.var);
        }
        return SecretsReport {
            problems,
            parameters,
            ..SecretsReport::default()
        };
    }
    if !plan.refused.is_empty() {
        // The guard refuses before any request is sent.
        let failed = plan
            .needs
            .iter()
            .filter(|need| !plan::allowed(schema, environment, &need.secret_id))
            .map(|need| SecretFailure {
                secret_id: need.secret_id.clone(),
                var: need.var.clone(),
                code: Code::CrossEnvironment,
                aws_code: None,
            })
            .collect();
        return SecretsReport {
            problems: plan.refused,
            failed,
            ..SecretsReport::default()
        };
    }
    let requests = plan.requests();
    let agent = uses_agent(options, env);
    let context = Context {
        schema,
        environment,
        endpoint: if agent {
            agent_endpoint(env)
        } else {
            endpoint(env, options.region.as_deref())
        },
        agent,
        region: options.region.clone(),
        timeout: options.timeout,
    };
    let names = parameters::distinct_names(&parameter_needs);
    let (outcome, parameter_outcome) = match run_fetch(options, env, &requests, &names) {
        Ok(outcomes) => outcomes,
        Err(error) => (
            Outcome {
                results: requests
                    .iter()
                    .map(|request| (request.clone(), Err(error.clone())))
                    .collect(),
                ..Outcome::default()
            },
            parameters::Outcome::all_failed(&names, &error),
        ),
    };
    let mut report = apply(&context, &plan, &outcome, schema, environment, resolution);
    let (problems, events) = parameters::apply(
        schema,
        environment,
        &parameter_needs,
        &parameter_outcome,
        resolution,
    );
    report.problems.extend(problems);
    report.parameters = events;
    report.parameter_calls = parameter_outcome.calls;
    for problem in &mut report.problems {
        problem.message = redact_endpoint_credentials(&problem.message, env);
    }
    report
}

struct Context<'a> {
    schema: &'a Schema,
    environment: &'a str,
    endpoint: String,
    /// Read through the Secrets Manager Agent.
    agent: bool,
    region: Option<String>,
    timeout: Duration,
}

/// Set by [`abandon`]: every store read in flight, and every one to come, ends
/// at once.
static ABANDONED: std::sync::LazyLock<(std::sync::atomic::AtomicBool, tokio::sync::Notify)> =
    std::sync::LazyLock::new(Default::default);

/// Ends every store read in flight (and refuses the ones to come) with
/// [`FetchError::Timeout`]: for a supervisor whose program is stopping, which
/// must not wait on a silent store for a refresh whose result is dropped.
pub fn abandon() {
    let (flag, wake) = &*ABANDONED;
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    wake.notify_waiters();
}

/// Whether [`abandon`] was called.
#[must_use]
pub fn abandoned() -> bool {
    ABANDONED.0.load(std::sync::atomic::Ordering::SeqCst)
}

/// Returns once [`abandon`] is called.
async fn until_abandoned() {
    let (flag, wake) = &*ABANDONED;
    let mut notified = std::pin::pin!(wake.notified());
    // Registered before the flag is read: a call in between still wakes it.
    notified.as_mut().enable();
    if !flag.load(std::sync::atomic::Ordering::SeqCst) {
        notified.await;
    }
}

/// Runs `work` on a fresh current-thread runtime, within the deadline, unless
/// [`abandon`] ends it first. The only place envgate starts an async runtime.
pub(crate) fn block_on_within<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, FetchError>>,
) -> Result<T, FetchError> {
    RUNTIMES_STARTED.with(|count| count.set(count.get() + 1));
    // What follows can wait for the network: stop signals must not.
    crate::signals::watch();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| FetchError::Unavailable {
            reason: format!("cannot start the async runtime: {error}"),
        })?;
    // On the heap: the SDK's futures are large, and moved around on the stack they
    // made about 45 KB more of it resident.
    let work = Box::pin(work);
    let result = runtime.block_on(async {
        let finished = std::pin::pin!(tokio::time::timeout(timeout, work));
        let abandoned = std::pin::pin!(until_abandoned());
        match futures_util::future::select(finished, abandoned).await {
            futures_util::future::Either::Left((finished, _)) => {
                finished.unwrap_or(Err(FetchError::Timeout))
            }
            futures_util::future::Either::Right(((), _)) => Err(FetchError::Timeout),
        }
    });
    // The deadline is hard: a name lookup (getaddrinfo runs on a blocking thread)
    // that never returns must not hold envgate past it, as dropping the runtime
    // would (it waits for its blocking threads).
    runtime.shutdown_background();
    result
}

/// Builds the clients and fetches from both stores at once, all within the
/// deadline. Parameter Store is always read directly: the Secrets Manager Agent
/// serves secrets only. A store with nothing to read sets up no client.
fn run_fetch(
    options: &SecretsOptions,
    env: &EnvSnapshot,
    requests: &[Request],
    parameter_names: &[String],
) -> Result<(Outcome, parameters::Outcome), FetchError> {
    let agent = if uses_agent(options, env) && !requests.is_empty() {
        Some(agent::Agent::from_env(env)?)
    } else {
        None
    };
    let throttle = ThrottleSeen::default();
    let fetched = block_on_within(options.timeout, async {
        let config = if agent.is_none() || !parameter_names.is_empty() {
            Some(sdk_config(options, env).await?)
        } else {
            None
        };
        let secrets = async {
            match (&agent, &config) {
                _ if requests.is_empty() => Outcome::default(),
                (Some(agent), _) => agent::fetch(agent, requests).await,
                (None, Some(config)) => {
                    let config = aws_sdk_secretsmanager::config::Builder::from(config)
                        .interceptor(throttle.clone())
                        .retry_partition(unlimited_retries())
                        .build();
                    fetch::fetch(&Client::from_conf(config), requests, options.mode).await
                }
                (None, None) => unreachable!("a config is built whenever no agent reads"),
            }
        };
        let parameters = async {
            match &config {
                Some(config) if !parameter_names.is_empty() => {
                    // A few calls per process: the standard mode's full jitter, as for
                    // batches (see `retry_mode`), keeps a storm at the quota's pace.
                    let config = aws_sdk_ssm::config::Builder::from(config)
                        .interceptor(throttle.clone())
                        .retry_partition(unlimited_retries())
                        .retry_config(retry_settings(FetchMode::Batch, options.timeout))
                        .build();
                    parameters::fetch(&aws_sdk_ssm::Client::from_conf(config), parameter_names)
                        .await
                }
                _ => parameters::Outcome::default(),
            }
        };
        Ok(futures_util::future::join(secrets, parameters).await)
    });
    // The deadline passed while the calls were being throttled: say so.
    match fetched {
        Err(FetchError::Timeout) if throttle.seen() => Err(FetchError::Throttled),
        Ok((mut outcome, mut parameter_outcome)) if throttle.seen() => {
            for (_, result) in &mut outcome.results {
                throttled(result);
            }
            for (_, result) in &mut parameter_outcome.results {
                throttled(result);
            }
            Ok((outcome, parameter_outcome))
        }
        other => other,
    }
}

/// A read that ran out of time while throttling was seen was throttled.
fn throttled<T>(result: &mut Result<T, FetchError>) {
    if matches!(result, Err(FetchError::Timeout)) {
        *result = Err(FetchError::Throttled);
    }
}

/// The retry settings of a client: the mode's, attempts until the deadline,
/// backoff from 50 ms up to [`MAX_BACKOFF`].
fn retry_settings(mode: FetchMode, timeout: Duration) -> RetryConfig {
    retry_mode(mode)
        .with_max_attempts(attempts_within(timeout))
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(MAX_BACKOFF)
}

/// How throttled reads are retried, by fetch mode.
///
/// Batches (`--fetch batch`) retry in the standard mode: a uniform random wait up to
/// the doubling backoff. The adaptive mode's client-side rate limiter answers a
/// throttled process with a fixed, unjittered wait (its fill rate falls to 0.5/s, so
/// every retry waited exactly the 2 s cap): in a restart storm every process retried
/// its batches in waves 2 s apart, and a quota that refills every second sat idle
/// half the time (`--fetch batch` took twice the time the quota allows; with full
/// jitter, 1.01 times). GetSecretValue (`single`, and `auto`, whose batches are tried
/// once) keeps the adaptive mode: with 40 reads in flight per process, its rate
/// limiter is what keeps 200 processes from sending thousands of retries a second;
/// without it the same storm sent 1,100 requests a second at a 100/s quota and no
/// launch finished within 600 s.
fn retry_mode(mode: FetchMode) -> RetryConfig {
    if mode == FetchMode::Batch {
        RetryConfig::standard()
    } else {
        RetryConfig::adaptive()
    }
}

/// A retry partition whose retry quota never runs out. The SDK's default spends 5
/// tokens of 500 per throttled retry, so a process with 40 reads in flight stopped
/// retrying after about 100 retries, long before its deadline, in a storm; the
/// attempts ([`attempts_within`]), the jittered backoff and `--timeout` bound the
/// retries instead.
fn unlimited_retries() -> aws_sdk_secretsmanager::config::retry::RetryPartition {
    use aws_sdk_secretsmanager::config::retry::{ClientRateLimiter, RetryPartition, TokenBucket};
    // A custom partition brings its own rate limiter; `default()` would start it
    // at the epoch, so it is made as the SDK makes its own: from now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    RetryPartition::custom("envgate-secrets")
        .token_bucket(TokenBucket::unlimited())
        .client_rate_limiter(ClientRateLimiter::new(now))
        .build()
}

/// Notes whether any attempt was answered with throttling, so that a deadline
/// spent retrying throttled calls is reported as throttling, not as silence.
#[derive(Debug, Clone, Default)]
struct ThrottleSeen(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl ThrottleSeen {
    fn seen(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl aws_sdk_secretsmanager::config::Intercept for ThrottleSeen {
    fn name(&self) -> &'static str {
        "envgate::ThrottleSeen"
    }

    fn read_before_deserialization(
        &self,
        context: &aws_sdk_secretsmanager::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_sdk_secretsmanager::config::RuntimeComponents,
        _config: &mut aws_sdk_secretsmanager::config::ConfigBag,
    ) -> Result<(), aws_sdk_secretsmanager::error::BoxError> {
        let response = context.response();
        let throttled = response.status().as_u16() == 429
            || response
                .headers()
                .get("x-amzn-errortype")
                .is_some_and(|kind| kind.contains("Throttl"));
        if throttled {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

/// `--fetch agent`, or `ENVGATE_SECRETS_AGENT` set and `--fetch` left at `auto`.
fn uses_agent(options: &SecretsOptions, env: &EnvSnapshot) -> bool {
    options.mode == FetchMode::Agent
        || (options.mode == FetchMode::Auto
            && env
                .get_str("ENVGATE_SECRETS_AGENT")
                .is_some_and(|url| !url.is_empty()))
}

/// The agent's address, for messages.
fn agent_endpoint(env: &EnvSnapshot) -> String {
    let base = env
        .get_str("ENVGATE_SECRETS_AGENT")
        .filter(|url| !url.is_empty())
        .unwrap_or(agent::DEFAULT_AGENT);
    format!("{} (the Secrets Manager Agent)", without_credentials(base))
}

/// The ARN of the caller (STS GetCallerIdentity), for `--audit-principal`.
///
/// # Errors
/// Why the identity could not be had (no credentials, unreachable, …).
pub fn caller_identity(options: &SecretsOptions, env: &EnvSnapshot) -> Result<String, FetchError> {
    block_on_within(options.timeout, async {
        let config = sdk_config(options, env).await?;
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|error| FetchError::Unavailable {
                reason: aws_sdk_sts::error::DisplayErrorContext(&error).to_string(),
            })?;
        Ok(identity.arn().unwrap_or("unknown").to_owned())
    })
}

pub(crate) async fn sdk_config(
    options: &SecretsOptions,
    env: &EnvSnapshot,
) -> Result<aws_config::SdkConfig, FetchError> {
    // The SDK panics on an empty endpoint URL; say what is wrong instead.
    for name in ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"] {
        if env.get(name).is_some_and(std::ffi::OsStr::is_empty) {
            return Err(FetchError::Unavailable {
                reason: format!(
                    "{name} is set but empty (unset it, or set it to the endpoint's URL)"
                ),
            });
        }
    }
    let retry = retry_settings(options.mode, options.timeout);
    // The SDK has no read timeout by default: a server that accepts the connection
    // and never answers would hang the launch forever.
    let attempt = options.timeout.min(Duration::from_secs(10));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(options.timeout.min(Duration::from_secs(3)))
        .read_timeout(attempt)
        .operation_attempt_timeout(attempt)
        .operation_timeout(options.timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts)
        .http_client(http_client(env)?);
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(FetchError::Unavailable {
            reason: "no AWS region is configured (set AWS_REGION)".to_owned(),
        });
    }
    Ok(config)
}

/// The HTTPS client, trusting one CA bundle read and checked here.
///
/// The SDK's default reads the system bundle *and* every file of the certificate
/// directory (several milliseconds per launch). envgate reads one bundle file, and
/// none at all for a plain `http://` endpoint (a local or VPC test endpoint), where
/// no TLS is used. With no bundle found, the platform's roots are loaded as usual.
fn http_client(env: &EnvSnapshot) -> Result<SharedHttpClient, FetchError> {
    let plain_http = endpoint_override(env).is_some_and(|url| url.starts_with("http://"));
    let trust = if plain_http {
        https::Trust::Nothing
    } else {
        trusted_roots(env).map_err(|reason| FetchError::Unavailable { reason })?
    };
    https::client(trust).map_err(|error| FetchError::Unavailable {
        reason: format!("cannot set up TLS: {error}"),
    })
}

/// POSTs JSON to an alert webhook through the AWS clients' HTTPS stack: the same
/// trust store (none for a plain `http://` loopback URL) and proxy.
///
/// # Errors
/// Why it was not delivered, never repeating the URL.
pub(crate) async fn post_json(env: &EnvSnapshot, url: &str, body: &[u8]) -> Result<(), String> {
    let trust = if url.starts_with("http://") {
        https::Trust::Nothing
    } else {
        trusted_roots(env)?
    };
    https::post_json(trust, url, body.to_vec()).await
}

/// The CAs HTTPS endpoints are checked against: `SSL_CERT_FILE`, else the first
/// distribution bundle found, else the platform's roots.
fn trusted_roots(env: &EnvSnapshot) -> Result<https::Trust, String> {
    match crate::trust::system_bundle(env.get("SSL_CERT_FILE")) {
        Some(path) => crate::trust::checked_bundle(&path)
            .map(https::Trust::Bundle)
            .map_err(|error| format!("{error}: fix the bundle, or point SSL_CERT_FILE at another")),
        None => crate::trust::platform_roots().map(|_| https::Trust::Platform),
    }
}

fn endpoint_override(env: &EnvSnapshot) -> Option<&str> {
    env.get_str("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .or_else(|| env.get_str("AWS_ENDPOINT_URL"))
        .filter(|url| !url.is_empty())
}

/// The endpoint requests go to, for messages: without any user name or password
/// written into the URL.
fn endpoint(env: &EnvSnapshot, region: Option<&str>) -> String {
    endpoint_override(env).map(without_credentials).map_or_else(
        || {
            format!(
                "https://secretsmanager.{}.amazonaws.com",
                region.unwrap_or("<region>")
            )
        },
        std::convert::identity,
    )
}

/// `url` with its user-info part (`user:password@`) replaced by `***@`.
#[must_use]
pub fn without_credentials(url: &str) -> String {
    match credentials_in(url) {
        Some(userinfo) => url.replacen(&format!("{userinfo}@"), "***@", 1),
        None => url.to_owned(),
    }
}

/// The `user:password` written in an endpoint URL, if any.
fn credentials_in(url: &str) -> Option<&str> {
    let after_scheme = url.split_once("://")?.1;
    let authority = after_scheme.split(['/', '?', '#']).next()?;
    authority.rsplit_once('@').map(|(userinfo, _)| userinfo)
}

/// `text` (an SDK error) with the endpoint's credentials, whole or in parts, masked.
fn redact_endpoint_credentials(text: &str, env: &EnvSnapshot) -> String {
    let Some(userinfo) = endpoint_override(env).and_then(credentials_in) else {
        return text.to_owned();
    };
    let mut redacted = text.replace(userinfo, "***");
    for part in userinfo.split(':').filter(|part| !part.is_empty()) {
        redacted = redacted.replace(part, "***");
    }
    redacted
}

fn apply(
    context: &Context<'_>,
    plan: &plan::Plan,
    outcome: &Outcome,
    schema: &Schema,
    environment: &str,
    resolution: &mut Resolution,
) -> SecretsReport {
    let mut report = SecretsReport {
        batch_calls: outcome.batch_calls,
        single_calls: outcome.single_calls,
        ..SecretsReport::default()
    };
    for (request, result) in &outcome.results {
        if let Ok(secret) = result {
            report.read.push(SecretRead {
                secret_id: request.secret_id.clone(),
                version_id: secret.version_id.clone(),
                stage: stage_of(request, secret),
                vars: plan
                    .vars_for(request)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            });
        }
    }
    for need in &plan.needs {
        let Some((request, result)) = outcome.results.iter().find(|(request, _)| {
            request.secret_id == need.secret_id && request.selector == need.reference.selector
        }) else {
            continue;
        };
        if resolution.get(&need.var).is_none() {
            continue;
        }
        let var_spec = schema.var(&need.var);
        let binary_base64 = var_spec.is_some_and(|var| var.binary_base64);
        let required = var_spec.is_some_and(|var| var.must_be_set_in(environment));
        let value = result
            .as_ref()
            .map_err(|error| Box::new(fetch_problem(context, need, error)))
            .and_then(|secret| {
                extract(
                    secret.string.as_ref().map(ExposeSecret::expose_secret),
                    secret
                        .binary
                        .as_ref()
                        .map(|bytes| bytes.expose_secret().as_slice()),
                    need.reference.key.as_deref(),
                    binary_base64,
                )
                .map_err(|error| Box::new(extract_problem(need, &error)))
            });
        let Some(resolved) = resolution.get(&need.var) else {
            continue;
        };
        match value {
            Ok(value) => {
                let replaced = resolved.value.as_ref().is_some_and(|old| {
                    !need.from_env
                        && resolved.origin != Origin::Default
                        && old.expose_secret() != value.expose_secret()
                });
                if replaced {
                    report
                        .problems
                        .push(override_warning(need, &resolved.origin));
                }
                if let (Some(spec), Ok(secret)) = (var_spec, result) {
                    report.problems.extend(overdue(spec, need, secret));
                }
                let origin = Origin::SecretsManager {
                    secret_id: need.secret_id.clone(),
                    version_id: result
                        .as_ref()
                        .ok()
                        .and_then(|secret| secret.version_id.clone()),
                    stage: result
                        .as_ref()
                        .ok()
                        .and_then(|secret| stage_of(request, secret)),
                };
                resolution.from_secrets_manager(&need.var, value, origin);
            }
            // A secret that does not exist (or lacks the key) for a variable this
            // environment does not require (or that has a default): keep the local
            // value, as the guide's load_secret_or_env did. Not so for a reference
            // written in the environment: its text must never become the value.
            Err(problem) if !required && !need.from_env && is_absence(&problem) => {}
            Err(problem) => {
                report.failed.push(SecretFailure {
                    secret_id: need.secret_id.clone(),
                    var: need.var.clone(),
                    code: problem.code,
                    aws_code: result
                        .as_ref()
                        .err()
                        .map(|error| error.aws_code().to_owned()),
                });
                let problem = (*problem).var(&need.var);
                report.problems.push(match var_spec {
                    Some(var) => {
                        problem.at(var.span.clone(), format!("{} reads this secret", var.name))
                    }
                    None => problem,
                });
                resolution.fail(&need.var);
            }
        }
    }
    report
}

/// A warning when the secret is older than the variable's `rotate.every`: by its
/// `rotated_at` (set by `envgate rotate`), else by when its version was created.
fn overdue(var: &crate::schema::VarSpec, need: &Need, secret: &FetchedSecret) -> Option<Problem> {
    let rotate = var.rotate.as_ref()?;
    let every = rotate.every?;
    let rotated_at = secret
        .string
        .as_ref()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text.expose_secret()).ok())
        .and_then(|json| {
            json.get("rotated_at")
                .and_then(|at| at.as_str())
                .and_then(crate::clock::parse_timestamp)
        })
        .or_else(|| secret.created.and_then(|secs| u64::try_from(secs).ok()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let age = now.saturating_sub(rotated_at);
    if age < every.as_secs() {
        return None;
    }
    let kind = rotate.kind.type_name();
    let name = need
        .reference
        .path
        .rsplit('/')
        .next()
        .unwrap_or(&need.reference.path);
    Some(
        Problem::warning(
            Code::RotationOverdue,
            format!(
                "{}: secret `{}` was last rotated {} days ago; rotate.every is {}",
                var.name,
                need.secret_id,
                age / 86_400,
                crate::duration::describe(every)
            ),
        )
        .var(&var.name)
        .at(var.span.clone(), "rotate.every is set here")
        .help(format!(
            "Rotate it: envgate rotate --type {kind} --name {name}  (--strict makes this an error)"
        )),
    )
}

fn is_absence(problem: &Problem) -> bool {
    matches!(problem.code, Code::SecretNotFound | Code::SecretKeyMissing)
}

fn stage_of(request: &Request, secret: &FetchedSecret) -> Option<String> {
    match &request.selector {
        reference::Selector::Stage(stage) => Some(stage.clone()),
        reference::Selector::Version(_) => secret.stages.first().cloned(),
        reference::Selector::Current => Some("AWSCURRENT".to_owned()),
    }
}

fn override_warning(need: &Need, origin: &Origin) -> Problem {
    Problem::warning(
        Code::SecretOverridesEnv,
        format!(
            "{}: the value from Secrets Manager (`{}`) replaces a different value from {origin}",
            need.var, need.secret_id
        ),
    )
    .var(&need.var)
    .help(format!(
        "Secrets Manager wins over local sources. Unset {} locally to silence this warning.",
        need.var
    ))
}

fn fetch_problem(context: &Context<'_>, need: &Need, error: &FetchError) -> Problem {
    let id = &need.secret_id;
    let var = &need.var;
    let prefix = environment_prefix(&context.schema.secret_name, context.environment);
    let region = context.region.as_deref().unwrap_or("the configured region");
    let endpoint = &context.endpoint;
    match error {
        FetchError::NotFound if need.reference.selector != reference::Selector::Current => {
            let pinned = match &need.reference.selector {
                reference::Selector::Version(version) => format!("version `{version}`"),
                reference::Selector::Stage(stage) => format!("version labelled `{stage}`"),
                reference::Selector::Current => unreachable!("matched above"),
            };
            Problem::error(
                Code::SecretNotFound,
                format!("{var}: secret `{id}` has no {pinned}, or does not exist"),
            )
            .help(format!(
                "List its versions and labels: aws secretsmanager list-secret-version-ids --secret-id {id} --include-deprecated\nPin an existing version or label, or drop the pin to read AWSCURRENT."
            ))
        }
        FetchError::NotFound => Problem::error(Code::SecretNotFound, format!("{var}: secret `{id}` was not found"))
            .help(format!(
                "1. Verify the secret exists in AWS Secrets Manager ({region}).\n2. Check that the secret name matches the environment prefix (`{prefix}…`).\n3. Verify IAM permissions allow secretsmanager:GetSecretValue."
            )),
        FetchError::AccessDenied { code } => Problem::error(
            Code::AccessDenied,
            format!("{var}: access to secret `{id}` was denied ({code})"),
        )
        .help(format!(
            "1. Verify the IAM role has the required permissions: secretsmanager:GetSecretValue on the secret (and secretsmanager:BatchGetSecretValue for --fetch batch).\n2. Check the resource ARN in the IAM policy.\n3. Verify the environment prefix matches (`{prefix}…`)."
        )),
        FetchError::Decryption => Problem::error(
            Code::SecretDecryptionFailure,
            format!("{var}: secret `{id}` could not be decrypted with its KMS key"),
        )
        .help("Check that the role may use the secret's KMS key (kms:Decrypt) and that the key is enabled."),
        FetchError::ScheduledForDeletion => Problem::error(
            Code::SecretScheduledForDeletion,
            format!("{var}: secret `{id}` is scheduled for deletion"),
        )
        .help(format!(
            "Restore it (aws secretsmanager restore-secret --secret-id {id}) or point {var} at another secret."
        )),
        FetchError::Throttled => Problem::error(
            Code::Throttled,
            format!(
                "{var}: Secrets Manager throttled the requests for `{id}` until the {}s deadline (up to {} attempts per call)",
                context.timeout.as_secs_f32(),
                attempts_within(context.timeout)
            ),
        )
        .help("Containers starting at once share the account's request quota. Stagger the start, or use --fetch single (GetSecretValue has a far higher quota than BatchGetSecretValue)."),
        FetchError::Unavailable { reason } if context.agent => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: cannot read secret `{id}` through {endpoint}: {reason}"),
        )
        .help("Check that the agent runs on this host (curl its /ping), that ENVGATE_SECRETS_AGENT names its port, and the agent's own log for its access to Secrets Manager."),
        FetchError::AgentAddress { reason } => Problem::error(
            Code::InvalidSetting,
            format!("{var}: cannot read secret `{id}`: {reason}"),
        )
        .help("The agent's token is an AWS credential and goes over plain HTTP: ENVGATE_SECRETS_AGENT must name the agent on this host (http://127.0.0.1:PORT or http://localhost:PORT)."),
        FetchError::AgentToken { reason } => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: cannot read secret `{id}` through {endpoint}: {reason}"),
        )
        .help("The agent answers only requests that carry the token it was started with (its protection against forged requests). Set AWS_TOKEN to the token the agent was started with (or file://PATH), as for the agent itself."),
        FetchError::Unavailable { reason } => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: cannot read secret `{id}` from Secrets Manager at {endpoint}: {reason}"),
        )
        .help("Check network access to the endpoint (VPC endpoint, security groups, proxy) and AWS_REGION / AWS_ENDPOINT_URL."),
        FetchError::Timeout => Problem::error(
            Code::StoreUnavailable,
            format!(
                "{var}: no answer from Secrets Manager at {endpoint} within {}s for secret `{id}`",
                context.timeout.as_secs_f32()
            ),
        )
        .help("Check network access to the endpoint, or raise the deadline with --timeout SECONDS."),
        FetchError::NoCredentials { .. } => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: no AWS credentials found to read secret `{id}`"),
        )
        .help("envgate looked in: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the shared config and credentials files (AWS_PROFILE, ~/.aws/credentials), web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), the ECS container credentials endpoint and the EC2 instance metadata service.\nGive the task or instance an IAM role, or set those variables."),
        FetchError::Other { code, message } => Problem::error(
            Code::StoreUnavailable,
            format!("{var}: Secrets Manager did not return secret `{id}`: {code}: {message}"),
        )
        .help("Check the secret in the AWS console and CloudTrail for the request."),
    }
}

fn extract_problem(need: &Need, error: &ExtractError) -> Problem {
    let id = &need.secret_id;
    let var = &need.var;
    match error {
        ExtractError::NotJson => Problem::error(
            Code::SecretNotJson,
            format!(
                "{var}: secret `{id}` is not a JSON object, so it has no key `{}`",
                need.reference.key.as_deref().unwrap_or_default()
            ),
        )
        .help("Store the secret as a JSON object, or drop `#key` from the reference to use the whole string."),
        ExtractError::InvalidJson { reason } => Problem::error(
            Code::SecretNotJson,
            format!(
                "{var}: secret `{id}` is not valid JSON ({reason}), so it has no key `{}`",
                need.reference.key.as_deref().unwrap_or_default()
            ),
        )
        .help("Fix the secret's JSON (aws secretsmanager get-secret-value shows it). A number JSON cannot hold, such as 1e400, must be stored as a string."),
        ExtractError::MissingKey { key, available } => Problem::error(
            Code::SecretKeyMissing,
            format!("{var}: secret `{id}` has no key `{key}` (its keys: {})", available.join(", ")),
        )
        .help(format!("Add `{key}` to the secret, or fix the key in the reference.")),
        ExtractError::Nested { key } => Problem::error(
            Code::SecretNotJson,
            format!("{var}: key `{key}` of secret `{id}` holds a JSON object or array, not a value"),
        )
        .help("Point the reference at a key that holds a string, number or boolean."),
        ExtractError::Null { key } => Problem::error(
            Code::SecretKeyMissing,
            format!("{var}: key `{key}` of secret `{id}` is null"),
        )
        .help(format!("Give `{key}` a value in the secret.")),
        ExtractError::Binary => Problem::error(
            Code::SecretBinary,
            format!("{var}: secret `{id}` is binary (SecretBinary)"),
        )
        .help(format!(
            "Store it as a SecretString, or set `binary = \"base64\"` on {var} to receive it base64-encoded (whole secret only)."
        )),
        ExtractError::Empty => Problem::error(
            Code::SecretNotJson,
            format!("{var}: secret `{id}` has no value in the version read"),
        )
        .help("Put a value in the secret (aws secretsmanager put-secret-value)."),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn attempts_grow_with_the_deadline() {
        use std::time::Duration;
        assert_eq!(super::attempts_within(Duration::from_secs(1)), 8);
        assert_eq!(super::attempts_within(Duration::from_secs(10)), 12);
        assert_eq!(super::attempts_within(Duration::from_secs(30)), 32);
        assert_eq!(super::attempts_within(Duration::from_secs(600)), 602);
        assert_eq!(super::attempts_within(Duration::from_secs(3600)), 3602);
    }

    /// Batches retry with full jitter (no lockstep waves); single reads keep the
    /// adaptive limiter: without it, a 200-launch storm sent about 1,100 requests a
    /// second at a 100/s quota and no launch finished (docs/DECISIONS.md).
    #[test]
    fn only_batches_retry_without_the_adaptive_limiter() {
        use aws_config::retry::RetryMode;
        assert_eq!(
            super::retry_mode(FetchMode::Batch).mode(),
            RetryMode::Standard
        );
        for mode in [FetchMode::Auto, FetchMode::Single, FetchMode::Agent] {
            assert_eq!(
                super::retry_mode(mode).mode(),
                RetryMode::Adaptive,
                "{mode:?}"
            );
        }
    }

    use super::*;
    use crate::resolve::resolve;

    fn options(use_secrets_manager: bool) -> SecretsOptions {
        SecretsOptions {
            use_secrets_manager,
            use_parameter_store: false,
            mode: FetchMode::Auto,
            timeout: Duration::from_secs(1),
            region: Some("us-east-1".to_owned()),
        }
    }

    #[test]
    fn the_local_path_starts_no_runtime_and_builds_no_client() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/muejam.toml"))
                .unwrap();
        let schema = crate::schema::from_str("muejam.toml", &text).unwrap();
        let env = EnvSnapshot::from_pairs([("DATABASE_PASSWORD", "local")]);
        let mut resolution = resolve(&schema, "production", &env, &[]);
        let before = runtimes_started();
        let report = resolve_secrets(
            &schema,
            "production",
            &options(false),
            &env,
            &mut resolution,
        );
        assert!(report.problems.is_empty());
        assert_eq!(
            runtimes_started(),
            before,
            "USE_SECRETS_MANAGER off: no runtime"
        );

        // A refused reference is refused before anything is started.
        let env = EnvSnapshot::from_pairs([("DATABASE_PASSWORD", "aws-sm://staging/db#password")]);
        let mut resolution = resolve(&schema, "production", &env, &[]);
        let report = resolve_secrets(
            &schema,
            "production",
            &options(false),
            &env,
            &mut resolution,
        );
        assert_eq!(report.problems[0].code, Code::CrossEnvironment);
        assert_eq!(runtimes_started(), before);
    }
}
