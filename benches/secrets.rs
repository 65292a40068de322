//! Secrets Manager fetch: API calls and wall time for 1, 20, 40 and 100 secrets,
//! against moto's server on 127.0.0.1 (start it with `eval "$(scripts/moto-server.sh start)"`).
//!
//! Run with `cargo bench --bench secrets`. Prints a Markdown table for docs/BENCHMARKS.md.
//! Each launch is the real binary running `envgate -- true`; calls are counted by the
//! test proxy between envgate and the server.

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
use std::time::{Duration, Instant};

const RUNS: u32 = 30;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(
    upstream: &str,
    count: usize,
    mode: &str,
    behaviour: proxy::Behaviour,
) -> (Duration, f64, f64) {
    let client = moto::client(upstream);
    let env = moto::unique("bench");
    let mut schema = format!("[envgate]\nenvironments = [\"{env}\"]\n");
    for index in 0..count {
        moto::create_secret(
            &client,
            &format!("{env}/s{index:03}"),
            &format!(r#"{{"v":"value-{index}"}}"#),
        );
        let _ = writeln!(schema, "[vars.S{index:03}]\nsecret = \"s{index:03}#v\"");
    }
    let proxy = proxy::Proxy::start(upstream, behaviour);
    let gate = moto::gate(&schema, &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--fetch", mode, "--", "true"]);
    assert_eq!(gate.run().code, 0, "warm-up launch failed");
    let before = (
        proxy.count("BatchGetSecretValue"),
        proxy.count("GetSecretValue"),
    );
    let samples: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let run = gate.run();
            assert_eq!(run.code, 0, "{}", run.transcript());
            started.elapsed()
        })
        .collect();
    let batch = f64::from(u32::try_from(proxy.count("BatchGetSecretValue") - before.0).unwrap())
        / f64::from(RUNS);
    let single = f64::from(u32::try_from(proxy.count("GetSecretValue") - before.1).unwrap())
        / f64::from(RUNS);
    (median(samples), batch, single)
}

fn main() {
    let upstream = moto::endpoint();
    let forward = proxy::Behaviour::Forward;
    let (one_single, _, _) = measure(&upstream, 1, "single", forward);
    let (one_batch, _, _) = measure(&upstream, 1, "batch", forward);
    println!(
        "| secrets | BatchGetSecretValue calls | GetSecretValue calls | median launch | vs one GetSecretValue | vs one batch call |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for count in [1, 20, 40, 100] {
        let (time, batch, single) = measure(&upstream, count, "auto", forward);
        println!(
            "| {count} | {batch} | {single} | {:.1} ms | {:.2}× | {:.2}× |",
            time.as_secs_f64() * 1000.0,
            time.as_secs_f64() / one_single.as_secs_f64(),
            time.as_secs_f64() / one_batch.as_secs_f64(),
        );
    }
    println!(
        "\none GetSecretValue (--fetch single, 1 secret): {:.1} ms; one batch call (1 secret): {:.1} ms",
        one_single.as_secs_f64() * 1000.0,
        one_batch.as_secs_f64() * 1000.0
    );

    // With 25 ms added to every request (a distant region), concurrency shows: the
    // batch calls overlap, so 40 or 100 secrets cost about one round trip more than
    // the local server's own work.
    let delayed = proxy::Behaviour::DelayMs(25);
    let (base, _, _) = measure(&upstream, 20, "auto", delayed);
    println!(
        "\n| secrets (+25 ms per request) | BatchGetSecretValue calls | median launch | vs one 20-secret batch call |"
    );
    println!("|---:|---:|---:|---:|");
    for count in [20, 40, 100] {
        let (time, batch, _) = measure(&upstream, count, "auto", delayed);
        println!(
            "| {count} | {batch} | {:.1} ms | {:.2}× |",
            time.as_secs_f64() * 1000.0,
            time.as_secs_f64() / base.as_secs_f64()
        );
    }
}
