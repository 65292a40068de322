//! Shell completions and the manual page (clap_complete, clap_mangen), loaded and
//! rendered by the real programs.

use crate::harness::Envgate;

#[test]
fn bash_completes_a_subcommand_in_a_real_bash() {
    let script = Envgate::with_schema("").args(["completions", "bash"]).run();
    assert_eq!(script.code, 0, "{}", script.transcript());
    let gate = Envgate::with_schema("");
    let path = gate.file("envgate.bash", &script.stdout);
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(envgate ro); COMP_CWORD=1; COMP_LINE='envgate ro'; COMP_POINT=10; _envgate envgate ro envgate; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .expect("bash is needed for this test");
    let completed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{completed}");
    assert_eq!(completed.trim(), "rotate", "{completed}");
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = Envgate::with_schema("").args(["completions", shell]).run();
        assert_eq!(run.code, 0, "{shell}: {}", run.transcript());
        assert!(run.stdout.contains("rotate"), "{shell}: {}", run.stdout);
    }
    let run = Envgate::with_schema("").args(["completions", "tcsh"]).run();
    assert_eq!(run.code, 2, "{}", run.transcript());
}

#[test]
fn the_committed_man_page_is_current_and_renders() {
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/envgate.1");
    let run = Envgate::with_schema("").args(["manpage"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        std::fs::read_to_string(&page).unwrap(),
        run.stdout,
        "docs/envgate.1 is stale: regenerate it with `envgate manpage > docs/envgate.1`"
    );
    let output = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .expect("man is needed for this test (Debian: apt-get install man-db)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("SYNOPSIS"), "{text}");
    assert!(text.contains("--schema"), "{text}");
}

/// One page: the commands listed in it (no `envgate-check(1)` pages that do not
/// exist), the exit codes and the settings in sections of their own, and
/// `manpage` in `--help`.
#[test]
fn the_man_page_lists_commands_exit_status_and_environment() {
    let run = Envgate::with_schema("").args(["manpage"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.stdout.contains("envgate-check(1)"), "{}", run.stdout);
    assert!(!run.stdout.contains("\\-check(1)"), "{}", run.stdout);
    for section in [".SH COMMANDS", ".SH \"EXIT STATUS\"", ".SH ENVIRONMENT"] {
        assert!(run.stdout.contains(section), "{section}: {}", run.stdout);
    }
    for text in [
        "\\fB78\\fR",
        "\\fBUSE_PARAMETER_STORE\\fR",
        "\\fBenvgate rotate\\fR",
    ] {
        assert!(run.stdout.contains(text), "{text}");
    }
    let help = Envgate::with_schema("").args(["--help"]).run();
    assert!(help.stdout.contains("manpage"), "{}", help.stdout);
    for jargon in ["miette", "PID 1", "SSRF", "staging labels"] {
        assert!(!help.stdout.contains(jargon), "{jargon}: {}", help.stdout);
    }
    let run = Envgate::with_schema("").args(["run", "--help"]).run();
    assert!(
        run.stdout.contains("(agent)"),
        "--fetch names agent: {}",
        run.stdout
    );
}

/// `envgate init -- CMD` meant `envgate --init -- CMD`: clap's error, then the hint.
#[test]
fn init_with_a_program_suggests_the_init_flag() {
    let run = Envgate::with_schema("")
        .args(["init", "--", "echo", "hi"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("Did you mean `envgate --init -- echo hi`?"),
        "{}",
        run.stderr
    );
}
