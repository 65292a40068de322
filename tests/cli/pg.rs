//! A throwaway PostgreSQL cluster for rotation tests: `initdb` with SCRAM
//! password authentication on TCP (a trust-auth server would prove nothing), TLS
//! only (`hostssl` in pg_hba, a CA and a server certificate for 127.0.0.1 made at
//! test time with openssl), on a free port, statement logging on. Local socket
//! access is trusted for the test's own set-up only; envgate always connects over
//! TCP with a password and TLS.

use std::path::{Path, PathBuf};
use std::process::Command;

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
    ca: PathBuf,
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it, in `dir`
/// (the key readable by the server user only); returns the CA's path.
fn make_certificates(dir: &Path) -> PathBuf {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect(
                "openssl is needed to make the test certificates (Debian: apt-get install openssl)",
            );
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=envgate test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    if nix::unistd::geteuid().is_root() {
        let user = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        for file in ["server.key", "server.crt"] {
            nix::unistd::chown(&dir.join(file), Some(user.uid), Some(user.gid)).unwrap();
        }
    }
    dir.join("ca.crt")
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
        // TCP clients must use TLS: every `host` line becomes `hostssl`.
        let hba = data.join("pg_hba.conf");
        let rules: String = std::fs::read_to_string(&hba)
            .unwrap()
            .lines()
            .map(|line| match line.strip_prefix("host ") {
                Some(rest) => format!("hostssl {rest}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&hba, rules).unwrap();
        let ca = make_certificates(dir.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c log_statement=all -c fsync=off -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
            dir = dir.path().display()
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
        Self { dir, bin, port, ca }
    }

    /// The CA that signed the server's certificate (PEM).
    pub(crate) fn ca_file(&self) -> &Path {
        &self.ca
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

    /// True when `user` logs in over TCP with `password` (SCRAM, TLS verified
    /// against the test CA), as psql would.
    pub(crate) fn can_login(&self, user: &str, password: &str) -> bool {
        let target = format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres sslmode=verify-full sslrootcert={} connect_timeout=5",
            self.port,
            self.ca.display()
        );
        Command::new(self.bin.join("psql"))
            .arg(target)
            .args(["-Atc", "SELECT 1"])
            .env("PGPASSWORD", password)
            .output()
            .is_ok_and(|output| output.status.success())
    }

    /// True when a plaintext TCP connection is refused (`hostssl` only).
    pub(crate) fn refuses_plaintext(&self, user: &str, password: &str) -> bool {
        let target = format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres sslmode=disable connect_timeout=5",
            self.port
        );
        Command::new(self.bin.join("psql"))
            .arg(target)
            .args(["-Atc", "SELECT 1"])
            .env("PGPASSWORD", password)
            .output()
            .is_ok_and(|output| !output.status.success())
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
