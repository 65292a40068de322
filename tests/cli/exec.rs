//! Launch: exec in place, with the resolved environment, only when valid.

use std::os::unix::process::CommandExt;

use crate::harness::{DEV_VALUES, Envgate, from_output};

#[test]
fn the_program_replaces_envgate_with_the_same_pid() {
    let gate = Envgate::muejam()
        .envs(DEV_VALUES)
        .args(["--", "sh", "-c", "echo $$"]);
    let child = gate
        .command()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = from_output(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout.trim(), pid.to_string());
}

#[test]
fn run_subcommand_passes_resolved_values_and_inherited_ones() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("DATABASE_PASSWORD", "")
        .env("UNRELATED", "kept")
        .args(["run", "--", "env"])
        .run();
    // An empty required value blocks the launch...
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert_eq!(run.stdout, "");

    let gate = Envgate::muejam().envs(&DEV_VALUES[..2]);
    let key_file = gate.file("password", "from-a-file-1234\n");
    let run = gate
        .env("DATABASE_PASSWORD_FILE", &key_file)
        .env("UNRELATED", "kept")
        .args(["run", "--", "env"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.contains(&"UNRELATED=kept"));
    assert!(
        lines.contains(&"DATABASE_PORT=5432"),
        "defaults are exported"
    );
    assert!(lines.contains(&"DATABASE_PASSWORD=from-a-file-1234"));
    assert!(
        !run.stdout.contains("DATABASE_PASSWORD_FILE"),
        "the child gets NAME, not NAME_FILE"
    );
    assert_eq!(run.stderr, "", "a valid launch is quiet");
}

#[test]
fn env_file_values_reach_the_program() {
    let gate = Envgate::muejam().envs(DEV_VALUES);
    gate.file(
        "app.env",
        "ALLOWED_HOSTS=a.example.com,b.example.com\nNOT_IN_SCHEMA=ignored\n",
    );
    let run = gate
        .args(["--env-file", "app.env", "--", "printenv", "ALLOWED_HOSTS"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "a.example.com,b.example.com\n");
}

#[test]
fn environment_flag_reaches_the_program() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .args([
            "--environment",
            "development",
            "--",
            "printenv",
            "ENVIRONMENT",
        ])
        .run();
    assert_eq!(run.stdout, "development\n", "{}", run.transcript());
}

#[test]
fn nothing_is_launched_when_invalid() {
    let gate = Envgate::muejam().envs(DEV_VALUES).env("SECRET_KEY", "weak");
    let marker = gate.dir().join("launched");
    let run = gate.args(["--", "touch"]).args([&marker]).run();
    assert_eq!(run.code, 78);
    assert!(
        !marker.exists(),
        "the program ran despite invalid configuration"
    );
    assert!(
        run.stderr.contains("nothing was launched"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "launch diagnostics go to stderr");
}

#[test]
fn command_not_found_exits_127() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .args(["--", "no-such-program-xyz"])
        .run();
    assert_eq!(run.code, 127);
    assert!(
        run.stderr
            .contains("command not found: no-such-program-xyz"),
        "{}",
        run.stderr
    );
}

#[test]
fn command_not_executable_exits_126() {
    let gate = Envgate::muejam().envs(DEV_VALUES);
    let script = gate.file("script.sh", "#!/bin/sh\necho hi\n");
    let run = gate.args(["--"]).args([&script]).run();
    assert_eq!(run.code, 126);
    assert!(run.stderr.contains("cannot execute"), "{}", run.stderr);
    assert!(run.stderr.contains("permission denied"), "{}", run.stderr);
}

fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:\t")))
        .unwrap_or_else(|| panic!("{field} missing from {status}"))
        .to_owned()
}

#[test]
fn the_program_starts_with_default_signals_and_an_empty_mask() {
    starts_with_default_signals_and_an_empty_mask(&[]);
}

#[test]
fn under_init_the_program_starts_with_default_signals_and_an_empty_mask() {
    starts_with_default_signals_and_an_empty_mask(&["--init"]);
    starts_with_default_signals_and_an_empty_mask(&["--mask"]);
}

