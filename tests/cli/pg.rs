//! A throwaway PostgreSQL cluster for rotation tests: `initdb` with SCRAM
//! password authentication on TCP (a trust-auth server would prove nothing), on a
//! free port, statement logging on. Local socket access is trusted for the test's
//! own set-up only; envgate always connects over TCP with a password.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

const HOW_TO_INSTALL: &str = "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them \
     (Debian: apt-get install postgresql; .ci/run does) or set ENVGATE_TEST_PG_BIN to their directory.";

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ENVGATE_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates
        .pop()
        .unwrap_or_else(|| panic!("{HOW_TO_INSTALL}"))
}

/// Runs a PostgreSQL binary as the `postgres` user when envgate's tests run as root
/// (initdb refuses root).
fn as_server_user(program: &Path) -> Command {
    if nix::unistd::geteuid().is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

pub(crate) struct Cluster {
    dir: TempDir,
    bin: PathBuf,
    pub(crate) port: u16,
}

impl Cluster {
    pub(crate) fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .unwrap()
                .unwrap_or_else(|| {
                    panic!("no `postgres` user to run the server as. {HOW_TO_INSTALL}")
                });
            std::fs::set_permissions(
                dir.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .unwrap();
            nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).unwrap();
            nix::unistd::chown(&data, Some(user.uid), Some(user.gid)).unwrap();
        }
        let status = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c log_statement=all -c fsync=off",
            dir.path().display()
        );
        let started = as_server_user(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("server.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        Self { dir, bin, port }
    }

    /// Runs SQL as the superuser over the trusted local socket.
    pub(crate) fn psql(&self, sql: &str) -> String {
        let output = as_server_user(&self.bin.join("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// True when `user` logs in over TCP with `password` (SCRAM).
    pub(crate) fn can_login(&self, user: &str, password: &str) -> bool {
        let port = self.port;
        crate::moto::block_on(async move {
            let mut config = tokio_postgres::Config::new();
            config
                .host("127.0.0.1")
                .port(port)
                .user(user)
                .password(password)
                .dbname("postgres")
                .connect_timeout(Duration::from_secs(5));
            match config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    client.simple_query("SELECT 1").await.is_ok()
                }
                Err(_) => false,
            }
        })
    }

    /// The server's log (every statement, with log_statement=all).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
