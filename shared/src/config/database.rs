//! Where the database is, how connections to it are secured, and how long a request waits on it:
//! `DATABASE_URL` (or the secret `DB_SECRET_ARN` with `DB_HOST`, `DB_PORT`, `DB_NAME`),
//! `DB_SSLMODE` (and `DB_SSLROOTCERT`), `DB_POOL_SIZE`, `DB_CONNECT_TIMEOUT`,
//! `DB_STATEMENT_TIMEOUT`; and, for `migrate`
//! only, the login the functions use ([`RuntimeRole`]: `DB_RUNTIME_SECRET_ARN`, or
//! `DB_RUNTIME_USER` and `DB_RUNTIME_PASSWORD`).

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ConfigError, Environment, secret_problem};
use crate::aws::Aws;
use crate::tls::TrustedRoots;

/// Seconds to open a connection (TCP, TLS, login) or wait for a pooled one.
const CONNECT_TIMEOUT: u64 = 3;
/// Seconds one statement may run, lock waits included.
const STATEMENT_TIMEOUT: u64 = 5;

/// How connections to PostgreSQL are secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTls {
    /// Plain TCP: a database on the same machine or in docker compose.
    Disable,
    /// TLS, with the server certificate checked against the roots (`DB_SSLROOTCERT`'s, as libpq's
    /// `sslrootcert`, or the Mozilla roots) and the host name verified.
    VerifyFull(TrustedRoots),
}

/// Where the database is and how many connections one instance may hold.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Connection parameters; their `Debug` output redacts the password.
    pub url: tokio_postgres::Config,
    /// `DB_POOL_SIZE`: 1 by default, since a Lambda instance serves one request at a time.
    pub pool_size: usize,
    /// `DB_SSLMODE`: `disable` (default) or `verify-full` (with `DB_SSLROOTCERT`'s roots, if set).
    pub tls: DbTls,
    /// Where the credentials came from, when from Secrets Manager: read again when the database
    /// refuses them, since RDS rotates its managed password.
    pub credentials_secret: Option<SecretSource>,
    /// `DB_CONNECT_TIMEOUT` and `DB_STATEMENT_TIMEOUT`: how long a request waits on the database.
    pub timeouts: DbTimeouts,
}

/// How long a request may wait on the database before it is answered 503 `service_unavailable`:
/// a few seconds, well inside the functions' 10 s Lambda timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbTimeouts {
    /// Opening a connection (TCP, TLS and login), and waiting for a free pooled one.
    pub connect: Duration,
    /// One statement, lock waits included, enforced by the server (see [`crate::db::migrate`]);
    /// also the longest a session may sit idle inside a transaction.
    pub statement: Duration,
}

impl Default for DbTimeouts {
    fn default() -> Self {
        DbTimeouts {
            connect: Duration::from_secs(CONNECT_TIMEOUT),
            statement: Duration::from_secs(STATEMENT_TIMEOUT),
        }
    }
}

/// A Secrets Manager secret holding database credentials, and the client to read it with.
#[derive(Clone)]
pub struct SecretSource {
    pub arn: String,
    pub aws: Aws,
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSource")
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

/// The JSON of an RDS-managed master-user secret (only the fields used).
#[derive(Deserialize)]
struct DatabaseSecret {
    username: String,
    password: SecretString,
}

impl SecretSource {
    /// The secret `arn` (named by `variable`) and the credentials in it now; an error names the
    /// variable.
    async fn read(
        variable: &str,
        arn: &str,
        aws: &Aws,
    ) -> Result<(Self, String, SecretString), ConfigError> {
        let source = SecretSource {
            arn: arn.to_owned(),
            aws: aws.clone(),
        };
        let (user, password) = source
            .credentials()
            .await
            .map_err(|e| ConfigError::new(variable, secret_problem(e)))?;
        Ok((source, user, password))
    }

