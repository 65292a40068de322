//! Any `SECRET_KEY` that Django's own `check --deploy` flags as security.W009 is
//! rejected by the example schema. Runs Django (from `PyPI`) in the project's test
//! virtualenv, which `scripts/test.sh` creates.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use envgate::validate::rules::check_value;

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).unwrap()
    }
}

fn generated_keys() -> Vec<String> {
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*(-_=+)";
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut keys = Vec::new();
    for round in 0..400 {
        let length = rng.below(90);
        let distinct = 1 + rng.below(if round % 3 == 0 { 8 } else { ALPHABET.len() });
        let offset = rng.below(ALPHABET.len() - distinct + 1);
        let letters = &ALPHABET[offset..offset + distinct];
        let mut key: String = (0..length)
            .map(|_| letters[rng.below(distinct)] as char)
            .collect();
        if round % 7 == 0 {
            key = format!("django-insecure-{key}");
        }
        keys.push(key);
    }
    keys.push("django-insecure-".to_owned() + &"x1y2z3w4v5".repeat(6));
    keys.push("a".repeat(60));
    keys.push("abcd".repeat(20));
    keys
}

/// Which keys Django's deployment checks flag with security.W009.
fn django_flags(python: &Path, keys: &[String]) -> Vec<bool> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/django_w009.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(keys).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the Django check script failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn every_key_django_flags_w009_is_rejected() {
    let python = crate::harness::test_python("django");
    let schema = envgate::schema::from_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/muejam.toml"),
    )
    .unwrap();
    let var = schema.var("SECRET_KEY").unwrap();
    let keys = generated_keys();
    let flagged = django_flags(&python, &keys);
    assert_eq!(flagged.len(), keys.len());
    let mut flagged_count = 0;
    let mut accepted_by_both = 0;
    for (index, (key, flagged)) in keys.iter().zip(&flagged).enumerate() {
        let rejected =
            !check_value(var.kind, &var.layer_for("production").rules, key, true).is_empty();
        if *flagged {
            flagged_count += 1;
            assert!(
                rejected,
                "key #{index} is flagged by Django (W009) but accepted by envgate"
            );
        } else if !rejected {
            accepted_by_both += 1;
        }
    }
    // The sample must exercise both sides, or the test proves nothing.
    assert!(
        flagged_count > 100,
        "only {flagged_count} keys were flagged"
    );
    assert!(
        accepted_by_both > 50,
        "only {accepted_by_both} keys were accepted by both"
    );
}
