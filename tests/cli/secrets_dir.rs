//! `--secrets-dir`: a directory of files named after variables, as Docker and
//! Kubernetes mount secrets, between `NAME_FILE` and `--env-file`.

use std::os::unix::fs::symlink;

use crate::harness::Envgate;

const SCHEMA: &str = r#"
[vars.DB_PASSWORD]
sensitive = true
min_length = 12
[vars.API_KEY]
sensitive = true
[vars.REGION]
default = "eu-west-1"
[vars.PORT]
type = "port"
default = "8000"
"#;

/// A directory in the run's folder holding `files` (name, contents).
fn mount(gate: &Envgate, files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let dir = gate.dir().join("mount");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    dir
}

fn printed(program: &str) -> [&str; 5] {
    ["--", "sh", "-c", program, "sh"]
}

#[test]
fn values_come_between_name_file_and_env_files() {
    let gate = Envgate::with_schema(SCHEMA);
    let dir = mount(
        &gate,
        &[
            ("DB_PASSWORD", b"canary-mounted-pw\n\n"),
            ("API_KEY", b"canary-mounted-key\n"),
            ("REGION", b"us-east-2\n"),
        ],
    );
    let env_file = gate.file("app.env", "API_KEY=from-env-file\nPORT=9000\n");
    let key_file = gate.file("key", "canary-name-file-key\n");
    let run = gate
        .env("API_KEY_FILE", &key_file)
        .args(["--secrets-dir".as_ref(), dir.as_os_str()])
        .args(["--env-file".as_ref(), env_file.as_os_str()])
        .args(printed(
            "printf '%s|%s|%s|%s\\n' \"$DB_PASSWORD\" \"$API_KEY\" \"$REGION\" \"$PORT\"",
        ))
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    // One trailing newline trimmed (the second stays: the value is "pw\n").
    assert_eq!(
        run.stdout,
        "canary-mounted-pw\n|canary-name-file-key|us-east-2|9000\n"
    );
}

#[test]
fn a_kubernetes_mount_with_lower_case_names_and_symlinks() {
    let gate = Envgate::with_schema(SCHEMA);
    let dir = gate.dir().join("mount");
    let data = dir.join("..2026_11_30_09_00_00.123456789");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("db_password"), "canary-k8s-password").unwrap();
    std::fs::write(data.join("api_key"), "canary-k8s-key").unwrap();
    symlink("..2026_11_30_09_00_00.123456789", dir.join("..data")).unwrap();
    symlink("..data/db_password", dir.join("db_password")).unwrap();
    symlink("..data/api_key", dir.join("api_key")).unwrap();
    let run = gate
        .args(["--secrets-dir".as_ref(), dir.as_os_str()])
        .args(printed("printf '%s|%s\\n' \"$DB_PASSWORD\" \"$API_KEY\""))
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "canary-k8s-password|canary-k8s-key\n");
    assert!(
        run.stderr.is_empty(),
        "no warning for ..data: {}",
        run.stderr
    );
}

#[test]
fn a_file_for_an_unknown_name_is_a_warning() {
    let gate = Envgate::with_schema(SCHEMA);
    let dir = mount(
        &gate,
        &[
            ("DB_PASSWORD", b"canary-mounted-pw"),
            ("API_KEY", b"canary-mounted-key"),
            ("DB_PASSWROD", b"canary-typo"),
        ],
    );
    let run = gate
        .args(["--secrets-dir".as_ref(), dir.as_os_str()])
        .args(["--check", "--explain"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("DB_PASSWROD"), "{}", run.stdout);
    assert!(run.stdout.contains("does not declare"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Did you mean `DB_PASSWORD`?"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("secrets-dir"),
        "the source in --explain: {}",
        run.stdout
    );
    for canary in ["canary-mounted-pw", "canary-mounted-key", "canary-typo"] {
        assert!(!run.all_output().contains(canary), "{}", run.transcript());
    }
}

#[test]
fn unreadable_files_are_errors_of_their_variable() {
    let gate = Envgate::with_schema(SCHEMA);
    let dir = mount(
        &gate,
        &[("DB_PASSWORD", b"\xff\xfe not utf-8"), ("API_KEY", b"k")],
    );
    let run = gate
        .args(["--secrets-dir".as_ref(), dir.as_os_str()])
        .args(printed("echo launched"))
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stdout.is_empty(), "nothing launched");
    assert!(run.stderr.contains("DB_PASSWORD"), "{}", run.stderr);
    assert!(run.stderr.contains("not valid UTF-8"), "{}", run.stderr);

    let gate = Envgate::with_schema(SCHEMA);
    let dir = mount(&gate, &[("API_KEY", b"k")]);
    let big = vec![b'a'; 1024 * 1024 + 1];
    std::fs::write(dir.join("DB_PASSWORD"), big).unwrap();
    let run = gate
        .args(["--secrets-dir".as_ref(), dir.as_os_str()])
        .args(printed("echo launched"))
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stderr.contains("DB_PASSWORD"), "{}", run.stderr);
}

#[test]
fn a_missing_directory_exits_66() {
    let run = Envgate::with_schema(SCHEMA)
        .args(["--secrets-dir", "/run/secrets-nowhere", "--check"])
        .run();
    assert_eq!(run.code, 66, "{}", run.transcript());
    assert!(
        run.stderr.contains("/run/secrets-nowhere"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--secrets-dir"), "{}", run.stderr);
}

/// An entry named after a variable that is not a readable regular file fails
/// that variable, whatever a lower source holds: a directory (what Docker
/// creates for a missing bind-mount source), a FIFO, a broken link. Nothing
/// falls through to the env file or the default.
#[test]
fn an_entry_that_is_not_a_file_fails_its_variable() {
    for kind in ["directory", "fifo", "broken link"] {
        let gate = Envgate::with_schema(SCHEMA);
        let dir = mount(&gate, &[("API_KEY", b"k")]);
        let entry = dir.join("DB_PASSWORD");
        match kind {
            "directory" => std::fs::create_dir(&entry).unwrap(),
            "fifo" => {
                nix::unistd::mkfifo(&entry, nix::sys::stat::Mode::S_IRWXU).unwrap();
            }
            _ => symlink(dir.join("nowhere"), &entry).unwrap(),
        }
        let env_file = gate.file("app.env", "DB_PASSWORD=from-the-env-file-ok\n");
        let run = gate
            .args(["--secrets-dir".as_ref(), dir.as_os_str()])
            .args(["--env-file".as_ref(), env_file.as_os_str()])
            .args(printed("echo launched"))
            .run();
        assert_eq!(run.code, 78, "{kind}: {}", run.transcript());
        assert!(run.stdout.is_empty(), "{kind}: nothing launched");
        assert!(run.stderr.contains("DB_PASSWORD"), "{kind}: {}", run.stderr);
    }
}

/// Two entries whose names differ only in case are an error naming both, not a
/// silent pick of one.
#[test]
fn names_differing_only_in_case_are_an_error_naming_both() {
    let gate = Envgate::with_schema(SCHEMA);
    let dir = mount(
        &gate,
        &[
            ("DB_PASSWORD", b"canary-upper-case-pw"),
            ("db_password", b"canary-lower-case-pw"),
            ("API_KEY", b"k"),
        ],
    );
    let run = gate
        .args(["--secrets-dir".as_ref(), dir.as_os_str()])
        .args(printed("echo launched"))
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stderr.contains("db_password"), "{}", run.stderr);
    assert!(run.stderr.contains("DB_PASSWORD`"), "{}", run.stderr);
    assert!(
        !run.all_output().contains("canary-"),
        "{}",
        run.transcript()
    );
}
