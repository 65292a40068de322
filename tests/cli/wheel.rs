//! The wheel that carries the binary: `scripts/test.sh` pip-installs this clone into
//! the test virtualenv (maturin's `bin` bindings, a debug build), the way a Django
//! image would `pip install envgate`; the venv's own `envgate` then runs.

use std::process::Command;

use crate::harness::test_python;

#[test]
fn pip_installs_envgate_into_the_virtualenv() {
    let python = test_python("json");
    let bin = python.parent().unwrap().to_owned();
    let envgate = bin.join("envgate");
    assert!(
        envgate.exists(),
        "envgate is not installed in {}. Run `scripts/test.sh`: it pip-installs this clone into the test venv.",
        bin.display()
    );
    let pip = Command::new(&python)
        .args(["-m", "pip", "show", "envgate"])
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "pip does not know the envgate package"
    );
    let version = Command::new(&envgate).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")),
        "{version:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("env.schema.toml"),
        "[vars.GREETING]\ndefault = \"hello\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("settings.py"),
        "import os\nA = os.environ[\"GREETING\"]\nB = os.getenv(\"FORGOTTEN\")\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(&envgate)
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("ENVGATE_AUDIT_LOG", "off")
            .output()
            .unwrap()
    };
    let scan = run(&["scan", "--format", "json"]);
    assert_eq!(scan.status.code(), Some(1), "{scan:?}");
    assert!(
        String::from_utf8_lossy(&scan.stdout).contains("FORGOTTEN"),
        "{scan:?}"
    );
    let launch = run(&["--", "printenv", "GREETING"]);
    assert!(launch.status.success(), "{launch:?}");
    assert_eq!(String::from_utf8_lossy(&launch.stdout), "hello\n");
}
