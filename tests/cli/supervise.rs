//! Supervisor mode (`--init`, `--watch`, `--mask`) with real processes: shells
//! that spawn orphans and trap signals, a PID namespace, files that change under
//! a running program, and gunicorn serving a Django view with its secret in moto.

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{Envgate, Run, from_output};
use crate::moto::{client, create_secret, endpoint, gate, put_value, unique, venv_bin};

/// A schema with one sensitive token of at least 16 characters.
const TOKEN_SCHEMA: &str = "[vars.API_TOKEN]\nsensitive = true\nmin_length = 16\n";

/// A valid token (a canary: it must never show in envgate's own output).
const TOKEN_ONE: &str = "canary-token-one-7Qx9";
const TOKEN_TWO: &str = "canary-token-two-Lm3v";

pub(crate) fn spawn(gate: &Envgate) -> Child {
    gate.command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `ready` holds, for at most `limit`; fails with `what` otherwise.
pub(crate) fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap())
}

pub(crate) fn finish(child: Child) -> Run {
    from_output(child.wait_with_output().unwrap())
}

/// The lines of a file the program writes (empty when it does not exist yet).
pub(crate) fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A line `PID DIGEST` the test programs write.
fn pid_and_digest(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, ""))
}

fn events(gate: &Envgate, name: &str) -> Vec<serde_json::Value> {
    gate.audit_events()
        .into_iter()
        .filter(|event| event["event"] == name)
        .collect()
}

/// A shell program that starts orphans which exit while it runs, keeps one
/// orphan alive, and reports what it sees of its parent (envgate): how many
/// zombies are left under it, and whether the live orphan was adopted by it.
const ORPHANS: &str = r#"
(sleep 0.1 &) ; (sleep 0.1 &) ; (sleep 0.2 &)
(sh -c 'echo $$ > orphan.pid; exec sleep 30' &)
sleep 1
adopted=0
[ "$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$(cat orphan.pid)/status)" = "$PPID" ] && adopted=1
zombies=$(awk -v parent="$PPID" 'FNR == 1 { state = "" } /^State:/ { state = $2 } /^PPid:/ && $2 == parent && state == "Z" { n++ } END { print n + 0 }' /proc/[0-9]*/status 2>/dev/null)
kill "$(cat orphan.pid)"
echo "zombies=$zombies adopted=$adopted"
"#;

#[test]
fn init_reaps_orphans_as_a_subreaper() {
    let run = Envgate::with_schema(TOKEN_SCHEMA)
        .env("API_TOKEN", TOKEN_ONE)
        .args(["--init", "--", "sh", "-c", ORPHANS])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    // The adopted orphan proves envgate is the subreaper; none of the ended ones is left.
    assert_eq!(
        run.stdout.trim(),
        "zombies=0 adopted=1",
        "{}",
        run.transcript()
    );
}

#[test]
fn init_reaps_orphans_as_pid_1_of_a_namespace() {
    let gate = Envgate::with_schema(TOKEN_SCHEMA)
        .env("API_TOKEN", TOKEN_ONE)
        .args([
            "--init",
            "--",
            "sh",
            "-c",
            &format!("echo pid1=$PPID; {ORPHANS}"),
        ]);
    let output = gate
        .wrapper("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .args(gate.argv())
        .output()
        .expect("unshare (util-linux) and root are needed for this test");
    let run = from_output(output);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout,
        "pid1=1\nzombies=0 adopted=1\n",
        "{}",
        run.transcript()
    );
}

#[test]
fn without_init_the_program_is_execd_as_before() {
    let gate = Envgate::with_schema(TOKEN_SCHEMA)
        .env("API_TOKEN", TOKEN_ONE)
        .args(["--", "sh", "-c", "echo $$"]);
    let child = spawn(&gate);
    let envgate_pid = child.id();
    let run = finish(child);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout.trim(),
        envgate_pid.to_string(),
        "exec keeps the PID"
    );
    assert!(events(&gate, "process.start").is_empty());
    assert_eq!(events(&gate, "process.exec").len(), 1);
}

