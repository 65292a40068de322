//! The `postgres` rotation target: set a role's password on the server and log in
//! with it.
//!
//! The new password reaches the server only as a SCRAM-SHA-256 verifier computed
//! here (as psql's `\password` does), so the plaintext is never in the server's
//! memory, statement log or `pg_authid`. Role names and the verifier are quoted with
//! PostgreSQL's own escaping rules, never interpolated raw. Connections use TLS
//! as the secret's `sslmode` says (`verify-full` unless written otherwise; see
//! [`super::tls`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::schema::Strategy;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::tls::SslMode;

/// The suffix of the second role of the `alternating-users` strategy.
pub const CLONE_SUFFIX: &str = "_clone";

/// Connection settings and credentials from a database secret
/// (`host`, `port`, `name`/`dbname`, `user`/`username`, `password`).
pub struct DbSecret {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Database name.
    pub dbname: String,
    /// Role.
    pub user: String,
    /// Its password.
    pub password: SecretString,
    /// TLS, as `sslmode` in the secret says.
    pub sslmode: SslMode,
}

/// The CA bundle a rotation checks database certificates against.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The PEM bundle (`rotate.ca_file`, `PGSSLROOTCERT`, or the system's).
    pub bundle: Option<PathBuf>,
}

fn text(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match object.get(*key) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    })
}

impl DbSecret {
    /// Reads a database secret.
    ///
    /// # Errors
    /// Which of `host`, `user`, `password` is missing, or a bad `port`.
    pub fn parse(object: &Map<String, Value>) -> Result<Self, String> {
        let missing: Vec<&str> = [
            ("host", &["host"][..]),
            ("user", &["user", "username"]),
            ("password", &["password"]),
        ]
        .iter()
        .filter(|(_, keys)| text(object, keys).is_none())
        .map(|(name, _)| *name)
        .collect();
        if !missing.is_empty() {
            return Err(format!("the database secret has no {}", missing.join(", ")));
        }
        let port = match text(object, &["port"]) {
            Some(port) => port
                .parse()
                .map_err(|_| format!("the database secret's port `{port}` is not a port"))?,
            None => 5432,
        };
        let sslmode = match text(object, &["sslmode"]) {
            Some(mode) => SslMode::parse(&mode)?,
            None => SslMode::default(),
        };
        Ok(Self {
            sslmode,
            host: text(object, &["host"]).unwrap_or_default(),
            port,
            dbname: text(object, &["name", "dbname"]).unwrap_or_else(|| "postgres".to_owned()),
            user: text(object, &["user", "username"]).unwrap_or_default(),
            password: SecretString::from(text(object, &["password"]).unwrap_or_default()),
        })
    }
}

/// The role the next password belongs to: the same one (`single-user`), or the
/// other of `user` / `user_clone` (`alternating-users`).
#[must_use]
pub fn next_user(current: &str, strategy: Strategy) -> String {
    if strategy != Strategy::AlternatingUsers {
        return current.to_owned();
    }
    match current.strip_suffix(CLONE_SUFFIX) {
        Some(base) => base.to_owned(),
        None => format!("{current}{CLONE_SUFFIX}"),
    }
}

/// Connects and keeps the connection driven on the current runtime.
///
/// # Errors
/// The server's reason (wrong password, unreachable, …).
pub async fn connect(secret: &DbSecret, trust: &Trust) -> Result<tokio_postgres::Client, String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&secret.host)
        .port(secret.port)
        .dbname(&secret.dbname)
        .user(&secret.user)
        .password(secret.password.expose_secret())
        .connect_timeout(Duration::from_secs(5));
    let failed = |why: String| {
        let hint = if why.contains("certificate") {
            " (the server's certificate did not verify: point PGSSLROOTCERT or rotate.ca_file at the CA bundle that signed it; for RDS, Amazon's RDS CA bundle)"
        } else {
            ""
        };
        format!(
            "cannot log in to {}:{} as {} ({}): {why}{hint}",
            secret.host,
            secret.port,
            secret.user,
            mode_name(secret.sslmode)
        )
    };
    let client = if secret.sslmode == SslMode::Disable {
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|error| failed(reason(&error)))?;
        tokio::spawn(connection);
        client
    } else {
        // Require: never fall back to plaintext when the server offers no TLS.
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        let tls =
            super::tls::client_config(secret.sslmode, trust.bundle.as_deref()).map_err(&failed)?;
        let (client, connection) = config
            .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
            .await
            .map_err(|error| failed(reason(&error)))?;
        tokio::spawn(connection);
        client
    };
    Ok(client)
}

fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "sslmode disable",
        SslMode::Require => "sslmode require",
        SslMode::VerifyCa => "sslmode verify-ca",
        SslMode::VerifyFull => "sslmode verify-full",
    }
}

fn reason(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_owned();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Sets `role`'s password to `password` as a SCRAM-SHA-256 verifier, connected as
/// `admin`. With `create`, a missing role is created as a member of `member_of`
/// (the `alternating-users` clone inherits the original's privileges).
///
/// # Errors
/// The server's reason (no permission, …).
pub async fn set_password(
    admin: &DbSecret,
    role: &str,
    password: &SecretString,
    create_in: Option<&str>,
    trust: &Trust,
) -> Result<(), String> {
    let client = connect(admin, trust).await?;
    let verifier = postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
    let quoted_role = postgres_protocol::escape::escape_identifier(role);
    let quoted_verifier = postgres_protocol::escape::escape_literal(&verifier);
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
        .await
        .map_err(|error| reason(&error))?
        .is_some();
    let statement = match (exists, create_in) {
        (true, _) => format!("ALTER ROLE {quoted_role} WITH PASSWORD {quoted_verifier}"),
        (false, Some(member_of)) => format!(
            "CREATE ROLE {quoted_role} WITH LOGIN PASSWORD {quoted_verifier} IN ROLE {}",
            postgres_protocol::escape::escape_identifier(member_of)
        ),
        (false, None) => return Err(format!("the role {role} does not exist")),
    };
    client.batch_execute(&statement).await.map_err(|error| {
        format!(
            "cannot set the password of {role} as {}: {}",
            admin.user,
            reason(&error)
        )
    })
}

/// testSecret: logs in with the credentials and runs a query.
///
/// # Errors
/// Why the login or the query failed.
pub async fn test_login(secret: &DbSecret, trust: &Trust) -> Result<(), String> {
    let client = connect(secret, trust).await?;
    client
        .simple_query("SELECT 1")
        .await
        .map_err(|error| reason(&error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_users_flip() {
        assert_eq!(next_user("app", Strategy::AlternatingUsers), "app_clone");
        assert_eq!(next_user("app_clone", Strategy::AlternatingUsers), "app");
        assert_eq!(next_user("app", Strategy::SingleUser), "app");
    }

    #[test]
    fn secrets_missing_fields_say_which() {
        let object = serde_json::from_str::<Value>(r#"{"port":"5432","password":"p"}"#).unwrap();
        let error = DbSecret::parse(object.as_object().unwrap()).err().unwrap();
        assert_eq!(error, "the database secret has no host, user");
        let object = serde_json::from_str::<Value>(
            r#"{"host":"h","port":6543,"username":"u","password":"p"}"#,
        )
        .unwrap();
        let secret = DbSecret::parse(object.as_object().unwrap()).unwrap();
        assert_eq!(
            (secret.port, secret.user.as_str(), secret.dbname.as_str()),
            (6543, "u", "postgres")
        );
    }
}
