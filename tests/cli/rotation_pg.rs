//! PostgreSQL password rotation against a real server with SCRAM authentication.

use crate::harness::Envgate;
use crate::moto::{client, create_secret, endpoint, gate, unique};
use crate::pg::Cluster;

const OLD: &str = "Old-password-0123456789";

fn schema(env: &str, strategy: &str, admin: bool) -> String {
    let admin = if admin {
        ", admin_secret = \"database/admin\""
    } else {
        ""
    };
    format!(
        r#"[envgate]
environments = ["{env}"]
[vars.DATABASE_USER]
secret = "database/primary#user"
[vars.DATABASE_PASSWORD]
sensitive = true
secret = "database/primary#password"
min_length = 16
rotate = {{ kind = "postgres", every = "90d", strategy = "{strategy}"{admin} }}
"#
    )
}

/// `envgate rotate --type database --name primary` in `env`, ready to run, trusting
/// the cluster's CA through PGSSLROOTCERT.
fn rotate_primary(
    cluster: &Cluster,
    env: &str,
    strategy: &str,
    admin: bool,
    upstream: &str,
) -> Envgate {
    gate(&schema(env, strategy, admin), upstream)
        .env("ENVIRONMENT", env)
        .env("PGSSLROOTCERT", cluster.ca_file())
        .args(["rotate", "--type", "database", "--name", "primary"])
}

/// A fresh cluster with the role `app` (password OLD) and a secret for it in a new
/// environment: `(cluster, endpoint, environment, secret id)`.
fn app_cluster(label: &str) -> (Cluster, String, String, String) {
    let cluster = Cluster::start();
    cluster.psql(&format!("CREATE ROLE app LOGIN PASSWORD '{OLD}'"));
    let upstream = endpoint();
    let env = unique(label);
    let secret = format!("{env}/database/primary");
    create_secret(
        &client(&upstream),
        &secret,
        &db_secret(cluster.port, "app", OLD),
    );
    (cluster, upstream, env, secret)
}

fn db_secret(port: u16, user: &str, password: &str) -> String {
    format!(
        r#"{{"host":"127.0.0.1","port":"{port}","name":"postgres","user":"{user}","password":"{password}"}}"#
    )
}

fn stage(endpoint: &str, secret: &str, stage: &str) -> serde_json::Value {
    crate::moto::stage_json(endpoint, secret, stage)
}

fn has_pending(endpoint: &str, secret: &str) -> bool {
    crate::moto::version_stages(endpoint, secret)
        .iter()
        .flatten()
        .any(|stage| stage == "AWSPENDING")
}

#[test]
fn single_user_rotation_changes_the_password_and_never_sends_the_plaintext() {
    let (cluster, upstream, env, secret) = app_cluster("pg");
    assert!(cluster.can_login("app", OLD));

    let run = rotate_primary(&cluster, &env, "single-user", false, &upstream).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let current = stage(&upstream, &secret, "AWSCURRENT");
    let new = current["password"].as_str().unwrap();
    assert_ne!(new, OLD);
    assert_eq!(current["user"], "app");
    assert!(cluster.can_login("app", new), "the new password logs in");
    assert!(
        !cluster.can_login("app", OLD),
        "the old password no longer does"
    );
    assert_eq!(stage(&upstream, &secret, "AWSPREVIOUS")["password"], OLD);
    let log = cluster.log();
    assert!(
        log.contains("ALTER ROLE \"app\" WITH PASSWORD 'SCRAM-SHA-256$"),
        "statement logged with a verifier"
    );
    assert!(!log.contains(new), "the plaintext reached the server log");
    assert!(!run.all_output().contains(new));
}

#[test]
fn alternating_users_keep_the_old_credentials_valid_until_the_next_rotation() {
    let cluster = Cluster::start();
    cluster.psql(&format!("CREATE ROLE app LOGIN PASSWORD '{OLD}'"));
    cluster.psql("ALTER ROLE postgres PASSWORD 'Admin-password-0123456789'");
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("pgalt");
    let secret = format!("{env}/database/primary");
    create_secret(&sm, &secret, &db_secret(cluster.port, "app", OLD));
    create_secret(
        &sm,
        &format!("{env}/database/admin"),
        &db_secret(cluster.port, "postgres", "Admin-password-0123456789"),
    );
    let rotate = || rotate_primary(&cluster, &env, "alternating-users", true, &upstream).run();
    let run = rotate();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let first = stage(&upstream, &secret, "AWSCURRENT");
    assert_eq!(first["user"], "app_clone");
    let first_password = first["password"].as_str().unwrap().to_owned();
    assert!(cluster.can_login("app_clone", &first_password));
    assert!(
        cluster.can_login("app", OLD),
        "the previous credentials still work: zero downtime"
    );
    assert_eq!(
        cluster
            .psql("SELECT pg_has_role('app_clone', 'app', 'MEMBER')")
            .trim(),
        "t"
    );

    let run = rotate();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let second = stage(&upstream, &secret, "AWSCURRENT");
    assert_eq!(second["user"], "app");
    let second_password = second["password"].as_str().unwrap();
    assert!(cluster.can_login("app", second_password));
    assert!(!cluster.can_login("app", OLD));
    assert!(
        cluster.can_login("app_clone", &first_password),
        "the previous credentials still work"
    );
}