#[test]
fn init_forwards_each_signal_and_passes_the_status_on() {
    let gate = Envgate::with_schema(TOKEN_SCHEMA).env("API_TOKEN", TOKEN_ONE);
    let log = gate.dir().join("signals.log");
    let script = format!(
        "for s in HUP INT QUIT USR1 USR2 WINCH; do trap \"echo $s >> {log}\" $s; done
         trap 'echo TERM >> {log}; exit 7' TERM
         echo ready >> {log}
         while :; do sleep 0.05; done",
        log = log.display()
    );
    let gate = gate.args(["--init", "--", "sh", "-c", &script]);
    let child = spawn(&gate);
    let envgate = pid_of(&child);
    wait_until("the program to start", Duration::from_secs(10), || {
        lines(&log).contains(&"ready".to_owned())
    });
    let sent = [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ];
    for (index, signal) in sent.iter().enumerate() {
        kill(envgate, *signal).unwrap();
        wait_until(signal.as_str(), Duration::from_secs(10), || {
            lines(&log).len() == index + 2
        });
    }
    kill(envgate, Signal::SIGTERM).unwrap();
    let run = finish(child);
    assert_eq!(
        run.code,
        7,
        "the program's own exit code: {}",
        run.transcript()
    );
    assert_eq!(
        lines(&log),
        [
            "ready", "HUP", "INT", "QUIT", "USR1", "USR2", "WINCH", "TERM"
        ]
    );
    let exit = events(&gate, "process.exit");
    assert_eq!(exit.len(), 1);
    assert_eq!(exit[0]["status"], "exited 7");
    assert_eq!(exit[0]["exit_code"], 7);
    let start = events(&gate, "process.start");
    assert_eq!(start[0]["child_pid"], exit[0]["child_pid"]);
}

#[test]
fn init_exits_128_plus_the_signal_that_killed_the_program() {
    for (signal, code) in [("KILL", 137), ("TERM", 143), ("SEGV", 139)] {
        let run = Envgate::with_schema(TOKEN_SCHEMA)
            .env("API_TOKEN", TOKEN_ONE)
            .args(["--init", "--", "sh", "-c", &format!("kill -{signal} $$")])
            .run();
        assert_eq!(run.code, code, "{signal}: {}", run.transcript());
    }
}

