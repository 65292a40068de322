//! The `postgres` rotation target: set a role's password on the server and log in
//! with it.
//!
//! The new password reaches the server only as a SCRAM-SHA-256 verifier computed
//! here (as psql's `\password` does), so the plaintext is never in the server's
//! memory, statement log or `pg_authid`. Role names and the verifier are quoted with
//! PostgreSQL's own escaping rules, never interpolated raw.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio_postgres::NoTls;

use crate::schema::Strategy;

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
        Ok(Self {
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
pub async fn connect(secret: &DbSecret) -> Result<tokio_postgres::Client, String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&secret.host)
        .port(secret.port)
        .dbname(&secret.dbname)
        .user(&secret.user)
        .password(secret.password.expose_secret())
        .connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(NoTls).await.map_err(|error| {
        format!(
            "cannot log in to {}:{} as {}: {}",
            secret.host,
            secret.port,
            secret.user,
            reason(&error)
        )
    })?;
    tokio::spawn(connection);
    Ok(client)
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
) -> Result<(), String> {
    let client = connect(admin).await?;
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
pub async fn test_login(secret: &DbSecret) -> Result<(), String> {
    let client = connect(secret).await?;
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