fn starts_with_default_signals_and_an_empty_mask(mode: &[&str]) {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
    let gate =
        Envgate::muejam()
            .envs(DEV_VALUES)
            .args(mode)
            .args(["--", "cat", "/proc/self/status"]);
    let mut command = gate.command();
    // Start envgate the way a careless parent might: SIGUSR1 ignored, SIGUSR2 blocked.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            signal(Signal::SIGUSR1, SigHandler::SigIgn).map_err(std::io::Error::from)?;
            let mut blocked = SigSet::empty();
            blocked.add(Signal::SIGUSR2);
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None)
                .map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let run = from_output(command.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.transcript());
    // What a program started directly by this test (no envgate, no careless parent) sees.
    let direct = from_output(
        std::process::Command::new("cat")
            .arg("/proc/self/status")
            .output()
            .unwrap(),
    );
    let mask =
        |status: &str, field: &str| u64::from_str_radix(&status_field(status, field), 16).unwrap();
    let ignored = mask(&run.stdout, "SigIgn");
    // Nothing ignored beyond what a direct start inherits from this sandbox
    // (glibc's reserved signal 32 cannot be reset through libc).
    assert_eq!(
        ignored & !mask(&direct.stdout, "SigIgn"),
        0,
        "SigIgn {ignored:x}"
    );
    assert_eq!(mask(&run.stdout, "SigBlk"), 0);
    for signal in [nix::libc::SIGPIPE, nix::libc::SIGUSR1] {
        assert_eq!(
            ignored & (1 << (signal - 1)),
            0,
            "signal {signal} is ignored"
        );
    }
}