#[test]
fn supervisor_flags_need_a_program() {
    let run = Envgate::with_schema(TOKEN_SCHEMA)
        .env("API_TOKEN", TOKEN_ONE)
        .args(["--init", "--check"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("give `-- CMD ARGS…`"), "{}", run.stderr);
    let run = Envgate::with_schema(TOKEN_SCHEMA)
        .args(["--init", "--restart-signal", "KILL", "--", "true"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
}

#[test]
fn init_does_not_launch_an_invalid_configuration() {
    let gate = Envgate::with_schema(TOKEN_SCHEMA)
        .env("API_TOKEN", "short")
        .args(["--init", "--", "sh", "-c", "echo launched"]);
    let run = gate.run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stdout.is_empty());
    assert!(events(&gate, "process.start").is_empty());
}

/// `API_TOKEN` read from a file the test changes, refreshed every second; the
/// program is `sh -c SCRIPT`, where `script` gets the run's directory.
fn watched(
    extra: &[&str],
    script: impl FnOnce(&std::path::Path) -> String,
) -> (Envgate, std::path::PathBuf) {
    let gate = Envgate::with_schema(TOKEN_SCHEMA);
    let token = gate.file("token", format!("{TOKEN_ONE}\n"));
    let script = script(gate.dir());
    let gate = gate
        .env("API_TOKEN_FILE", &token)
        .env("SECRETS_CACHE_TTL", "1")
        .args(["--watch"])
        .args(extra)
        .args(["--", "sh", "-c", &script]);
    (gate, token)
}

#[test]
fn watch_restarts_on_a_change_and_kills_a_program_that_ignores_the_signal() {
    let (gate, token) = watched(&["--stop-timeout", "1"], |dir| {
        format!(
            "trap '' TERM; echo \"$$ $(printf %s \"$API_TOKEN\" | sha256sum | cut -c1-16)\" >> {}; while :; do sleep 0.05; done",
            dir.join("runs.log").display()
        )
    });
    let log = gate.dir().join("runs.log");
    let child = spawn(&gate);
    let envgate = pid_of(&child);
    wait_until("the first start", Duration::from_secs(10), || {
        lines(&log).len() == 1
    });
    std::fs::write(&token, format!("{TOKEN_TWO}\n")).unwrap();
    let changed_at = Instant::now();
    wait_until(
        "the restart (TTL 1 s + splay + 1 s stop timeout)",
        Duration::from_secs(10),
        || lines(&log).len() == 2,
    );
    let took = changed_at.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "the SIGTERM-ignoring program was killed only after the stop timeout ({took:?})"
    );
    let runs = lines(&log);
    let (first, second) = (pid_and_digest(&runs[0]), pid_and_digest(&runs[1]));
    assert_ne!(first.0, second.0, "a new process");
    assert_ne!(first.1, second.1, "with the new value");
    let restart = events(&gate, "process.restart");
    assert_eq!(restart.len(), 1);
    assert_eq!(restart[0]["vars"], serde_json::json!(["API_TOKEN"]));
    assert_eq!(restart[0]["reason"], "secrets changed");
    // The program ignores SIGTERM: kill it; envgate passes the status on.
    kill(Pid::from_raw(second.0.parse().unwrap()), Signal::SIGKILL).unwrap();
    let run = finish(child);
    assert_eq!(run.code, 137, "{}", run.transcript());
    let _ = envgate;
    assert!(!run.all_output().contains(TOKEN_TWO) && !run.all_output().contains(TOKEN_ONE));
    let trail = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
    assert!(!trail.contains(TOKEN_TWO) && !trail.contains(TOKEN_ONE));
}

#[test]
fn watch_keeps_the_program_running_when_the_new_value_is_weak() {
    let (gate, token) = watched(&[], |dir| {
        format!(
            "echo $$ >> {}; trap 'exit 0' TERM; while :; do sleep 0.05; done",
            dir.join("runs.log").display()
        )
    });
    let log = gate.dir().join("runs.log");
    let child = spawn(&gate);
    let envgate = pid_of(&child);
    wait_until("the first start", Duration::from_secs(10), || {
        lines(&log).len() == 1
    });
    let weak = "canary-weak";
    std::fs::write(&token, format!("{weak}\n")).unwrap();
    wait_until("a failed refresh", Duration::from_secs(10), || {
        events(&gate, "secret.refresh")
            .iter()
            .any(|event| event["outcome"] == "failure")
    });
    let failed = events(&gate, "secret.refresh");
    let failed = failed.iter().find(|e| e["outcome"] == "failure").unwrap();
    assert_eq!(failed["alert"], "critical");
    assert_eq!(lines(&log).len(), 1, "still the first program");
    // A good value again: the program is restarted with it.
    std::fs::write(&token, format!("{TOKEN_TWO}\n")).unwrap();
    wait_until("the restart", Duration::from_secs(10), || {
        lines(&log).len() == 2
    });
    kill(envgate, Signal::SIGTERM).unwrap();
    let run = finish(child);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stderr.contains("API_TOKEN") && run.stderr.contains("keeps its current values"),
        "{}",
        run.stderr
    );
    for canary in [weak, TOKEN_ONE, TOKEN_TWO] {
        assert!(!run.all_output().contains(canary), "{}", run.transcript());
    }
}

