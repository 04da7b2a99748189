//! Runtime configuration: read from the environment once per cold start into one typed struct.

use std::str::FromStr;
use std::time::Duration;

use figment::Figment;
use figment::providers::Env;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;

/// Every variable the API reads; anything else in the environment is ignored.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "DB_POOL_SIZE",
    "JWT_SECRET_KEY",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "REFRESH_REUSE_GRACE",
    "RESET_TOKEN_TTL",
    "RESET_URL",
];

/// A configuration problem, naming the variable at fault; the process refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Where the database is and how many connections one instance may hold.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Parsed `DATABASE_URL`; its `Debug` output redacts the password.
    pub url: tokio_postgres::Config,
    /// `DB_POOL_SIZE`: 1 by default, since a Lambda instance serves one request at a time.
    pub pool_size: usize,
}

/// Everything the API needs; built once by [`Config::from_env`].
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub jwt_secret: SecretString,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long an already-rotated refresh token is still honoured (parallel tabs, retries).
    pub refresh_reuse_grace: Duration,
    pub reset_token_ttl: Duration,
    /// Base of the emailed link; the token is appended as `<RESET_URL>/<token>`.
    pub reset_url: String,
}

#[derive(Deserialize)]
struct DatabaseVars {
    database_url: SecretString,
    #[serde(default = "defaults::pool_size")]
    db_pool_size: usize,
}

#[derive(Deserialize)]
struct Vars {
    jwt_secret_key: SecretString,
    #[serde(default = "defaults::issuer")]
    jwt_issuer: String,
    #[serde(default = "defaults::audience")]
    jwt_audience: String,
    #[serde(default = "defaults::access_ttl")]
    access_token_ttl: u64,
    #[serde(default = "defaults::refresh_ttl")]
    refresh_token_ttl: u64,
    #[serde(default = "defaults::reuse_grace")]
    refresh_reuse_grace: u64,
    #[serde(default = "defaults::reset_ttl")]
    reset_token_ttl: u64,
    #[serde(default = "defaults::reset_url")]
    reset_url: String,
}

mod defaults {
    pub fn pool_size() -> usize {
        1
    }
    pub fn issuer() -> String {
        "jwt-auth-api".into()
    }
    pub fn audience() -> String {
        "jwt-auth-api".into()
    }
    pub fn access_ttl() -> u64 {
        900
    }
    pub fn refresh_ttl() -> u64 {
        604_800
    }
    pub fn reuse_grace() -> u64 {
        10
    }
    pub fn reset_ttl() -> u64 {
        1800
    }
    pub fn reset_url() -> String {
        "http://localhost:5001/reset-password".into()
    }
}

/// The environment's variables, keyed in lower case (figment's convention) to match the fields.
fn environment() -> Figment {
    Figment::from(Env::raw().only(VARIABLES))
}

fn extract<'a, T: Deserialize<'a>>(figment: &Figment) -> Result<T, ConfigError> {
    figment.extract().map_err(|error| {
        let variable = match &error.kind {
            figment::error::Kind::MissingField(name) => {
                return ConfigError::new(&name.to_uppercase(), "is not set");
            }
            _ => error
                .path
                .last()
                .cloned()
                .unwrap_or_else(|| "environment".into()),
        };
        ConfigError::new(&variable.to_uppercase(), error.kind.to_string())
    })
}

impl DatabaseConfig {
    /// Reads `DATABASE_URL` and `DB_POOL_SIZE` (all the `migrate` binary needs).
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: DatabaseVars = extract(&environment())?;
        let url =
            tokio_postgres::Config::from_str(vars.database_url.expose_secret()).map_err(|_| {
                ConfigError::new("DATABASE_URL", "is not a valid PostgreSQL connection URL")
            })?;
        if vars.db_pool_size == 0 {
            return Err(ConfigError::new("DB_POOL_SIZE", "must be at least 1"));
        }
        Ok(DatabaseConfig {
            url,
            pool_size: vars.db_pool_size,
        })
    }
}