#[test]
fn no_descriptor_of_envgate_is_left_open() {
    let gate = Envgate::muejam().envs(DEV_VALUES);
    gate.file("extra.env", "DATABASE_NAME=from_file\n");
    let via_envgate = gate
        .args(["--env-file", "extra.env", "--", "ls", "-l", "/proc/self/fd"])
        .run();
    assert_eq!(via_envgate.code, 0, "{}", via_envgate.transcript());
    // The same program started directly, with what this test process passes on
    // (a test runner may hand down descriptors of its own, such as a jobserver).
    let direct = from_output(
        std::process::Command::new("ls")
            .args(["-l", "/proc/self/fd"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(
        open_fds(&via_envgate.stdout),
        open_fds(&direct.stdout),
        "{}",
        via_envgate.stdout
    );
}

/// Descriptor numbers in `ls -l /proc/self/fd` output.
fn open_fds(listing: &str) -> Vec<String> {
    let mut fds: Vec<String> = listing
        .lines()
        .filter(|line| line.contains(" -> "))
        .filter_map(|line| {
            line.split(" -> ")
                .next()?
                .split_whitespace()
                .last()
                .map(str::to_owned)
        })
        .collect();
    fds.sort();
    fds
}

#[test]
fn file_delivery_passes_name_file_and_keeps_the_value_out_of_the_environment() {
    let schema =
        "[vars.TOKEN]\nsensitive = true\ndeliver = \"file\"\n[vars.PLAIN]\ndefault = \"p\"\n";
    let gate = Envgate::with_schema(schema);
    let secrets_dir = gate.dir().join("shm");
    std::fs::create_dir(&secrets_dir).unwrap();
    let gate = gate
        .env("TOKEN", "CANARYfile123")
        .env("ENVGATE_SECRETS_DIR", &secrets_dir)
        .args([
            "--",
            "sh",
            "-c",
            "cat \"$TOKEN_FILE\"; echo; printenv TOKEN || echo absent; stat -c %a \"$TOKEN_FILE\"; stat -c %a \"$(dirname \"$TOKEN_FILE\")\"; echo $PLAIN",
        ]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "CANARYfile123\nabsent\n400\n700\np\n");
    let delivered: Vec<_> = std::fs::read_dir(&secrets_dir).unwrap().collect();
    assert_eq!(delivered.len(), 1, "one fresh directory per launch");
}

#[test]
fn file_delivery_into_a_missing_directory_stops_the_launch() {
    let schema = "[vars.TOKEN]\nsensitive = true\ndeliver = \"file\"\n";
    let gate = Envgate::with_schema(schema);
    let marker = gate.dir().join("launched");
    let run = gate
        .env("TOKEN", "x")
        .env("ENVGATE_SECRETS_DIR", "/nonexistent-secrets-parent")
        .args(["--", "touch"])
        .args([&marker])
        .run();
    assert_eq!(run.code, 73, "{}", run.transcript());
    assert!(!marker.exists());
}

/// Started with its standard output closed (a careless parent), envgate must not
/// let the next file it opens, the audit log, take descriptor 1: its report would
/// be written into the audit log. Rust's start-up routine opens /dev/null there;
/// envgate's own entry point must do the same.
#[test]
fn a_closed_standard_descriptor_is_not_taken_by_the_audit_log() {
    let gate = Envgate::muejam().envs(DEV_VALUES).args(["--check"]);
    let mut command = gate.command();
    // SAFETY: only close(2), async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::close(1).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let run = from_output(command.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.transcript());
    let log = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
    assert!(!log.is_empty(), "no audit line was written");
    for line in log.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not an audit line: {line}"
        );
    }
}

/// glibc keeps signals 32 and 33 for itself. Started from a parent where they
/// are at their default, the exec'd program finds them at their default. (Under
/// `--init` glibc's posix_spawn sets them ignored in the child whatever its
/// caller asks: see docs/DECISIONS.md, "Signals".)
#[test]
fn signals_32_and_33_start_at_their_default_in_exec_mode() {
    let gate = Envgate::muejam()
        .envs(DEV_VALUES)
        .args(["--", "cat", "/proc/self/status"]);
    let mut command = gate.command();
    // glibc's signal(3) and sigaction(3) refuse its own signals: the system
    // call sets them.
    // SAFETY: only async-signal-safe calls between fork and exec; the action is
    // a zeroed sigaction (SIG_DFL), valid for the call.
    unsafe {
        command.pre_exec(|| {
            for signal in [32_i64, 33] {
                let action: nix::libc::sigaction = std::mem::zeroed();
                nix::libc::syscall(
                    nix::libc::SYS_rt_sigaction,
                    signal,
                    std::ptr::addr_of!(action),
                    std::ptr::null_mut::<nix::libc::sigaction>(),
                    8_i64,
                );
            }
            Ok(())
        });
    }
    let run = from_output(command.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.transcript());
    let ignored = u64::from_str_radix(&status_field(&run.stdout, "SigIgn"), 16).unwrap();
    assert_eq!(ignored & (0b11 << 31), 0, "SigIgn {ignored:016x}");
}

/// `FOO=` in a .env file: python-dotenv sets FOO to the empty string, so code that
/// reads `os.environ["FOO"]` runs. envgate still counts it unset for validation
/// (the default or a lower source would stand), but when nothing else supplies a
/// value the program receives the empty string the file wrote.
#[test]
fn an_empty_env_file_value_reaches_the_program_as_empty() {
    let schema = r#"
[vars.OPTIONAL]
description = "optional, no default"
required = false

[vars.EXPANDED]
description = "optional, from an unset name"
required = false

[vars.DEFAULTED]
description = "optional, with a default"
required = false
default = "from-default"
"#;
    let gate = Envgate::with_schema(schema);
    gate.file(
        "app.env",
        "OPTIONAL=\nEXPANDED=${NOT_SET_ANYWHERE}\nDEFAULTED=\n",
    );
    let run = gate.args(["--env-file", "app.env", "--", "env"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.contains(&"OPTIONAL="), "{}", run.stdout);
    assert!(lines.contains(&"EXPANDED="), "{}", run.stdout);
    assert!(lines.contains(&"DEFAULTED=from-default"), "{}", run.stdout);
}