#[test]
fn watch_reload_rewrites_delivered_files_and_signals() {
    let schema = "[vars.API_TOKEN]\nsensitive = true\nmin_length = 16\ndeliver = \"file\"\n";
    let gate = Envgate::with_schema(schema);
    let token = gate.file("token", TOKEN_ONE);
    let log = gate.dir().join("reads.log");
    let shm = gate.dir().join("shm");
    std::fs::create_dir(&shm).unwrap();
    let script = format!(
        "read_it() {{ echo \"$$ $(sha256sum < \"$API_TOKEN_FILE\" | cut -c1-16)\" >> {log}; }}
         trap read_it HUP; trap 'exit 0' TERM; read_it; while :; do sleep 0.05; done",
        log = log.display()
    );
    let gate = gate
        .env("API_TOKEN_FILE", &token)
        .env("SECRETS_CACHE_TTL", "1")
        .env("ENVGATE_SECRETS_DIR", &shm)
        .args([
            "--watch",
            "--reload-signal",
            "HUP",
            "--",
            "sh",
            "-c",
            &script,
        ]);
    let child = spawn(&gate);
    wait_until("the first read", Duration::from_secs(10), || {
        lines(&log).len() == 1
    });
    std::fs::write(&token, TOKEN_TWO).unwrap();
    wait_until("the reload", Duration::from_secs(10), || {
        lines(&log).len() == 2
    });
    let reads = lines(&log);
    let (first, second) = (pid_and_digest(&reads[0]), pid_and_digest(&reads[1]));
    assert_eq!(first.0, second.0, "same process");
    assert_ne!(first.1, second.1, "new contents");
    let refresh = events(&gate, "secret.refresh");
    assert!(
        refresh.iter().any(|e| e["outcome"] == "reloaded"),
        "{refresh:?}"
    );
    assert!(events(&gate, "process.restart").is_empty());
    kill(pid_of(&child), Signal::SIGTERM).unwrap();
    let run = finish(child);
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// Prints each form of `API_TOKEN` and of `DB_PASSWORD` (inside a URL), on both
/// streams, whole and split across writes with a pause; and plain lines around them.
const LEAKY: &str = r#"
echo "plain line one"
echo "token=$API_TOKEN"
printf '%s' "$API_TOKEN" | base64
echo "url=postgres://app:$(printf '%s' "$DB_PASSWORD" | python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read(),safe=""),end="")')@db/app"
half=$(printf '%s' "$API_TOKEN" | cut -c1-8)
rest=$(printf '%s' "$API_TOKEN" | cut -c9-)
printf 'split %s' "$half"; sleep 0.3; printf '%s end\n' "$rest"
echo "err $API_TOKEN" >&2
printf 'err split %s' "$half" >&2; sleep 0.3; printf '%s end\n' "$rest" >&2
echo "plain line two"
echo "plain err" >&2
"#;

#[test]
fn mask_redacts_every_form_on_both_streams() {
    let schema = "[vars.API_TOKEN]\nsensitive = true\n[vars.DB_PASSWORD]\nsensitive = true\n";
    let password = "canary p@ss/w:rd";
    let run = Envgate::with_schema(schema)
        .env("API_TOKEN", TOKEN_ONE)
        .env("DB_PASSWORD", password)
        .args(["--mask", "--", "sh", "-c", LEAKY])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout,
        "plain line one\n\
         token=[redacted:API_TOKEN]\n\
         [redacted:API_TOKEN]\n\
         url=postgres://app:[redacted:DB_PASSWORD]@db/app\n\
         split [redacted:API_TOKEN] end\n\
         plain line two\n"
    );
    assert_eq!(
        run.stderr,
        "err [redacted:API_TOKEN]\nerr split [redacted:API_TOKEN] end\nplain err\n"
    );
}