impl Config {
    /// Reads and checks every variable; the first problem found is returned, naming its variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let database = DatabaseConfig::from_env()?;
        let vars: Vars = extract(&environment())?;
        if vars.jwt_secret_key.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(ConfigError::new(
                "JWT_SECRET_KEY",
                format!(
                    "must be at least {MIN_SECRET_BYTES} bytes (generate one with `openssl rand -base64 48`)"
                ),
            ));
        }
        for (variable, value) in [
            ("JWT_ISSUER", &vars.jwt_issuer),
            ("JWT_AUDIENCE", &vars.jwt_audience),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::new(variable, "must not be empty"));
            }
        }
        let positive = |variable: &str, seconds: u64| {
            if seconds == 0 {
                Err(ConfigError::new(
                    variable,
                    "must be a positive number of seconds",
                ))
            } else {
                Ok(Duration::from_secs(seconds))
            }
        };
        let reset_url = vars.reset_url.trim().trim_end_matches('/').to_owned();
        if !(reset_url.starts_with("https://") || reset_url.starts_with("http://")) {
            return Err(ConfigError::new(
                "RESET_URL",
                "must be an http:// or https:// URL",
            ));
        }
        Ok(Config {
            database,
            jwt_secret: vars.jwt_secret_key,
            jwt_issuer: vars.jwt_issuer,
            jwt_audience: vars.jwt_audience,
            access_token_ttl: positive("ACCESS_TOKEN_TTL", vars.access_token_ttl)?,
            refresh_token_ttl: positive("REFRESH_TOKEN_TTL", vars.refresh_token_ttl)?,
            refresh_reuse_grace: Duration::from_secs(vars.refresh_reuse_grace),
            reset_token_ttl: positive("RESET_TOKEN_TTL", vars.reset_token_ttl)?,
            reset_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    // figment's Jail dictates the closure's (large) error type.
    #[allow(clippy::result_large_err)]
    fn with_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut result = None;
        Jail::expect_with(|jail| {
            jail.clear_env();
            for (name, value) in vars {
                jail.set_env(name, value);
            }
            result = Some(Config::from_env());
            Ok(())
        });
        result.unwrap()
    }

    #[test]
    fn defaults_apply_when_only_required_variables_are_set() {
        let config = with_env(&[
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("JWT_SECRET_KEY", SECRET),
        ])
        .unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(604_800));
        assert_eq!(config.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(config.reset_token_ttl, Duration::from_secs(1800));
        assert_eq!(config.database.pool_size, 1);
        assert_eq!(config.reset_url, "http://localhost:5001/reset-password");
    }

    #[test]
    fn numeric_secrets_and_custom_values_are_read() {
        let digits = "1".repeat(40);
        let config = with_env(&[
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("JWT_SECRET_KEY", &digits),
            ("ACCESS_TOKEN_TTL", "60"),
            ("RESET_URL", "https://auth.example.com/reset-password/"),
        ])
        .unwrap();
        assert_eq!(config.jwt_secret.expose_secret(), digits);
        assert_eq!(config.access_token_ttl, Duration::from_secs(60));
        assert_eq!(config.reset_url, "https://auth.example.com/reset-password");
    }

    #[test]
    fn each_bad_variable_is_named_in_the_error() {
        let db = ("DATABASE_URL", "postgres://u:p@localhost/db");
        let key = ("JWT_SECRET_KEY", SECRET);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[key], "DATABASE_URL"),
            (&[db], "JWT_SECRET_KEY"),
            (&[db, ("JWT_SECRET_KEY", "too-short")], "JWT_SECRET_KEY"),
            (&[("DATABASE_URL", "not a url at all"), key], "DATABASE_URL"),
            (&[db, key, ("ACCESS_TOKEN_TTL", "soon")], "ACCESS_TOKEN_TTL"),
            (&[db, key, ("ACCESS_TOKEN_TTL", "0")], "ACCESS_TOKEN_TTL"),
            (&[db, key, ("DB_POOL_SIZE", "0")], "DB_POOL_SIZE"),
            (&[db, key, ("RESET_URL", "ftp://x")], "RESET_URL"),
            (&[db, key, ("JWT_ISSUER", " ")], "JWT_ISSUER"),
        ];
        for (vars, variable) in cases {
            let error = with_env(vars).unwrap_err();
            assert_eq!(error.variable, *variable, "{error}");
        }
    }

    #[test]
    fn errors_and_debug_output_never_show_secrets() {
        let error = with_env(&[
            ("DATABASE_URL", "postgres://u:hunter2@localhost/db"),
            ("JWT_SECRET_KEY", "short-secret"),
        ])
        .unwrap_err();
        assert!(!error.to_string().contains("short-secret"));
        let config = with_env(&[
            ("DATABASE_URL", "postgres://u:hunter2@localhost/db"),
            ("JWT_SECRET_KEY", SECRET),
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains(SECRET),
            "{debug}"
        );
    }
}
