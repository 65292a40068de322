//! Restart storm: N launches at once, 40 secrets each, through a proxy that
//! enforces Secrets Manager's two rate quotas as token buckets, for each fetch
//! mode (`auto`, `batch`, `single`, and `agent`: one AWS Secrets Manager Agent for
//! all of them), and `parameters`: 40 Parameter Store parameters per launch under
//! Parameter Store's quota (scaled by `STORM_PS_SCALE`, default 1/10). Needs moto's server (`eval "$(scripts/moto-server.sh start)"`) and
//! the agent (`scripts/setup-test-env.sh`).
//!
//! Run with `cargo bench --bench storm` (optionally `-- 50 100` for other sizes,
//! and mode names to run only those; `STORM_TIMEOUT=1200` for the launches'
//! deadline, default 600 s; `STORM_SCALE=1` for AWS's own quotas instead of 1/100;
//! `STORM_LATENCY=0` to skip the one-launch comparison with the agent).
//! Prints a Markdown table for docs/BENCHMARKS.md: completion time of the whole
//! storm, failures, and the calls that reached the proxy by kind.
//!
//! Scale: AWS allows BatchGetSecretValue 100/s and GetSecretValue 10,000/s per
//! account and region. moto's server here answers about 150-200 requests/s, so
//! both quotas are scaled by 1/100, to 1/s and 100/s: the proxy then answers the
//! excess itself (ThrottlingException) and moto is never the bottleneck. A first
//! version scaled by 1/20 (500/s for single reads) overloaded moto at 200
//! launches: attempts timed out and the rig itself ran out of descriptors.

#[allow(dead_code)]
#[path = "../tests/cli/agentd.rs"]
mod agentd;
#[allow(dead_code)]
#[path = "../tests/cli/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../tests/cli/moto.rs"]
mod moto;
#[allow(dead_code)]
#[path = "../tests/cli/proxy.rs"]
mod proxy;

use std::fmt::Write as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const SECRETS: usize = 40;
/// AWS's quotas per account and region: BatchGetSecretValue, GetSecretValue.
const AWS_BATCH_PER_SEC: u32 = 100;
const AWS_SINGLE_PER_SEC: u32 = 10_000;
/// Parameter Store's default quota per account and region (GetParameter,
/// GetParameters and GetParametersByPath together; 3,000/s with higher throughput).
const AWS_PARAMETERS_PER_SEC: u32 = 40;

/// Parameter Store's quota at the proxy: AWS's divided by `STORM_PS_SCALE`
/// (default 10, so 4/s: at 1/100 it would be below one call a second).
fn parameters_quota() -> u32 {
    let scale: u32 = std::env::var("STORM_PS_SCALE")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    (AWS_PARAMETERS_PER_SEC / scale).max(1)
}

/// The quotas the proxy enforces: AWS's divided by `STORM_SCALE` (default 100).
fn quotas() -> (u32, u32) {
    let scale: u32 = std::env::var("STORM_SCALE")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100);
    (AWS_BATCH_PER_SEC / scale, AWS_SINGLE_PER_SEC / scale)
}

/// The least time the quotas allow for `launches` x [`SECRETS`] secrets in `mode`:
/// each bucket starts full (one second's worth) and refills at its rate. `auto`
/// may use both buckets (20 secrets per batch call); the agent reads each secret
/// once, so its floor is that of [`SECRETS`] single reads.
#[allow(clippy::cast_precision_loss)]
fn floor(launches: usize, mode: &str) -> f64 {
    let (batch, single) = quotas();
    let (batch, single) = (f64::from(batch), f64::from(single));
    let secrets = (launches * SECRETS) as f64;
    let (work, rate) = match mode {
        "batch" => (secrets / 20.0, batch),
        "single" => (secrets, single),
        "auto" => (secrets, 20.0 * batch + single),
        // 10 names a GetParameters call.
        "parameters" => (secrets / 10.0, f64::from(parameters_quota())),
        _ => (SECRETS as f64, single),
    };
    ((work - rate) / rate).max(0.0)
}
use agentd::{TOKEN, start_agent};

