//! Validation throughput: resolve and validate 10,000 variables (target: 10 ms).
//!
//! Run with `cargo bench --bench validate`. Figures go in docs/BENCHMARKS.md.

use std::fmt::Write as _;

use criterion::{Criterion, criterion_group, criterion_main};
use envgate::resolve::{EnvSnapshot, resolve};
use envgate::validate::{Mode, validate};

/// A schema of `count` variables cycling through the types and rules people use.
fn schema_text(count: usize) -> String {
    let mut text = String::from("version = 1\n");
    for index in 0..count {
        let _ = writeln!(text, "[vars.VAR_{index}]");
        match index % 5 {
            0 => text.push_str("min_length = 8\nforbid = [\"example\", \"change-this\"]\nmin_unique_chars = 4\nsensitive = true\n"),
            1 => text.push_str("type = \"port\"\ndefault = \"8000\"\n"),
            2 => text.push_str("type = \"int\"\nmin = 0\nmax = 100000\n"),
            3 => text.push_str("type = \"list\"\npattern = \"[a-z.]+\"\n"),
            _ => text.push_str("type = \"bool\"\none_of = [\"false\"]\n"),
        }
    }
    text
}

fn values(count: usize) -> EnvSnapshot {
    EnvSnapshot::from_pairs((0..count).map(|index| {
        let value = match index % 5 {
            0 => "s3cr3t-v4lue-long".to_owned(),
            1 => "5432".to_owned(),
            2 => (index * 7).to_string(),
            3 => "a.example.com,b.example.com".to_owned(),
            _ => "False".to_owned(),
        };
        (format!("VAR_{index}"), value)
    }))
}

fn bench(c: &mut Criterion) {
    let count = 10_000;
    let text = schema_text(count);
    let schema = envgate::schema::from_str("bench.toml", &text).unwrap();
    let env = values(count);
    let check = || {
        let resolution = resolve(&schema, "development", &env, &[]);
        validate(&schema, "development", &resolution, Mode::Enforce)
    };
    assert!(check().is_empty(), "the benchmark input must be valid");
    c.bench_function("resolve+validate 10k vars", |b| b.iter(check));
    c.bench_function("load schema 10k vars", |b| {
        b.iter(|| envgate::schema::from_str("bench.toml", &text).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