#[test]
fn mask_passes_output_without_values_byte_for_byte() {
    // Every byte value, in writes of every size, and no final newline.
    let gate = Envgate::with_schema(TOKEN_SCHEMA).env("API_TOKEN", TOKEN_ONE);
    let data = gate.file("data.bin", random_bytes(900_000));
    let script = format!("cat {}; printf end", data.display());
    let output = gate
        .command()
        .args(["--mask", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut expected = std::fs::read(&data).unwrap();
    expected.extend_from_slice(b"end");
    assert!(output.stdout == expected, "the bytes differ");
}

/// Deterministic bytes of every value (xorshift).
fn random_bytes(count: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

/// The first 16 hex digits of SHA-256, as the Django view answers them.
fn digest16(text: &str) -> String {
    let output = std::process::Command::new("sh")
        .args([
            "-c",
            "printf %s \"$1\" | sha256sum | cut -c1-16",
            "sh",
            text,
        ])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// GET / on 127.0.0.1:`port`: the body, or `None` while nothing answers.
fn get(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
}

#[test]
fn watch_serves_a_rotated_secret_through_gunicorn_and_django() {
    let endpoint = endpoint();
    let sm = client(&endpoint);
    let env = unique("watch");
    let secret = format!("{env}/app/token");
    create_secret(&sm, &secret, &format!(r#"{{"token":"{TOKEN_ONE}"}}"#));
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.API_TOKEN]\nsensitive = true\nmin_length = 16\nsecret = \"app/token#token\"\n"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gunicorn = venv_bin().join("gunicorn");
    assert!(
        gunicorn.exists(),
        "gunicorn is not installed in the test virtualenv. Run `scripts/setup-test-env.sh` (or `scripts/test.sh`)."
    );
    let tests_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let gate = gate(&schema, &endpoint)
        .env("ENVIRONMENT", &env)
        .env("SECRETS_CACHE_TTL", "1")
        .args(["--watch", "--stop-timeout", "10", "--"])
        .args([gunicorn.as_os_str()])
        .args(["--chdir".as_ref(), tests_dir.as_os_str()])
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
            "--graceful-timeout",
            "5",
            "watch_app:application",
        ]);
    let child = spawn(&gate);
    let envgate = pid_of(&child);
    let serving = |token: &str| get(port).is_some_and(|body| body.starts_with(&digest16(token)));
    wait_until(
        "gunicorn to serve the first value",
        Duration::from_secs(30),
        || serving(TOKEN_ONE),
    );
    // As `envgate rotate` does: a new AWSCURRENT version.
    put_value(&sm, &secret, &format!(r#"{{"token":"{TOKEN_TWO}"}}"#));
    let rotated_at = Instant::now();
    wait_until(
        "the new value within the TTL plus slack",
        Duration::from_secs(20),
        || serving(TOKEN_TWO),
    );
    let took = rotated_at.elapsed();
    assert!(
        kill(envgate, None).is_ok(),
        "envgate, the same process, still runs"
    );
    let restarts = events(&gate, "process.restart");
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    assert_eq!(
        restarts[0]["pid"],
        child.id(),
        "restarted by the same envgate"
    );
    // A weak value: the running worker keeps serving the last good one.
    put_value(&sm, &secret, r#"{"token":"canary-weak"}"#);
    wait_until("the failed refresh", Duration::from_secs(10), || {
        events(&gate, "secret.refresh")
            .iter()
            .any(|event| event["outcome"] == "failure" && event["alert"] == "critical")
    });
    assert!(serving(TOKEN_TWO), "the old worker keeps serving");
    kill(envgate, Signal::SIGTERM).unwrap();
    let run = finish(child);
    assert_eq!(
        run.code,
        0,
        "gunicorn stops cleanly on SIGTERM: {}",
        run.transcript()
    );
    for canary in ["canary-weak", TOKEN_ONE, TOKEN_TWO] {
        assert!(!run.all_output().contains(canary), "{}", run.transcript());
    }
    eprintln!("new value served {took:?} after the change (TTL 1 s)");
}

/// An agent on 127.0.0.1 that answers the first request with `API_TOKEN`'s
/// secret and then accepts every connection and never answers (a silent
/// store). Returns its URL and the count of requests it received.
fn agent_silent_after_first() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&requests);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                let body = format!(
                    r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:production/api-AbCdEf","Name":"production/api","VersionId":"v1","SecretString":"{{\"token\":\"{TOKEN_ONE}\"}}","VersionStages":["AWSCURRENT"]}}"#
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            } else {
                held.push(stream);
            }
        }
    });
    (url, requests)
}

/// `--watch` reading `API_TOKEN` through [`agent_silent_after_first`], refreshed
/// every second, running `sh -c script`.
fn watched_through_a_silent_store(
    script: &str,
) -> (Envgate, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let (agent, requests) = agent_silent_after_first();
    let text = crate::secrets::schema("production", &[("API_TOKEN", "api#token")]);
    let gate = Envgate::with_schema(&text)
        .env("USE_SECRETS_MANAGER", "true")
        .env("ENVIRONMENT", "production")
        .env("ENVGATE_SECRETS_AGENT", agent)
        .env("AWS_TOKEN", "agent-token")
        .env("SECRETS_CACHE_TTL", "1")
        .args([
            "--fetch",
            "agent",
            "--timeout",
            "20",
            "--watch",
            "--",
            "sh",
            "-c",
            script,
        ]);
    (gate, requests)
}

/// Waits for `child` at most `limit`, then kills it (and so fails the caller's
/// timing assertion instead of hanging); returns its run and how long it took.
fn finish_within(mut child: Child, limit: Duration) -> (Run, Duration) {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    if took >= limit {
        // Its program may still hold the output pipes: they are not read.
        let _ = kill(pid_of(&child), Signal::SIGKILL);
        let status = child.wait().unwrap();
        let output = std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        return (from_output(output), took);
    }
    (finish(child), took)
}

/// While a refresh waits on a silent store, envgate is still an init: a SIGTERM
/// reaches the program at once and envgate exits with its status, without
/// waiting for the store's deadline (20 s here).
#[test]
fn watch_forwards_a_stop_signal_while_the_store_is_silent() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("program.log");
    let script = format!(
        "trap 'echo term >> {log}; exit 0' TERM; echo started >> {log}; while :; do sleep 0.01; done",
        log = log.display()
    );
    let (gate, requests) = watched_through_a_silent_store(&script);
    let child = spawn(&gate);
    wait_until("the program's start", Duration::from_secs(10), || {
        lines(&log) == ["started"]
    });
    wait_until(
        "a refresh waiting on the store",
        Duration::from_secs(10),
        || requests.load(std::sync::atomic::Ordering::SeqCst) >= 2,
    );
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    kill(pid_of(&child), Signal::SIGTERM).unwrap();
    let deadline = sent + Duration::from_secs(5);
    while lines(&log).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let reached = sent.elapsed();
    let (run, exited) = finish_within(child, Duration::from_secs(5));
    assert!(
        reached < Duration::from_millis(100),
        "SIGTERM reached the program after {reached:?}"
    );
    assert!(
        exited < Duration::from_secs(2),
        "envgate exited {exited:?} after SIGTERM"
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.all_output().contains(TOKEN_ONE));
}