/// [`SECRETS`] secrets in a fresh environment, and the schema that reads them.
fn forty_secrets(upstream: &str, label: &str) -> (String, String) {
    let client = moto::client(upstream);
    let env = moto::unique(label);
    let mut schema = format!("[envgate]\nenvironments = [\"{env}\"]\n");
    for index in 0..SECRETS {
        moto::create_secret(
            &client,
            &format!("{env}/s{index:02}"),
            &format!(r#"{{"v":"value-{index}"}}"#),
        );
        let _ = writeln!(schema, "[vars.S{index:02}]\nsecret = \"s{index:02}#v\"");
    }
    (env, schema)
}

/// [`SECRETS`] parameters in a fresh environment, and the schema that reads them.
fn forty_parameters(upstream: &str, label: &str) -> (String, String) {
    let client = moto::ssm_client(upstream);
    let env = moto::unique(label);
    let mut schema = format!("[envgate]\nenvironments = [\"{env}\"]\n");
    for index in 0..SECRETS {
        moto::put_parameter(
            &client,
            &format!("/{env}/p{index:02}"),
            &format!("value-{index}"),
        );
        let _ = writeln!(schema, "[vars.P{index:02}]\nparameter = \"p{index:02}\"");
    }
    (env, schema)
}

/// One storm: returns (seconds, failures, batch calls, single calls, throttled).
/// `parameters` reads [`SECRETS`] parameters per launch; its calls are counted
/// in the single column.
fn storm(upstream: &str, launches: usize, mode: &str) -> (f64, usize, usize, usize, usize) {
    let (env, schema) = if mode == "parameters" {
        forty_parameters(upstream, "storm")
    } else {
        forty_secrets(upstream, "storm")
    };
    // STORM_TIMEOUT: the launches' --timeout (default 600 s; `batch` at 200
    // launches needs more than its 400 s floor).
    let timeout = std::env::var("STORM_TIMEOUT").unwrap_or_else(|_| "600".to_owned());
    let (batch_per_sec, single_per_sec) = quotas();
    let proxy = proxy::Proxy::start(
        upstream,
        proxy::Behaviour::Quota {
            batch_per_sec,
            single_per_sec,
            parameters_per_sec: parameters_quota(),
        },
    );
    let agent = (mode == "agent").then(|| start_agent(&proxy.url, 300));
    let fetch = if mode == "parameters" { "auto" } else { mode };
    let mut gate = moto::gate(&schema, &proxy.url)
        .env("ENVIRONMENT", &env)
        .env("ENVGATE_AUDIT_LOG", "off")
        .env("USE_PARAMETER_STORE", "true")
        .args([
            "--audit-log",
            "off",
            "--timeout",
            &timeout,
            "--fetch",
            fetch,
            "--",
            "true",
        ]);
    if let Some(agent) = &agent {
        gate = gate
            .env("ENVGATE_SECRETS_AGENT", &agent.url)
            .env("AWS_TOKEN", TOKEN);
    }
    let started = Instant::now();
    let children: Vec<Child> = (0..launches)
        .map(|_| {
            gate.command()
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let failed: Vec<String> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .filter(|output| !output.status.success())
        .map(|output| {
            format!(
                "{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .collect();
    let failures = failed.len();
    if let Some(first) = failed.first() {
        eprintln!("first failure of {launches} {mode}:\n{first}");
    }
    let seconds = started.elapsed().as_secs_f64();
    (
        seconds,
        failures,
        proxy.count("BatchGetSecretValue"),
        proxy.count("GetSecretValue") + proxy.count("GetParameters"),
        proxy.count("BatchGetSecretValue throttled")
            + proxy.count("GetSecretValue throttled")
            + proxy.count("GetParameters throttled"),
    )
}

/// One launch through the agent against one direct launch, 40 secrets, warm
/// agent cache, interleaved: (direct median, agent median, requests moto answered
/// for 100 agent launches).
fn latency(upstream: &str) -> (Duration, Duration, usize) {
    let (env, schema) = forty_secrets(upstream, "latency");
    let proxy = proxy::Proxy::start(upstream, proxy::Behaviour::Forward);
    let agent = start_agent(&proxy.url, 300);
    let direct = moto::gate(&schema, &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--audit-log", "off", "--", "true"]);
    let through = moto::gate(&schema, &proxy.url)
        .env("ENVIRONMENT", &env)
        .env("ENVGATE_SECRETS_AGENT", &agent.url)
        .env("AWS_TOKEN", TOKEN)
        .args(["--audit-log", "off", "--", "true"]);
    let time = |gate: &harness::Envgate| {
        let started = Instant::now();
        assert_eq!(gate.run().code, 0);
        started.elapsed()
    };
    let before = proxy.count("GetSecretValue");
    for _ in 0..100 {
        time(&through);
    }
    let agent_fetches = proxy.count("GetSecretValue") - before;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        a.push(time(&direct));
        b.push(time(&through));
    }
    a.sort();
    b.sort();
    (a[15], b[15], agent_fetches)
}

fn main() {
    let upstream = moto::endpoint();
    if std::env::var("STORM_LATENCY").as_deref() != Ok("0") {
        let (direct, agent, fetches) = latency(&upstream);
        println!(
            "One launch, 40 secrets (medians of 30, interleaved): direct {:.1} ms, through the agent {:.1} ms, ratio {:.2}. 100 launches through the agent: {fetches} GetSecretValue calls reached Secrets Manager.\n",
            direct.as_secs_f64() * 1000.0,
            agent.as_secs_f64() * 1000.0,
            agent.as_secs_f64() / direct.as_secs_f64()
        );
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![50, 100, 200]
    } else {
        sizes
    };
    let all = ["auto", "batch", "single", "agent", "parameters"];
    let chosen: Vec<&str> = all
        .into_iter()
        .filter(|mode| std::env::args().any(|arg| arg == *mode))
        .collect();
    let modes = if chosen.is_empty() {
        all.to_vec()
    } else {
        chosen
    };
    let mut table = String::from(
        "| launches | mode | storm done in | quota floor | ratio | failures | BatchGetSecretValue | GetSecretValue | throttled |\n|---:|:---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for &launches in &sizes {
        for &mode in &modes {
            let (seconds, failures, batch, single, throttled) = storm(&upstream, launches, mode);
            let floor = floor(launches, mode);
            let ratio = if floor > 0.0 {
                format!("{:.2}", seconds / floor)
            } else {
                "-".to_owned()
            };
            let _ = writeln!(
                table,
                "| {launches} | {mode} | {seconds:.1} s | {floor:.1} s | {ratio} | {failures} | {batch} | {single} | {throttled} |"
            );
            eprintln!(
                "{launches} {mode}: {seconds:.1} s (floor {floor:.1} s, ratio {ratio}), {failures} failures, {batch} batch, {single} single, {throttled} throttled"
            );
        }
    }
    let (batch_per_sec, single_per_sec) = quotas();
    println!(
        "Quotas: BatchGetSecretValue {batch_per_sec}/s, GetSecretValue {single_per_sec}/s, GetParameters {}/s; {SECRETS} secrets (or parameters) per launch; `parameters` calls are in the GetSecretValue column.\n",
        parameters_quota()
    );
    print!("{table}");
}