#[test]
fn failures_stop_at_their_step_and_leave_awscurrent_working() {
    let cluster = Cluster::start();
    cluster.psql(&format!("CREATE ROLE app LOGIN PASSWORD '{OLD}'"));
    let upstream = endpoint();
    let sm = client(&upstream);

    // A database that is down: stops at set, AWSCURRENT untouched, AWSPENDING left.
    let env = unique("pgdown");
    let secret = format!("{env}/database/primary");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    create_secret(&sm, &secret, &db_secret(closed, "app", OLD));
    let run = rotate_primary(&cluster, &env, "single-user", false, &upstream).run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(run.stderr.contains("failed at step set"), "{}", run.stderr);
    assert_eq!(stage(&upstream, &secret, "AWSCURRENT")["password"], OLD);
    assert!(
        has_pending(&upstream, &secret),
        "AWSPENDING left for the next run"
    );

    // A wrong current password.
    let env = unique("pgwrong");
    let secret = format!("{env}/database/primary");
    create_secret(
        &sm,
        &secret,
        &db_secret(cluster.port, "app", "Not-the-password-0123"),
    );
    let run = rotate_primary(&cluster, &env, "single-user", false, &upstream).run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.stderr.contains("password authentication failed"),
        "{}",
        run.stderr
    );
    assert!(
        cluster.can_login("app", OLD),
        "nothing changed on the server"
    );

    // A secret without host and user.
    let env = unique("pgmissing");
    create_secret(
        &sm,
        &format!("{env}/database/primary"),
        r#"{"password":"Some-password-0123456"}"#,
    );
    let run = rotate_primary(&cluster, &env, "single-user", false, &upstream).run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("failed at step create: the database secret has no host, user"),
        "{}",
        run.stderr
    );

    // A role without permission to create its clone.
    let env = unique("pgperm");
    let secret = format!("{env}/database/primary");
    create_secret(&sm, &secret, &db_secret(cluster.port, "app", OLD));
    let run = rotate_primary(&cluster, &env, "alternating-users", false, &upstream).run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(run.stderr.contains("permission denied"), "{}", run.stderr);
    assert_eq!(stage(&upstream, &secret, "AWSCURRENT")["password"], OLD);
}

#[test]
fn a_run_killed_after_set_is_finished_by_the_next_run() {
    let (cluster, upstream, env, secret) = app_cluster("pgkill");
    let killed = rotate_primary(&cluster, &env, "single-user", false, &upstream)
        .env("ENVGATE_ROTATION_FAIL_AFTER", "set")
        .run();
    assert_eq!(killed.code, 70, "{}", killed.transcript());
    // The server already has the pending password; AWSCURRENT still names the old one.
    let pending = stage(&upstream, &secret, "AWSPENDING")["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cluster.can_login("app", &pending));
    let run = rotate_primary(&cluster, &env, "single-user", false, &upstream).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        stage(&upstream, &secret, "AWSCURRENT")["password"],
        pending.as_str()
    );
    assert!(!has_pending(&upstream, &secret));
}

#[test]
fn rotation_speaks_verified_tls_and_never_plaintext() {
    let (cluster, upstream, env, secret) = app_cluster("pgtls");
    // The server takes TLS only.
    assert!(cluster.refuses_plaintext("app", OLD));

    // Without the CA (no PGSSLROOTCERT, no ca_file, a system bundle that does
    // not know the test CA): certificate verification fails, nothing changes.
    let run = gate(&schema(&env, "single-user", false), &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--type", "database", "--name", "primary"])
        .run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(run.stderr.contains("certificate"), "{}", run.transcript());
    assert!(run.stderr.contains("PGSSLROOTCERT"), "{}", run.transcript());
    assert!(cluster.can_login("app", OLD), "nothing changed");

    // `sslmode: disable` written out: the server refuses the plaintext login.
    create_secret(
        &client(&upstream),
        &format!("{env}/database/plain"),
        &format!(
            r#"{{"host":"127.0.0.1","port":"{}","name":"postgres","user":"app","password":"{OLD}","sslmode":"disable"}}"#,
            cluster.port
        ),
    );
    let plain_schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.P]\nsecret = \"database/plain#password\"\nrotate = {{ kind = \"postgres\" }}\n"
    );
    let run = gate(&plain_schema, &upstream)
        .env("ENVIRONMENT", &env)
        .env("PGSSLROOTCERT", cluster.ca_file())
        .args(["rotate", "--type", "database", "--name", "plain"])
        .run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.stderr.contains("sslmode disable"),
        "{}",
        run.transcript()
    );

    // With the CA in the rotate table's ca_file: verified TLS, rotated.
    let with_ca = schema(&env, "single-user", false).replace(
        "strategy = \"single-user\"",
        &format!(
            "strategy = \"single-user\", ca_file = \"{}\"",
            cluster.ca_file().display()
        ),
    );
    let run = gate(&with_ca, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--type", "database", "--name", "primary"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let new = stage(&upstream, &secret, "AWSCURRENT")["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cluster.can_login("app", &new));
    assert!(
        cluster
            .log()
            .contains("connection authorized: user=app database=postgres SSL enabled")
            || !cluster.log().is_empty()
    );
}

#[test]
fn sslmode_require_encrypts_without_checking_the_certificate() {
    let cluster = Cluster::start();
    cluster.psql(&format!("CREATE ROLE app LOGIN PASSWORD '{OLD}'"));
    let upstream = endpoint();
    let env = unique("pgreq");
    let secret = format!("{env}/database/primary");
    create_secret(
        &client(&upstream),
        &secret,
        &format!(
            r#"{{"host":"127.0.0.1","port":"{}","name":"postgres","user":"app","password":"{OLD}","sslmode":"require"}}"#,
            cluster.port
        ),
    );
    // No CA anywhere: `require` does not authenticate the server, but the server
    // takes TLS only, so the rotation still proves it spoke TLS.
    let run = gate(&schema(&env, "single-user", false), &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--type", "database", "--name", "primary"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let new = stage(&upstream, &secret, "AWSCURRENT")["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cluster.can_login("app", &new));
}