    /// The current user name and password in the secret (RDS-managed secret format).
    pub async fn credentials(&self) -> anyhow::Result<(String, SecretString)> {
        let secret = self.aws.secret_string(&self.arn).await?;
        let secret: DatabaseSecret = serde_json::from_str(secret.expose_secret())
            .map_err(|_| anyhow::anyhow!("the secret is not JSON with username and password"))?;
        Ok((secret.username, secret.password))
    }
}

/// The login role every function but `migrate` uses: `migrate` creates it (or sets its password)
/// and grants it exactly the DML the code runs, and nothing that alters a table (see
/// [`crate::db::ensure_runtime_role`]). Roles belong to the whole PostgreSQL cluster, not to one
/// database: two databases of one cluster need two names.
#[derive(Clone)]
pub struct RuntimeRole {
    pub name: String,
    pub password: SecretString,
}

impl std::fmt::Debug for RuntimeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeRole")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RuntimeRole {
    /// `DB_RUNTIME_SECRET_ARN` (a secret with `username` and `password`, the format RDS Proxy
    /// reads), or `DB_RUNTIME_USER` with `DB_RUNTIME_PASSWORD`; `None` when neither is set (the
    /// functions then log in as the migrating user, as a bare local database may).
    pub async fn load(env: &Environment, aws: &Aws) -> Result<Option<Self>, ConfigError> {
        let secret_arn = env.text("DB_RUNTIME_SECRET_ARN");
        let user = env.text("DB_RUNTIME_USER");
        let password = env.secret("DB_RUNTIME_PASSWORD");
        let (variable, name, password) = match (secret_arn, user, password) {
            (None, None, None) => return Ok(None),
            (Some(arn), None, None) => {
                let (_, name, password) =
                    SecretSource::read("DB_RUNTIME_SECRET_ARN", arn, aws).await?;
                ("DB_RUNTIME_SECRET_ARN", name, password)
            }
            (None, Some(user), Some(password)) => ("DB_RUNTIME_USER", user.to_owned(), password),
            (Some(_), _, _) => {
                return Err(ConfigError::new(
                    "DB_RUNTIME_SECRET_ARN",
                    "set DB_RUNTIME_SECRET_ARN or DB_RUNTIME_USER and DB_RUNTIME_PASSWORD, not both",
                ));
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::new(
                    "DB_RUNTIME_USER",
                    "is not set (needed with DB_RUNTIME_PASSWORD)",
                ));
            }
            (None, Some(_), None) => {
                return Err(ConfigError::new(
                    "DB_RUNTIME_PASSWORD",
                    "is not set (needed with DB_RUNTIME_USER)",
                ));
            }
        };
        // Written into SQL as an identifier: plain lower-case names only.
        let plain = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain || name.starts_with("pg_") {
            return Err(ConfigError::new(
                variable,
                "the role name must be lower-case letters, digits and _ (at most 63, not pg_...)",
            ));
        }
        Ok(Some(RuntimeRole { name, password }))
    }
}

impl DatabaseConfig {
    /// `DATABASE_URL`, or `DB_HOST`/`DB_PORT`/`DB_NAME` with the credentials of the RDS-managed
    /// secret `DB_SECRET_ARN`; plus `DB_SSLMODE`, `DB_POOL_SIZE` and the `DB_*_TIMEOUT`s.
    pub async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let database_url = env.secret("DATABASE_URL");
        let secret_arn = env.text("DB_SECRET_ARN");
        let host = env.text("DB_HOST");
        let port: u16 = env.parsed("DB_PORT", 5432, "a port number")?;
        let name = env.text("DB_NAME");
        let sslmode = env.text_or("DB_SSLMODE", "disable");
        let sslrootcert = env.text("DB_SSLROOTCERT");
        let pool_size: usize = env.parsed("DB_POOL_SIZE", 1, "a whole number")?;
        // Unset: a `connect_timeout` in `DATABASE_URL`, else the default.
        let connect_timeout = env.optional_seconds("DB_CONNECT_TIMEOUT")?;
        let statement_timeout = env.seconds("DB_STATEMENT_TIMEOUT", STATEMENT_TIMEOUT)?;

