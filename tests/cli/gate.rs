//! The gate on its side paths (issue 9): one test per defect seen, each of which
//! failed before the resolution pipeline was reshaped.

use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{Envgate, from_output};
use crate::moto::{client, create_secret, endpoint, gate, unique};

const DEBUG_SCHEMA: &str = r#"
[vars.DEBUG]
type = "bool"
default = "false"
[vars.DEBUG.environments.production]
one_of = ["false"]
"#;

// ---- 1. settings from env files -------------------------------------------

#[test]
fn environment_in_an_env_file_is_the_environment_validated() {
    let gate = Envgate::with_schema(DEBUG_SCHEMA);
    let file = gate.file("prod.env", "ENVIRONMENT=production\nDEBUG=true\n");
    let run = gate
        .args([
            "--env-file".as_ref(),
            file.as_os_str(),
            "--".as_ref(),
            "printenv".as_ref(),
            "ENVIRONMENT".as_ref(),
        ])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stderr.contains("production"), "{}", run.transcript());
}

#[test]
fn use_secrets_manager_in_an_env_file_is_acted_on() {
    let schema = "[vars.TOKEN]\nsecret = \"app/token\"\n";
    let gate = Envgate::with_schema(schema);
    let file = gate.file("sm.env", "USE_SECRETS_MANAGER=true\n");
    let run = gate
        .env("TOKEN", "local-token-value")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args([
            "--env-file".as_ref(),
            file.as_os_str(),
            "--".as_ref(),
            "printenv".as_ref(),
            "USE_SECRETS_MANAGER".as_ref(),
        ])
        .run();
    // No region: Secrets Manager was tried (and could not be reached), nothing ran.
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stdout.is_empty(), "{}", run.transcript());
}