/// A program that exits on its own while a refresh waits on a silent store is
/// reaped at once, and envgate exits with its status.
#[test]
fn watch_reaps_a_program_that_exits_while_the_store_is_silent() {
    let (gate, requests) = watched_through_a_silent_store("sleep 2.5; exit 7");
    let child = spawn(&gate);
    let (run, took) = finish_within(child, Duration::from_secs(10));
    assert!(
        requests.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "no refresh was in flight"
    );
    assert_eq!(run.code, 7, "{}", run.transcript());
    assert!(
        took < Duration::from_secs(6),
        "envgate exited {took:?} after its start"
    );
}

/// The forms the masking missed, written by a real program: HTTP Basic auth
/// (`base64("user:" + value)`), base64 wrapped by the `base64` tool, Python's
/// `quote`, a JSON log line; and a value whose longer sibling arrives in a later
/// write (the tail leaked).
#[test]
fn mask_redacts_encoded_forms_and_longer_values_split_across_writes() {
    let python = crate::moto::venv_bin().join("python");
    let schema =
        "[vars.A]\nsensitive = true\n[vars.B]\nsensitive = true\n[vars.T]\nsensitive = true\n";
    let token = "canary-t0ken/with@sign-é-and-a-long-enough-tail-to-wrap-at-76-columns-of-base64";
    let script = r#"
import base64, json, sys, time, urllib.parse
t = sys.argv[1]
print("Authorization: Basic " + base64.b64encode(("u:" + t).encode()).decode())
print("Authorization: Basic " + base64.b64encode(("us:" + t).encode()).decode())
print(base64.encodebytes(t.encode()).decode(), end="")
print(urllib.parse.quote(t))
print(json.dumps({"token": t}))
sys.stdout.write("x abcdEFGHij"); sys.stdout.flush(); time.sleep(0.3)
sys.stdout.write("klmnop\n"); sys.stdout.flush()
"#;
    let run = Envgate::with_schema(schema)
        .env("A", "abcdEFGH")
        .env("B", "abcdEFGHijklmnop")
        .env("T", token)
        .args(["--mask", "--"])
        .args([python.as_os_str()])
        .args(["-c", script, token])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines
            .iter()
            .all(|line| !line.contains("klmnop") && !line.contains("canary")),
        "{}",
        run.stdout
    );
    assert!(
        lines.last().unwrap().ends_with("x [redacted:B]"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("[redacted:T]").count(),
        5, // the wrapped base64 is one redaction across its lines
        "{}",
        run.stdout
    );
    for line in &lines[..2] {
        assert!(line.len() < "Authorization: Basic ".len() + 24, "{line}");
    }
}