        let mut credentials_secret = None;
        let mut url = match (database_url, secret_arn) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "DB_SECRET_ARN",
                    "set DATABASE_URL or DB_SECRET_ARN, not both",
                ));
            }
            (Some(url), None) => {
                tokio_postgres::Config::from_str(url.expose_secret()).map_err(|_| {
                    ConfigError::new("DATABASE_URL", "is not a valid PostgreSQL connection URL")
                })?
            }
            (None, Some(arn)) => {
                let host = host.ok_or_else(|| {
                    ConfigError::new("DB_HOST", "is not set (needed with DB_SECRET_ARN)")
                })?;
                let name = name.ok_or_else(|| {
                    ConfigError::new("DB_NAME", "is not set (needed with DB_SECRET_ARN)")
                })?;
                let (source, user, password) =
                    SecretSource::read("DB_SECRET_ARN", arn, aws).await?;
                credentials_secret = Some(source);
                let mut url = tokio_postgres::Config::new();
                url.host(host).port(port).dbname(name).user(&user);
                url.password(password.expose_secret());
                url
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "is not set (nor DB_SECRET_ARN)",
                ));
            }
        };
        let tls = match (sslmode.as_str(), sslrootcert) {
            ("disable", None) => DbTls::Disable,
            ("disable", Some(_)) => {
                return Err(ConfigError::new(
                    "DB_SSLROOTCERT",
                    "is only used with DB_SSLMODE=verify-full",
                ));
            }
            ("verify-full", None) => DbTls::VerifyFull(TrustedRoots::Mozilla),
            // Unreadable, or without a certificate: a configuration error now rather than a
            // connection refused at the first request.
            ("verify-full", Some(path)) => DbTls::VerifyFull(
                TrustedRoots::from_pem_file(path)
                    .map_err(|why| ConfigError::new("DB_SSLROOTCERT", why))?,
            ),
            _ => {
                return Err(ConfigError::new(
                    "DB_SSLMODE",
                    "must be disable or verify-full",
                ));
            }
        };
        if matches!(tls, DbTls::VerifyFull(_)) {
            url.ssl_mode(tokio_postgres::config::SslMode::Require);
        }
        if pool_size == 0 {
            return Err(ConfigError::new("DB_POOL_SIZE", "must be at least 1"));
        }
        // A zero `connect_timeout` in the URL would mean "wait forever": the default instead.
        let connect = connect_timeout.unwrap_or_else(|| {
            url.get_connect_timeout()
                .copied()
                .filter(|timeout| !timeout.is_zero())
                .unwrap_or(Duration::from_secs(CONNECT_TIMEOUT))
        });
        Ok(DatabaseConfig {
            url,
            pool_size,
            tls,
            credentials_secret,
            timeouts: DbTimeouts {
                connect,
                statement: statement_timeout,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::*;

    #[tokio::test]
    async fn database_timeouts_come_from_their_variables_or_the_url() {
        let set = load(&[
            DB,
            ("DB_CONNECT_TIMEOUT", "2"),
            ("DB_STATEMENT_TIMEOUT", "4"),
        ])
        .await
        .unwrap();
        assert_eq!(
            set.database.timeouts,
            DbTimeouts {
                connect: Duration::from_secs(2),
                statement: Duration::from_secs(4),
            }
        );
        let url = (
            "DATABASE_URL",
            "postgres://u:p@localhost/db?connect_timeout=7",
        );
        let from_url = load(&[url]).await.unwrap();
        assert_eq!(from_url.database.timeouts.connect, Duration::from_secs(7));
        let variable_wins = load(&[url, ("DB_CONNECT_TIMEOUT", "1")]).await.unwrap();
        assert_eq!(
            variable_wins.database.timeouts.connect,
            Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn the_runtime_role_is_named_with_its_password_or_not_at_all() {
        let load = |vars: &'static [(&'static str, &'static str)]| async move {
            RuntimeRole::load(
                &Environment::from_pairs(vars.iter().copied()),
                &Aws::from_environment(),
            )
            .await
        };
        assert!(
            load(&[]).await.unwrap().is_none(),
            "none: the migrating user"
        );
        let role = load(&[
            ("DB_RUNTIME_USER", "auth_runtime"),
            ("DB_RUNTIME_PASSWORD", "s3cret"),
        ])
        .await
        .unwrap()
        .unwrap();
        assert_eq!(role.name, "auth_runtime");
        assert_eq!(role.password.expose_secret(), "s3cret");
        assert!(!format!("{role:?}").contains("s3cret"));
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("DB_RUNTIME_USER", "auth_runtime")],
                "DB_RUNTIME_PASSWORD",
            ),
            (&[("DB_RUNTIME_PASSWORD", "x")], "DB_RUNTIME_USER"),
            (
                &[("DB_RUNTIME_USER", "Auth"), ("DB_RUNTIME_PASSWORD", "x")],
                "DB_RUNTIME_USER",
            ),
            (
                &[("DB_RUNTIME_USER", "a\"b"), ("DB_RUNTIME_PASSWORD", "x")],
                "DB_RUNTIME_USER",
            ),
            (
                &[
                    ("DB_RUNTIME_USER", "pg_monitor"),
                    ("DB_RUNTIME_PASSWORD", "x"),
                ],
                "DB_RUNTIME_USER",
            ),
            (
                &[
                    ("DB_RUNTIME_SECRET_ARN", "arn:aws:secretsmanager:x"),
                    ("DB_RUNTIME_USER", "a"),
                    ("DB_RUNTIME_PASSWORD", "x"),
                ],
                "DB_RUNTIME_SECRET_ARN",
            ),
        ];
        for (vars, variable) in cases {
            let error = RuntimeRole::load(
                &Environment::from_pairs(vars.iter().copied()),
                &Aws::from_environment(),
            )
            .await
            .unwrap_err();
            assert_eq!(error.variable, *variable, "{vars:?}: {error}");
        }
    }

    #[tokio::test]
    async fn verify_full_requires_tls_and_a_pool_size_can_be_set() {
        let config = load(&[
            DB,
            KEY,
            ("DB_SSLMODE", "verify-full"),
            ("DB_POOL_SIZE", "4"),
        ])
        .await
        .unwrap();
        assert_eq!(
            config.database.tls,
            DbTls::VerifyFull(TrustedRoots::Mozilla)
        );
        assert_eq!(
            config.database.url.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(config.database.pool_size, 4);
    }

    #[tokio::test]
    async fn a_root_certificate_file_must_hold_certificates_and_goes_with_verify_full() {
        let dir = std::env::temp_dir().join(format!("sslrootcert-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let missing = dir.join("missing.pem");
        let (empty, missing) = (empty.to_str().unwrap(), missing.to_str().unwrap());
        let verify = ("DB_SSLMODE", "verify-full");
        let cases: [&[(&str, &str)]; 3] = [
            &[("DB_SSLROOTCERT", empty)],
            &[verify, ("DB_SSLROOTCERT", empty)],
            &[verify, ("DB_SSLROOTCERT", missing)],
        ];
        for case in cases {
            let vars: Vec<_> = [DB, KEY].iter().chain(case).copied().collect();
            let error = load(&vars).await.unwrap_err();
            assert_eq!(error.variable, "DB_SSLROOTCERT", "{case:?}: {error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