#[test]
fn a_defaulted_environment_is_exported() {
    let run = Envgate::with_schema(DEBUG_SCHEMA)
        .args(["--", "printenv", "ENVIRONMENT"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "development\n");
}

// ---- 2. unresolved references never become values --------------------------

#[test]
fn an_optional_variable_never_receives_reference_text() {
    let upstream = endpoint();
    let env = unique("optref");
    for schema in [
        "[vars.OPT]\nrequired = false\nsensitive = true\n",
        "[vars.OPT]\ndefault = \"fallback\"\nsensitive = true\n",
    ] {
        let text = format!("[envgate]\nenvironments = [\"{env}\"]\n{schema}");
        let run = gate(&text, &upstream)
            .env("ENVIRONMENT", &env)
            .env("OPT", format!("aws-sm://{env}/absent/secret#key"))
            .args(["--", "sh", "-c", "echo \"got:$OPT\""])
            .run();
        assert_ne!(run.code, 0, "{schema}\n{}", run.transcript());
        assert!(!run.stdout.contains("got:"), "{}", run.transcript());
        assert!(run.stderr.contains("OPT"), "{}", run.transcript());
    }
}

#[test]
fn an_arn_reference_with_a_missing_key_is_an_error() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("arnkey");
    let arn = create_secret(&sm, &format!("{env}/svc"), r#"{"other":"x"}"#);
    let text = format!("[envgate]\nenvironments = [\"{env}\"]\n[vars.OPT]\nrequired = false\n");
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .env("OPT", format!("{arn}#password"))
        .args(["--", "sh", "-c", "echo \"got:$OPT\""])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(!run.stdout.contains("got:"), "{}", run.transcript());
}

// ---- 3. rules that cannot be switched off ---------------------------------

#[test]
fn a_pattern_cannot_escape_its_anchoring() {
    let run = Envgate::with_schema("[vars.N]\npattern = '[0-9]+)|(.*'\n")
        .env("N", "not-a-number")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    assert!(run.stdout.contains("pattern"), "{}", run.transcript());
}

#[test]
fn min_entropy_bits_must_be_a_finite_non_negative_number() {
    for bad in ["nan", "-inf", "inf", "-1.0"] {
        let run = Envgate::with_schema(&format!("[vars.K]\nmin_entropy_bits = {bad}\n"))
            .env("K", "aaaa")
            .args(["--check"])
            .run();
        assert_eq!(run.code, 65, "{bad}: {}", run.transcript());
        assert!(
            run.stdout.contains("min_entropy_bits"),
            "{}",
            run.transcript()
        );
    }
}

// ---- 4. the child environment is built from the resolution alone ----------

#[test]
fn file_delivery_removes_the_alias_the_value_came_from() {
    let gate = Envgate::with_schema("[vars.C]\ndeliver = \"file\"\naliases = [\"OLD_C\"]\n");
    let shm = gate.dir().join("shm");
    std::fs::create_dir(&shm).unwrap();
    let run = gate
        .env("OLD_C", "alias-delivered-canary")
        .env("ENVGATE_SECRETS_DIR", &shm)
        .args(["--", "env"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("C_FILE="), "{}", run.stdout);
    assert!(
        !run.stdout.contains("alias-delivered-canary"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("OLD_C="), "{}", run.stdout);
}

#[test]
fn a_name_file_that_lost_to_a_default_is_not_passed_on() {
    let gate = Envgate::with_schema("[vars.A]\ndefault = \"from-default\"\n");
    let empty = gate.file("empty", "");
    let run = gate.env("A_FILE", &empty).args(["--", "env"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("A=from-default"), "{}", run.stdout);
    assert!(!run.stdout.contains("A_FILE="), "{}", run.stdout);
}

#[test]
fn a_name_file_that_lost_to_secrets_manager_is_not_passed_on() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("filelost");
    create_secret(&sm, &format!("{env}/tok"), "from-secrets-manager");
    let text = format!("[envgate]\nenvironments = [\"{env}\"]\n[vars.TOK]\nsecret = \"tok\"\n");
    let gate = gate(&text, &upstream);
    let local = gate.file("tok", "stale-local\n");
    let run = gate
        .env("ENVIRONMENT", &env)
        .env("TOK_FILE", &local)
        .args(["--", "env"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("TOK=from-secrets-manager"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("TOK_FILE="), "{}", run.stdout);
}

// ---- 5. what exec would refuse, check refuses ------------------------------

#[test]
fn a_nul_byte_in_a_value_is_a_validation_error() {
    let gate = Envgate::with_schema("[vars.A]\n[vars.B]\nsensitive = true\n");
    let a = gate.file("a", b"left\0right");
    let b = gate.file("b", b"sec\0ret");
    let gate = gate.env("A_FILE", &a).env("B_FILE", &b);
    let check = gate.command().arg("--check").output().unwrap();
    let check = from_output(check);
    assert_eq!(check.code, 78, "{}", check.transcript());
    assert!(
        check.stdout.contains("A contains a NUL byte"),
        "{}",
        check.transcript()
    );
    assert!(
        check.stdout.contains("B contains a NUL byte"),
        "{}",
        check.transcript()
    );
    // The same file launched: refused before exec, naming the variable.
    let launch = gate.args(["--", "true"]).run();
    assert_eq!(launch.code, 78, "{}", launch.transcript());
    assert!(
        launch.stderr.contains("A contains a NUL byte"),
        "{}",
        launch.transcript()
    );
}

#[test]
fn a_value_too_long_for_exec_fails_the_check() {
    // Too long for envgate's own environment too: it arrives as a file.
    let gate = Envgate::with_schema("[vars.BIG]\n");
    let big = gate.file("big", "x".repeat(128 * 1024));
    let gate = gate.env("BIG_FILE", &big).args(["--check"]);
    let run = gate.run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stdout.contains("BIG"), "{}", run.transcript());
}

#[test]
fn a_failed_exec_is_audited_as_a_failure() {
    let gate =
        Envgate::with_schema("[vars.A]\ndefault = \"a\"\n").args(["--", "/nonexistent/program"]);
    let run = gate.run();
    assert_eq!(run.code, 127, "{}", run.transcript());
    let events = gate.audit_events();
    let execs: Vec<_> = events
        .iter()
        .filter(|event| event["event"] == "process.exec")
        .collect();
    assert_eq!(execs.len(), 1, "{events:#?}");
    assert_eq!(execs[0]["outcome"], "failure", "{events:#?}");
}

// ---- 6. sensitive values: one message path ---------------------------------

fn assert_hidden(output: &str, canary: &str) {
    assert!(!output.contains(canary), "`{canary}` leaked:\n{output}");
}

#[test]
fn numeric_rules_do_not_quote_sensitive_values() {
    let run = Envgate::with_schema("[vars.PIN]\ntype = \"int\"\nsensitive = true\nmin = 100000\n")
        .env("PIN", "73519")
        .args(["--check", "--explain"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert_hidden(&run.all_output(), "73519");
}

#[test]
fn secret_rotate_and_file_delivery_imply_sensitive() {
    for schema in [
        "[vars.S]\nsecret = \"app/s\"\nmin_length = 64\n",
        "[vars.S]\nrotate = { kind = \"api-key\" }\nmin_length = 64\n",
        "[vars.S]\ndeliver = \"file\"\nmin_length = 64\n",
    ] {
        let run = Envgate::with_schema(schema)
            .env("S", "canary-Hq8Zt3Lw")
            .args(["--check", "--explain"])
            .run();
        assert_eq!(run.code, 78, "{schema}{}", run.transcript());
        assert_hidden(&run.all_output(), "Hq8Zt3Lw");
        let docs = Envgate::with_schema(schema).args(["docs"]).run();
        assert!(
            docs.stdout.contains("sensitive") || docs.stdout.contains("Sensitive"),
            "{}",
            docs.stdout
        );
    }
    // `sensitive = false` is the written-out way back.
    let run = Envgate::with_schema("[vars.S]\nsecret = \"app/s\"\nsensitive = false\n")
        .env("S", "shown-value")
        .args(["--check", "--explain"])
        .run();
    assert!(run.stdout.contains("shown-value"), "{}", run.transcript());
}

#[test]
fn docs_never_print_a_sensitive_default() {
    let schema = "[vars.S]\nsensitive = true\ndefault = \"canary-default-Pw7Kd\"\n";
    for format in ["markdown", "dotenv"] {
        let run = Envgate::with_schema(schema)
            .args(["docs", "--format", format])
            .run();
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_hidden(&run.all_output(), "Pw7Kd");
    }
}

#[test]
fn credentials_in_the_endpoint_url_are_not_echoed() {
    let run = Envgate::with_schema("[vars.T]\nsecret = \"app/t\"\n")
        .env("USE_SECRETS_MANAGER", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://admin:canary-Ep9Qw@127.0.0.1:9")
        .args(["--check", "--timeout", "5"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert_hidden(&run.all_output(), "Ep9Qw");
    assert!(
        run.all_output().contains("127.0.0.1:9"),
        "{}",
        run.transcript()
    );
}

#[test]
fn explain_escapes_control_characters() {
    let run = Envgate::with_schema("[vars.A]\n")
        .env("A", "red\u{1b}[31mtext\rover")
        .args(["--check", "--explain"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.stdout.contains('\u{1b}'), "{:?}", run.stdout);
    assert!(!run.stdout.contains('\r'), "{:?}", run.stdout);
    assert!(
        run.stdout.contains("\\u{1b}") || run.stdout.contains("\\e"),
        "{:?}",
        run.stdout
    );
}

// ---- 7. .env values are read as python-dotenv reads them -------------------

#[test]
fn env_file_dollar_signs_are_kept_as_python_dotenv_keeps_them() {
    let key = "q9$x#k2Lm$Wz!a8Tq$1vB^cR5nY7pE&uK3oJ6";
    let gate = Envgate::with_schema("[vars.K]\n[vars.A]\n[vars.B]\n[vars.C]\n");
    let file = gate.file(
        "dev.env",
        format!("K={key}\nA=\"x $HOME\"\nB=\"${{HOME}}/data\"\nC='${{HOME}}'\n"),
    );
    let run = gate
        .env("HOME", "/home/app")
        .args([
            "--env-file".as_ref(),
            file.as_os_str(),
            "--".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            "printf '%s|%s|%s|%s' \"$K\" \"$A\" \"$B\" \"$C\"".as_ref(),
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout,
        // python-dotenv expands ${…} inside single quotes too.
        format!("{key}|x $HOME|/home/app/data|/home/app")
    );
}

#[test]
fn an_unset_name_in_an_env_file_expansion_is_a_warning() {
    let gate = Envgate::with_schema("[vars.B]\n");
    let file = gate.file("dev.env", "B=\"${NOT_SET_ANYWHERE}/x\"\n");
    let run = gate
        .args(["--env-file".as_ref(), file.as_os_str(), "--check".as_ref()])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("NOT_SET_ANYWHERE"),
        "{}",
        run.transcript()
    );
}

// ---- 8. signals before exec ------------------------------------------------

/// A TCP listener that accepts and never answers.
fn black_hole() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[test]
fn sigterm_while_fetching_stops_with_128_plus_n_and_launches_nothing() {
    let (_listener, url) = black_hole();
    let gate = gate("[vars.T]\nsecret = \"app/t\"\n", &url);
    let marker = gate.dir().join("launched");
    let gate = gate.args([
        "--timeout".as_ref(),
        "20".as_ref(),
        "--".as_ref(),
        "touch".as_ref(),
        marker.as_os_str(),
    ]);
    let mut child = gate
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(!marker.exists());
    let events = gate.audit_events();
    assert!(
        events
            .iter()
            .any(|event| event["event"] == "process.interrupted" && event["signal"] == "SIGTERM"),
        "{events:#?}"
    );
}

#[test]
fn as_pid_1_sigterm_still_stops_the_fetch() {
    let (_listener, url) = black_hole();
    let gate = gate("[vars.T]\nsecret = \"app/t\"\n", &url);
    let pidfile = gate.dir().join("pid");
    // A PID namespace of its own: envgate is its PID 1, where signals without a
    // handler are ignored.
    let script = format!(
        "unshare --pid --fork --kill-child sh -c 'echo $$ > /dev/null; exec \"$0\" --timeout 20 --check' {bin} & echo $! > {pid}; wait $!",
        bin = env!("CARGO_BIN_EXE_envgate"),
        pid = pidfile.display()
    );
    let mut child = gate
        .wrapper("sh")
        .arg("-c")
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    // The envgate process is the only child of unshare.
    let unshare_pid = std::fs::read_to_string(&pidfile).unwrap();
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare_pid.trim()))
            .unwrap();
    let envgate_pid: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(envgate_pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for the deadline"
    );
    assert_eq!(status.code(), Some(143), "{status:?}");
}

// ---- 10. what is not a regular file is refused ------------------------------

fn fifo(gate: &Envgate, name: &str) -> std::path::PathBuf {
    let path = gate.dir().join(name);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    path
}

/// Runs with a deadline: a run that blocks fails the test instead of hanging it.
fn run_within(gate: &Envgate, limit: Duration) -> crate::harness::Run {
    let mut child = gate
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("envgate blocked for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    from_output(child.wait_with_output().unwrap())
}

#[test]
fn fifos_are_refused_everywhere_a_file_is_read() {
    let limit = Duration::from_secs(5);
    let gate = Envgate::with_schema("[vars.A]\n");
    let pipe = fifo(&gate, "pipe");
    let run = run_within(&gate.env("A_FILE", &pipe).args(["--check"]), limit);
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.stdout.contains("not a regular file"),
        "{}",
        run.transcript()
    );

    // Every other file envgate reads or writes, given a FIFO: (arguments around
    // the FIFO's path, the exit code).
    let cases: [(&[&str], &[&str], i32); 4] = [
        (&["--env-file"], &["--check"], 66),
        (&["--schema"], &["--check"], 66),
        (&["--audit-log"], &["--check"], 73),
        (&["docs", "--check"], &[], 66),
    ];
    for (before, after, code) in cases {
        let gate = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n");
        let pipe = fifo(&gate, "pipe");
        let gate = gate.args(before).args([&pipe]).args(after);
        let run = run_within(&gate, limit);
        assert_eq!(run.code, code, "{before:?}: {}", run.transcript());
    }
    let run = run_within(
        &Envgate::with_schema("[vars.A]\n").args(["docs", "--check", "/dev/zero"]),
        limit,
    );
    assert_eq!(run.code, 66, "{}", run.transcript());
}

// ---- 11. linear reporting, bounded regexes ---------------------------------

#[test]
fn forty_thousand_missing_variables_are_reported_quickly() {
    let mut schema = String::with_capacity(40_000 * 16);
    for index in 0..40_000 {
        let _ = writeln!(schema, "[vars.V{index}]");
    }
    let started = Instant::now();
    let run = Envgate::with_schema(&schema)
        .args(["--check", "--format", "json"])
        .run();
    assert_eq!(run.code, 78);
    // Quadratic reporting took 50 s here; linear takes well under a second.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn huge_regexes_are_a_schema_error_not_an_abort() {
    let mut schema = String::new();
    for index in 0..300 {
        let _ = writeln!(schema, "[vars.V{index}]\npattern = '[a-z]{{1000}}{{1000}}'");
    }
    let run = Envgate::with_schema(&schema).args(["--check"]).run();
    assert_eq!(
        run.code,
        65,
        "{}",
        &run.transcript()[..2000.min(run.transcript().len())]
    );
    assert!(
        run.stdout.contains("too large"),
        "{}",
        &run.stdout[..2000.min(run.stdout.len())]
    );
}

// ---- 12. files ---------------------------------------------------------------

#[test]
fn the_audit_log_does_not_follow_symlinks_and_is_made_private() {
    let gate = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n");
    let target = gate.file("target", "");
    let link = gate.dir().join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let gate = gate.args(["--audit-log".as_ref(), link.as_os_str(), "--check".as_ref()]);
    let run = gate.run();
    assert_eq!(run.code, 73, "{}", run.transcript());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");

    let gate = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n");
    let open = gate.file("open.log", "");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let gate = gate.args(["--audit-log".as_ref(), open.as_os_str(), "--check".as_ref()]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let mode = std::fs::metadata(&open).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn docs_output_replaces_only_regular_files() {
    let gate = Envgate::with_schema("[vars.A]\n");
    let target = gate.file("elsewhere.md", "keep");
    let link = gate.dir().join("link.md");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let gate = gate.args(["docs".as_ref(), "--output".as_ref(), link.as_os_str()]);
    let run = gate.run();
    assert_eq!(run.code, 73, "{}", run.transcript());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let gate = Envgate::with_schema("[vars.A]\n");
    let pipe = fifo(&gate, "pipe.md");
    let gate = gate.args(["docs".as_ref(), "--output".as_ref(), pipe.as_os_str()]);
    let run = run_within(&gate, Duration::from_secs(5));
    assert_eq!(run.code, 73, "{}", run.transcript());
    assert!(
        std::fs::symlink_metadata(&pipe)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn delivered_files_are_removed_when_the_launch_fails() {
    let gate = Envgate::with_schema("[vars.C]\ndeliver = \"file\"\ndefault = \"d\"\n");
    let shm = gate.dir().join("shm");
    std::fs::create_dir(&shm).unwrap();
    let gate = gate
        .env("ENVGATE_SECRETS_DIR", &shm)
        .args(["--", "/nonexistent/program"]);
    let run = gate.run();
    assert_eq!(run.code, 127, "{}", run.transcript());
    assert_eq!(std::fs::read_dir(&shm).unwrap().count(), 0);
}

// ---- 13. a closed pipe is not a crash -----------------------------------------

#[test]
fn a_closed_stdout_is_not_an_internal_error() {
    let mut schema = String::new();
    for index in 0..3000 {
        let _ = writeln!(
            schema,
            "[vars.V{index}]\ndescription = \"Variable number {index}, described at some length.\""
        );
    }
    let gate = Envgate::with_schema(&schema).args(["docs"]);
    let mut child = gate
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is closed here, as `head -1` closes it.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(134), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    // SIGPIPE is ignored (as Rust's start-up routine leaves it): the write fails
    // and envgate ends normally instead of being killed by the signal.
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        None,
        "{stderr}"
    );
}

// ---- 14. output and codes -----------------------------------------------------

#[test]
fn explain_with_a_machine_format_prints_only_that_format() {
    let run = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n")
        .args(["--check", "--explain", "--format", "json"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|error| {
        panic!("stdout is not one JSON document ({error}):\n{}", run.stdout)
    });
    assert_eq!(json["ok"], true);
    assert_eq!(json["explain"][0]["var"], "A", "{json:#}");
}

#[test]
fn env_file_errors_name_their_own_line() {
    let gate = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n");
    // Text after a closing quote, on line 4 (once reported on line 1).
    let file = gate.file("bad.env", "A=1\nB=2\n# c\n  D = 'x' y\nE=4\nF G=5\n");
    let run = gate
        .args(["--env-file".as_ref(), file.as_os_str(), "--check".as_ref()])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.all_output().contains("line 4"), "{}", run.transcript());
}

#[test]
fn an_env_file_that_is_not_utf8_is_invalid_configuration() {
    let gate = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n");
    let file = gate.file("bad.env", b"A=\xff\xfe\n");
    let run = gate
        .args(["--env-file".as_ref(), file.as_os_str(), "--check".as_ref()])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.all_output().contains("UTF-8"), "{}", run.transcript());
}

#[test]
fn a_bad_cache_ttl_says_what_a_ttl_is() {
    let run = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n")
        .env("SECRETS_CACHE_TTL", "abc")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    let output = run.all_output();
    assert!(output.contains("SECRETS_CACHE_TTL"), "{output}");
    assert!(output.contains("seconds"), "{output}");
    assert!(!output.contains("true/false"), "{output}");
}

#[test]
fn docs_with_a_command_is_a_usage_error() {
    let run = Envgate::with_schema("[vars.A]\n")
        .args(["--docs", "--", "echo", "hi"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
}

#[test]
fn the_docs_header_names_the_output_it_was_written_to() {
    let gate = Envgate::with_schema("[vars.A]\n");
    let out = gate.dir().join("ENV.md");
    let gate = gate.args(["docs".as_ref(), "--output".as_ref(), out.as_os_str()]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let text = std::fs::read_to_string(&out).unwrap();
    let header = text.lines().take(5).collect::<Vec<_>>().join("\n");
    assert!(header.contains("--output"), "{header}");
}

#[test]
fn help_describes_each_subcommand_plainly() {
    let run = Envgate::with_schema("").args(["--help"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let rotate = run
        .stdout
        .lines()
        .find(|line| line.trim_start().starts_with("rotate"))
        .unwrap();
    assert!(!rotate.contains("JSON Schema"), "{rotate}");
    assert!(!run.stdout.contains("$`"), "{}", run.stdout);
    for sub in ["docs", "schema"] {
        let help = Envgate::with_schema("").args([sub, "--help"]).run();
        for launch_only in ["--env-file", "--audit-log", "--environment", "--fetch"] {
            assert!(!help.stdout.contains(launch_only), "{sub}: {}", help.stdout);
        }
    }
    // Value options work before and after the subcommand's name.
    let gate = Envgate::with_schema("[vars.A]\n");
    let one = gate.file("one.env", "A=1\n");
    let two = gate.file("two.env", "A=2\n");
    let run = gate
        .args(["--env-file".as_ref(), one.as_os_str(), "run".as_ref()])
        .args(["--env-file".as_ref(), two.as_os_str()])
        .args(["--", "printenv", "A"])
        .run();
    assert_eq!(run.stdout, "2\n", "{}", run.transcript());
}

#[test]
fn a_group_must_be_declared() {
    let run = Envgate::with_schema("[vars.A]\ngroup = \"djagno\"\ndefault = \"a\"\n")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    assert!(run.stdout.contains("djagno"), "{}", run.transcript());
}

// ---- 9. the deadline is hard ----------------------------------------------------

#[test]
fn the_deadline_holds_against_a_resolver_that_never_answers() {
    let gate = gate(
        "[vars.T]\nsecret = \"app/t\"\n",
        "http://secrets.envgate-test.example:4566",
    );
    let resolv = gate.file(
        "resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n",
    );
    // A network and mount namespace of the test's own: a name server on
    // 127.0.0.1:53 that reads every query and answers none.
    let script = format!(
        "ip link set lo up && mount --bind {resolv} /etc/resolv.conf && \
         python3 -c 'import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"127.0.0.1\", 53)); time.sleep(60)' >/dev/null 2>&1 & \
         sleep 0.5; {bin} --timeout 3 --check; status=$?; kill $!; exit $status",
        resolv = resolv.display(),
        bin = env!("CARGO_BIN_EXE_envgate"),
    );
    let started = Instant::now();
    let output = gate
        .wrapper("unshare")
        .args(["--net", "--mount", "--fork", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux) and root are needed for this test");
    let elapsed = started.elapsed();
    let run = from_output(output);
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stdout.contains("within 3s"), "{}", run.transcript());
    assert!(elapsed < Duration::from_millis(5000), "took {elapsed:?}");
}

#[test]
fn a_missing_pinned_stage_is_named_as_such() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("pinned");
    create_secret(&sm, &format!("{env}/svc"), r#"{"key":"v"}"#);
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.K]\nsecret = \"svc#key@NOSUCHSTAGE\"\n"
    );
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.stdout.contains("has no version labelled `NOSUCHSTAGE`"),
        "{}",
        run.transcript()
    );
}

#[test]
fn a_number_json_cannot_hold_is_not_called_not_an_object() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("bignum");
    create_secret(&sm, &format!("{env}/svc"), r#"{"key": 1e400}"#);
    let text = format!("[envgate]\nenvironments = [\"{env}\"]\n[vars.K]\nsecret = \"svc#key\"\n");
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.stdout.contains("number out of range"),
        "{}",
        run.transcript()
    );
    assert!(
        !run.stdout.contains("not a JSON object"),
        "{}",
        run.transcript()
    );
}

#[test]
fn a_stop_signal_held_on_the_local_path_stops_the_launch() {
    // SIGTERM arrives while envgate holds it blocked (here: before it starts, the
    // mask and the pending signal survive exec): nothing is launched, exit 143.
    let gate = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n");
    let marker = gate.dir().join("launched");
    let gate = gate.args(["--".as_ref(), "touch".as_ref(), marker.as_os_str()]);
    let script = "import os, signal, sys\n\
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n\
os.kill(os.getpid(), signal.SIGTERM)\n\
os.execv(sys.argv[1], sys.argv[1:])\n";
    let output = gate
        .wrapper("python3")
        .arg("-c")
        .arg(script)
        .args(gate.argv())
        .output()
        .unwrap();
    let run = from_output(output);
    assert_eq!(run.code, 143, "{}", run.transcript());
    assert!(!marker.exists());
    assert!(
        run.stderr.contains("stopped by SIGTERM"),
        "{}",
        run.transcript()
    );
    let events = gate.audit_events();
    assert!(
        events
            .iter()
            .any(|event| event["event"] == "process.interrupted"),
        "{events:#?}"
    );
    assert!(
        !events.iter().any(|event| event["event"] == "process.exec"),
        "{events:#?}"
    );
}

#[test]
fn required_in_with_a_default_there_is_a_contradiction() {
    let run = Envgate::with_schema(
        "[vars.A]\nrequired_in = [\"production\"]\ndefault = \"x\"\n[vars.B]\nrequired_in = [\"production\"]\n[vars.B.environments.development]\ndefault = \"dev-only\"\n",
    )
    .args(["--check"])
    .run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("A is required in production by `required_in`, but has a default there"),
        "{}",
        run.transcript()
    );
    assert!(
        !run.stdout.contains("B is required"),
        "{}",
        run.transcript()
    );
}

#[test]
fn the_environment_variable_is_validated_as_the_program_receives_it() {
    let gate = Envgate::with_schema(
        "[vars.ENVIRONMENT]\none_of = [\"development\", \"production\"]\n[vars.DEBUG]\ntype = \"bool\"\ndefault = \"false\"\n[vars.DEBUG.environments.production]\none_of = [\"false\"]\n",
    );
    let file = gate.file("prod.env", "ENVIRONMENT=production\n");
    // From an env file: validated and exported as production.
    let run = gate
        .args([
            "--env-file".as_ref(),
            file.as_os_str(),
            "--explain".as_ref(),
        ])
        .args(["--", "printenv", "ENVIRONMENT"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "production\n");
    assert!(
        run.stderr.contains("environment: production"),
        "{}",
        run.transcript()
    );
    // --environment wins over the process environment, for the variable too.
    let run =
        Envgate::with_schema("[vars.ENVIRONMENT]\none_of = [\"development\", \"production\"]\n")
            .env("ENVIRONMENT", "development")
            .args([
                "--environment",
                "production",
                "--explain",
                "--",
                "printenv",
                "ENVIRONMENT",
            ])
            .run();
    assert_eq!(run.stdout, "production\n", "{}", run.transcript());
    assert!(
        run.stderr
            .contains("ENVIRONMENT  env     ok      production"),
        "{}",
        run.transcript()
    );
}
