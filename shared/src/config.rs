//! Runtime configuration: read once per cold start from the environment (and, in AWS, from
//! Secrets Manager) into one typed struct; a bad value stops the function, naming the variable.

use std::str::FromStr;
use std::time::Duration;

use figment::Figment;
use figment::providers::Serialized;
use figment::value::{Dict, Value};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::aws::Aws;
use crate::domain::Email;
use crate::tokens::{JwtKeys, PrivateKey, PublicKey};

/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;

/// Every variable the API reads; anything else in the environment is ignored.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_SECRET_ARN",
    "DB_SSLMODE",
    "DB_POOL_SIZE",
    "DB_CONNECT_TIMEOUT",
    "DB_STATEMENT_TIMEOUT",
    "JWT_SECRET_KEY",
    "JWT_SECRET_ARN",
    "JWT_PRIVATE_KEY",
    "JWT_PRIVATE_KEY_ARN",
    "JWT_PREVIOUS_PUBLIC_KEYS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "REFRESH_REUSE_GRACE",
    "RESET_TOKEN_TTL",
    "RESET_URL",
    "EMAIL_TRANSPORT",
    "EMAIL_FROM",
    "RATE_LIMIT_SIGNUP",
    "RATE_LIMIT_SIGNIN",
    "RATE_LIMIT_FORGOT_PASSWORD",
    "RATE_LIMIT_WINDOW",
    "RESET_EMAILS_PER_WINDOW",
    "RESET_EMAIL_WINDOW",
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

/// The variables a configuration is read from: the process environment, or given pairs (tests).
/// Empty values count as unset, so an env file may list a variable without a value.
#[derive(Clone)]
pub struct Environment(Figment);

impl Environment {
    /// The process environment.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// Explicit `NAME=value` pairs; unknown names are ignored, as in the process environment.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let dict: Dict = pairs
            .into_iter()
            .filter(|(name, value)| {
                VARIABLES.contains(&name.as_ref()) && !value.as_ref().trim().is_empty()
            })
            // Parsed as figment's `Env` provider parses values: "900" is a number, "x" a string.
            .map(|(name, value)| {
                (
                    name.as_ref().to_lowercase(),
                    Value::from_str(value.as_ref()).expect("infallible"),
                )
            })
            .collect();
        Environment(Figment::from(Serialized::defaults(dict)))
    }

    fn extract<'a, T: Deserialize<'a>>(&self) -> Result<T, ConfigError> {
        self.0.extract().map_err(|error| {
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
}

/// How connections to PostgreSQL are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbTls {
    /// Plain TCP: a database on the same machine or in docker compose.
    Disable,
    /// TLS, with the server certificate checked against the Mozilla roots (which include the
    /// Amazon roots RDS Proxy's certificates chain to) and the host name verified.
    VerifyFull,
}

/// Where the database is and how many connections one instance may hold.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Connection parameters; their `Debug` output redacts the password.
    pub url: tokio_postgres::Config,
    /// `DB_POOL_SIZE`: 1 by default, since a Lambda instance serves one request at a time.
    pub pool_size: usize,
    /// `DB_SSLMODE`: `disable` (default) or `verify-full`.
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
            connect: Duration::from_secs(defaults::connect_timeout()),
            statement: Duration::from_secs(defaults::statement_timeout()),
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

impl SecretSource {
    /// The current user name and password in the secret (RDS-managed secret format).
    pub async fn credentials(&self) -> anyhow::Result<(String, SecretString)> {
        let secret = self.aws.secret_string(&self.arn).await?;
        let secret: DatabaseSecret = serde_json::from_str(secret.expose_secret())
            .map_err(|_| anyhow::anyhow!("the secret is not JSON with username and password"))?;
        Ok((secret.username, secret.password))
    }
}

/// How emails leave the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailTransport {
    /// Write the email (reset link included) to the log: the local stack, where there is no mail.
    Log,
    /// Send through Amazon SES v2 from this address.
    Ses { from: Email },
}

/// Everything the API needs; built once by [`Config::load`].
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    /// The keys that sign and verify access tokens: an Ed25519/P-256 key ring (`JWT_PRIVATE_KEY`
    /// or `JWT_PRIVATE_KEY_ARN`, plus `JWT_PREVIOUS_PUBLIC_KEYS`) or an HS256 secret
    /// (`JWT_SECRET_KEY` or `JWT_SECRET_ARN`). Only the functions that sign or verify tokens are
    /// given keys.
    pub jwt_keys: Option<JwtKeys>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long an already-rotated refresh token is still honoured (parallel tabs, retries).
    pub refresh_reuse_grace: Duration,
    pub reset_token_ttl: Duration,
    /// Base of the emailed link; the token is appended as `<RESET_URL>/<token>`.
    pub reset_url: ResetUrl,
    pub email: EmailTransport,
    pub limits: RateLimits,
}

/// Request budgets, counted in PostgreSQL so they hold across every Lambda instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `RATE_LIMIT_SIGNUP`, `RATE_LIMIT_SIGNIN`, `RATE_LIMIT_FORGOT_PASSWORD`: requests one client
    /// IP may make to the endpoint per window. Generous by default (100): offices and mobile
    /// carriers put many people behind one address.
    pub signup_per_ip: u32,
    pub signin_per_ip: u32,
    pub forgot_password_per_ip: u32,
    /// `RATE_LIMIT_WINDOW`: the window of the per-IP budgets (300 s).
    pub ip_window: Duration,
    /// `RESET_EMAILS_PER_WINDOW` per `RESET_EMAIL_WINDOW` (3 per 3600 s): reset emails one address
    /// may receive; requests beyond it get the usual answer and send nothing, so the API cannot
    /// be used to flood someone's inbox.
    pub reset_emails_per_email: u32,
    pub reset_email_window: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            signup_per_ip: 100,
            signin_per_ip: 100,
            forgot_password_per_ip: 100,
            ip_window: Duration::from_secs(300),
            reset_emails_per_email: 3,
            reset_email_window: Duration::from_secs(3600),
        }
    }
}

/// Where the emailed reset link points (`RESET_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetUrl {
    /// A configured base such as `https://auth.example.com/reset-password`.
    Fixed(String),
    /// `from-request`: `https://<the API's domain>/reset-password`, the domain taken from the
    /// request context API Gateway fills in (never from a client header). For stacks whose API
    /// URL cannot be known before the function exists (the SAM template's default).
    FromRequest,
}

impl ResetUrl {
    /// The link base for a request that reached the API at `api_domain` (when known).
    pub fn base(&self, api_domain: Option<&str>) -> Option<String> {
        match self {
            ResetUrl::Fixed(base) => Some(base.clone()),
            ResetUrl::FromRequest => {
                api_domain.map(|domain| format!("https://{domain}/reset-password"))
            }
        }
    }
}

#[derive(Deserialize)]
struct DatabaseVars {
    database_url: Option<SecretString>,
    db_host: Option<String>,
    #[serde(default = "defaults::db_port")]
    db_port: u16,
    db_name: Option<String>,
    db_secret_arn: Option<String>,
    #[serde(default = "defaults::sslmode")]
    db_sslmode: String,
    #[serde(default = "defaults::pool_size")]
    db_pool_size: usize,
    /// Unset: a `connect_timeout` in `DATABASE_URL`, else the default.
    db_connect_timeout: Option<u64>,
    #[serde(default = "defaults::statement_timeout")]
    db_statement_timeout: u64,
}

#[derive(Deserialize)]
struct Vars {
    jwt_secret_key: Option<SecretString>,
    jwt_secret_arn: Option<String>,
    jwt_private_key: Option<SecretString>,
    jwt_private_key_arn: Option<String>,
    jwt_previous_public_keys: Option<String>,
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
    #[serde(default = "defaults::email_transport")]
    email_transport: String,
    email_from: Option<String>,
}

#[derive(Deserialize)]
struct RateLimitVars {
    rate_limit_signup: Option<u32>,
    rate_limit_signin: Option<u32>,
    rate_limit_forgot_password: Option<u32>,
    rate_limit_window: Option<u64>,
    reset_emails_per_window: Option<u32>,
    reset_email_window: Option<u64>,
}

impl RateLimits {
    /// The budgets from `RATE_LIMIT_*` and `RESET_EMAIL*`, each defaulting as documented above.
    fn load(env: &Environment) -> Result<Self, ConfigError> {
        let vars: RateLimitVars = env.extract()?;
        let defaults = RateLimits::default();
        let count = |variable: &str, value: Option<u32>, default: u32| match value {
            None => Ok(default),
            Some(0) => Err(ConfigError::new(variable, "must be at least 1")),
            Some(n) => Ok(n),
        };
        let window = |variable: &str, value: Option<u64>, default: Duration| {
            value.map_or(Ok(default), |seconds| positive_seconds(variable, seconds))
        };
        Ok(RateLimits {
            signup_per_ip: count(
                "RATE_LIMIT_SIGNUP",
                vars.rate_limit_signup,
                defaults.signup_per_ip,
            )?,
            signin_per_ip: count(
                "RATE_LIMIT_SIGNIN",
                vars.rate_limit_signin,
                defaults.signin_per_ip,
            )?,
            forgot_password_per_ip: count(
                "RATE_LIMIT_FORGOT_PASSWORD",
                vars.rate_limit_forgot_password,
                defaults.forgot_password_per_ip,
            )?,
            ip_window: window(
                "RATE_LIMIT_WINDOW",
                vars.rate_limit_window,
                defaults.ip_window,
            )?,
            reset_emails_per_email: count(
                "RESET_EMAILS_PER_WINDOW",
                vars.reset_emails_per_window,
                defaults.reset_emails_per_email,
            )?,
            reset_email_window: window(
                "RESET_EMAIL_WINDOW",
                vars.reset_email_window,
                defaults.reset_email_window,
            )?,
        })
    }
}

/// The JSON of an RDS-managed master-user secret (only the fields used).
#[derive(Deserialize)]
struct DatabaseSecret {
    username: String,
    password: SecretString,
}

mod defaults {
    pub fn db_port() -> u16 {
        5432
    }
    pub fn sslmode() -> String {
        "disable".into()
    }
    pub fn pool_size() -> usize {
        1
    }
    pub fn connect_timeout() -> u64 {
        3
    }
    pub fn statement_timeout() -> u64 {
        5
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
    pub fn email_transport() -> String {
        "log".into()
    }
}

/// A duration variable in whole seconds, of which 0 is refused.
fn positive_seconds(variable: &str, seconds: u64) -> Result<Duration, ConfigError> {
    if seconds == 0 {
        Err(ConfigError::new(
            variable,
            "must be a positive number of seconds",
        ))
    } else {
        Ok(Duration::from_secs(seconds))
    }
}

fn secret_problem(error: anyhow::Error) -> String {
    format!("could not be read from Secrets Manager: {error:#}")
}

impl DatabaseConfig {
    /// `DATABASE_URL`, or `DB_HOST`/`DB_PORT`/`DB_NAME` with the credentials of the RDS-managed
    /// secret `DB_SECRET_ARN`; plus `DB_SSLMODE`, `DB_POOL_SIZE` and the `DB_*_TIMEOUT`s.
    pub async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let vars: DatabaseVars = env.extract()?;
        let mut credentials_secret = None;
        let mut url = match (vars.database_url, vars.db_secret_arn) {
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
                let host = vars.db_host.ok_or_else(|| {
                    ConfigError::new("DB_HOST", "is not set (needed with DB_SECRET_ARN)")
                })?;
                let name = vars.db_name.ok_or_else(|| {
                    ConfigError::new("DB_NAME", "is not set (needed with DB_SECRET_ARN)")
                })?;
                let source = SecretSource {
                    arn,
                    aws: aws.clone(),
                };
                let (user, password) = source
                    .credentials()
                    .await
                    .map_err(|e| ConfigError::new("DB_SECRET_ARN", secret_problem(e)))?;
                credentials_secret = Some(source);
                let mut url = tokio_postgres::Config::new();
                url.host(&host).port(vars.db_port).dbname(&name).user(&user);
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
        let tls = match vars.db_sslmode.as_str() {
            "disable" => DbTls::Disable,
            "verify-full" => DbTls::VerifyFull,
            _ => {
                return Err(ConfigError::new(
                    "DB_SSLMODE",
                    "must be disable or verify-full",
                ));
            }
        };
        if tls == DbTls::VerifyFull {
            url.ssl_mode(tokio_postgres::config::SslMode::Require);
        }
        if vars.db_pool_size == 0 {
            return Err(ConfigError::new("DB_POOL_SIZE", "must be at least 1"));
        }
        // Zero would mean "no timeout" to PostgreSQL: the opposite of what was asked for.
        let connect = match vars.db_connect_timeout {
            Some(value) => positive_seconds("DB_CONNECT_TIMEOUT", value)?,
            None => url
                .get_connect_timeout()
                .copied()
                .filter(|timeout| !timeout.is_zero())
                .unwrap_or(DbTimeouts::default().connect),
        };
        let timeouts = DbTimeouts {
            connect,
            statement: positive_seconds("DB_STATEMENT_TIMEOUT", vars.db_statement_timeout)?,
        };
        Ok(DatabaseConfig {
            url,
            pool_size: vars.db_pool_size,
            tls,
            credentials_secret,
            timeouts,
        })
    }
}

impl Config {
    /// Reads and checks every variable, fetching secrets named by `*_ARN` variables.
    pub async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let database = DatabaseConfig::load(env, aws).await?;
        let vars: Vars = env.extract()?;
        let jwt_keys = load_jwt_keys(&vars, aws).await?;
        for (variable, value) in [
            ("JWT_ISSUER", &vars.jwt_issuer),
            ("JWT_AUDIENCE", &vars.jwt_audience),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::new(variable, "must not be empty"));
            }
        }
        let reset_url = match vars.reset_url.trim().trim_end_matches('/') {
            "from-request" => ResetUrl::FromRequest,
            url if url.starts_with("https://") || url.starts_with("http://") => {
                ResetUrl::Fixed(url.to_owned())
            }
            _ => {
                return Err(ConfigError::new(
                    "RESET_URL",
                    "must be an http:// or https:// URL, or from-request",
                ));
            }
        };
        let email = match (vars.email_transport.as_str(), vars.email_from) {
            ("log", _) => EmailTransport::Log,
            ("ses", Some(from)) => EmailTransport::Ses {
                from: Email::parse(&from)
                    .map_err(|_| ConfigError::new("EMAIL_FROM", "is not a valid email address"))?,
            },
            ("ses", None) => {
                return Err(ConfigError::new(
                    "EMAIL_FROM",
                    "is not set (needed with EMAIL_TRANSPORT=ses)",
                ));
            }
            _ => return Err(ConfigError::new("EMAIL_TRANSPORT", "must be log or ses")),
        };
        Ok(Config {
            database,
            jwt_keys,
            jwt_issuer: vars.jwt_issuer,
            jwt_audience: vars.jwt_audience,
            access_token_ttl: positive_seconds("ACCESS_TOKEN_TTL", vars.access_token_ttl)?,
            refresh_token_ttl: positive_seconds("REFRESH_TOKEN_TTL", vars.refresh_token_ttl)?,
            refresh_reuse_grace: Duration::from_secs(vars.refresh_reuse_grace),
            reset_token_ttl: positive_seconds("RESET_TOKEN_TTL", vars.reset_token_ttl)?,
            reset_url,
            email,
            limits: RateLimits::load(env)?,
        })
    }
}

/// The `JWT_*` keys: an asymmetric key ring, an HS256 secret, or none (functions that need none).
async fn load_jwt_keys(vars: &Vars, aws: &Aws) -> Result<Option<JwtKeys>, ConfigError> {
    let both = |first: &str, second: &str| {
        ConfigError::new(second, format!("set {first} or {second}, not both"))
    };
    let asymmetric = vars.jwt_private_key.is_some() || vars.jwt_private_key_arn.is_some();
    let hs256 = vars.jwt_secret_key.is_some() || vars.jwt_secret_arn.is_some();
    if asymmetric && hs256 {
        return Err(ConfigError::new(
            "JWT_SECRET_KEY",
            "set JWT_PRIVATE_KEY (Ed25519 or P-256) or JWT_SECRET_KEY (HS256), not both",
        ));
    }
    if !asymmetric && vars.jwt_previous_public_keys.is_some() {
        return Err(ConfigError::new(
            "JWT_PREVIOUS_PUBLIC_KEYS",
            "needs JWT_PRIVATE_KEY (or JWT_PRIVATE_KEY_ARN): previous keys belong to a key ring",
        ));
    }
    if asymmetric {
        let (variable, pem) = match (&vars.jwt_private_key, &vars.jwt_private_key_arn) {
            (Some(_), Some(_)) => return Err(both("JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_ARN")),
            (Some(pem), None) => ("JWT_PRIVATE_KEY", pem.clone()),
            (None, Some(arn)) => (
                "JWT_PRIVATE_KEY_ARN",
                aws.secret_string(arn)
                    .await
                    .map_err(|e| ConfigError::new("JWT_PRIVATE_KEY_ARN", secret_problem(e)))?,
            ),
            (None, None) => unreachable!("asymmetric means one of them is set"),
        };
        let signing = PrivateKey::from_pem(pem.expose_secret())
            .map_err(|e| ConfigError::new(variable, e.to_string()))?;
        let previous = match &vars.jwt_previous_public_keys {
            Some(pems) => PublicKey::from_pem_list(pems)
                .map_err(|e| ConfigError::new("JWT_PREVIOUS_PUBLIC_KEYS", e.to_string()))?,
            None => Vec::new(),
        };
        return Ok(Some(JwtKeys::Asymmetric { signing, previous }));
    }
    let secret = match (&vars.jwt_secret_key, &vars.jwt_secret_arn) {
        (Some(_), Some(_)) => return Err(both("JWT_SECRET_KEY", "JWT_SECRET_ARN")),
        (Some(key), None) => key.clone(),
        (None, Some(arn)) => aws
            .secret_string(arn)
            .await
            .map_err(|e| ConfigError::new("JWT_SECRET_ARN", secret_problem(e)))?,
        (None, None) => return Ok(None),
    };
    if secret.expose_secret().len() < MIN_SECRET_BYTES {
        return Err(ConfigError::new(
            "JWT_SECRET_KEY",
            format!(
                "must be at least {MIN_SECRET_BYTES} bytes (generate one with `openssl rand -base64 48`)"
            ),
        ));
    }
    Ok(Some(JwtKeys::Hs256(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const DB: (&str, &str) = ("DATABASE_URL", "postgres://u:p@localhost/db");
    const KEY: (&str, &str) = ("JWT_SECRET_KEY", SECRET);

    async fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        // No variable here names an ARN, so the SDK is never asked for anything.
        Config::load(
            &Environment::from_pairs(vars.iter().copied()),
            &Aws::from_environment(),
        )
        .await
    }

    #[tokio::test]
    async fn defaults_apply_when_only_required_variables_are_set() {
        let config = load(&[DB, KEY]).await.unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(604_800));
        assert_eq!(config.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(config.reset_token_ttl, Duration::from_secs(1800));
        assert_eq!(config.database.pool_size, 1);
        assert_eq!(config.database.tls, DbTls::Disable);
        assert_eq!(
            config.database.timeouts,
            DbTimeouts {
                connect: Duration::from_secs(3),
                statement: Duration::from_secs(5),
            }
        );
        assert_eq!(
            config.reset_url,
            ResetUrl::Fixed("http://localhost:5001/reset-password".into())
        );
        assert_eq!(config.email, EmailTransport::Log);
    }

    #[tokio::test]
    async fn the_signing_key_is_optional_and_empty_values_count_as_unset() {
        let config = load(&[
            DB,
            ("JWT_SECRET_KEY", "  "),
            ("JWT_PRIVATE_KEY", ""),
            ("JWT_PREVIOUS_PUBLIC_KEYS", ""),
            ("EMAIL_FROM", ""),
        ])
        .await
        .unwrap();
        assert!(config.jwt_keys.is_none());
    }

    #[tokio::test]
    async fn numeric_secrets_and_custom_values_are_read() {
        let digits = "1".repeat(40);
        let config = load(&[
            DB,
            ("JWT_SECRET_KEY", &digits),
            ("ACCESS_TOKEN_TTL", "60"),
            ("RESET_URL", "https://auth.example.com/reset-password/"),
            ("DB_SSLMODE", "verify-full"),
            ("EMAIL_TRANSPORT", "ses"),
            ("EMAIL_FROM", "no-reply@example.com"),
        ])
        .await
        .unwrap();
        match config.jwt_keys {
            Some(JwtKeys::Hs256(secret)) => assert_eq!(secret.expose_secret(), digits),
            other => panic!("an HS256 secret, not {other:?}"),
        }
        assert_eq!(config.access_token_ttl, Duration::from_secs(60));
        assert_eq!(
            config.reset_url,
            ResetUrl::Fixed("https://auth.example.com/reset-password".into())
        );
        let from_request = load(&[DB, ("RESET_URL", "from-request")]).await.unwrap();
        assert_eq!(from_request.reset_url, ResetUrl::FromRequest);
        assert_eq!(
            from_request
                .reset_url
                .base(Some("abc.execute-api.eu-west-1.amazonaws.com"))
                .as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/reset-password")
        );
        assert_eq!(from_request.reset_url.base(None), None);
        assert_eq!(config.database.tls, DbTls::VerifyFull);
        assert_eq!(
            config.email,
            EmailTransport::Ses {
                from: Email::parse("no-reply@example.com").unwrap()
            }
        );
    }

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
    async fn rate_limits_default_generously_and_can_be_set() {
        assert_eq!(
            load(&[DB, KEY]).await.unwrap().limits,
            RateLimits::default()
        );
        assert!(RateLimits::default().signin_per_ip >= 100);
        let limits = load(&[
            DB,
            KEY,
            ("RATE_LIMIT_SIGNUP", "7"),
            ("RATE_LIMIT_SIGNIN", "8"),
            ("RATE_LIMIT_FORGOT_PASSWORD", "9"),
            ("RATE_LIMIT_WINDOW", "60"),
            ("RESET_EMAILS_PER_WINDOW", "2"),
            ("RESET_EMAIL_WINDOW", "600"),
        ])
        .await
        .unwrap()
        .limits;
        assert_eq!(
            limits,
            RateLimits {
                signup_per_ip: 7,
                signin_per_ip: 8,
                forgot_password_per_ip: 9,
                ip_window: Duration::from_secs(60),
                reset_emails_per_email: 2,
                reset_email_window: Duration::from_secs(600),
            }
        );
    }

    #[tokio::test]
    async fn each_bad_variable_is_named_in_the_error() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[KEY], "DATABASE_URL"),
            (&[DB, ("JWT_SECRET_KEY", "too-short")], "JWT_SECRET_KEY"),
            (
                &[DB, KEY, ("JWT_SECRET_ARN", "arn:aws:secretsmanager:x")],
                "JWT_SECRET_ARN",
            ),
            (&[("DATABASE_URL", "not a url at all"), KEY], "DATABASE_URL"),
            (
                &[DB, ("DB_SECRET_ARN", "arn:aws:secretsmanager:x")],
                "DB_SECRET_ARN",
            ),
            (
                &[
                    ("DB_SECRET_ARN", "arn:aws:secretsmanager:x"),
                    ("DB_NAME", "auth"),
                ],
                "DB_HOST",
            ),
            (
                &[
                    ("DB_SECRET_ARN", "arn:aws:secretsmanager:x"),
                    ("DB_HOST", "proxy"),
                ],
                "DB_NAME",
            ),
            (&[DB, ("DB_SSLMODE", "prefer")], "DB_SSLMODE"),
            (&[DB, ("DB_PORT", "not-a-port")], "DB_PORT"),
            (&[DB, KEY, ("ACCESS_TOKEN_TTL", "soon")], "ACCESS_TOKEN_TTL"),
            (&[DB, KEY, ("ACCESS_TOKEN_TTL", "0")], "ACCESS_TOKEN_TTL"),
            (&[DB, KEY, ("RATE_LIMIT_SIGNIN", "0")], "RATE_LIMIT_SIGNIN"),
            (
                &[DB, KEY, ("RATE_LIMIT_SIGNUP", "lots")],
                "RATE_LIMIT_SIGNUP",
            ),
            (&[DB, KEY, ("RATE_LIMIT_WINDOW", "0")], "RATE_LIMIT_WINDOW"),
            (
                &[DB, KEY, ("RESET_EMAILS_PER_WINDOW", "-1")],
                "RESET_EMAILS_PER_WINDOW",
            ),
            (&[DB, KEY, ("DB_POOL_SIZE", "0")], "DB_POOL_SIZE"),
            (
                &[DB, KEY, ("DB_CONNECT_TIMEOUT", "0")],
                "DB_CONNECT_TIMEOUT",
            ),
            (
                &[DB, KEY, ("DB_CONNECT_TIMEOUT", "3s")],
                "DB_CONNECT_TIMEOUT",
            ),
            (
                &[DB, KEY, ("DB_STATEMENT_TIMEOUT", "0")],
                "DB_STATEMENT_TIMEOUT",
            ),
            (
                &[DB, KEY, ("DB_STATEMENT_TIMEOUT", "-1")],
                "DB_STATEMENT_TIMEOUT",
            ),
            (&[DB, KEY, ("RESET_URL", "ftp://x")], "RESET_URL"),
            (&[DB, KEY, ("JWT_ISSUER", "\"\"")], "JWT_ISSUER"),
            (&[DB, KEY, ("EMAIL_TRANSPORT", "smtp")], "EMAIL_TRANSPORT"),
            (&[DB, KEY, ("EMAIL_TRANSPORT", "ses")], "EMAIL_FROM"),
            (
                &[
                    DB,
                    KEY,
                    ("EMAIL_TRANSPORT", "ses"),
                    ("EMAIL_FROM", "nobody"),
                ],
                "EMAIL_FROM",
            ),
        ];
        for (vars, variable) in cases {
            let error = load(vars).await.unwrap_err();
            assert_eq!(error.variable, *variable, "{error}");
        }
    }

    #[tokio::test]
    async fn errors_and_debug_output_never_show_secrets() {
        let error = load(&[
            ("DATABASE_URL", "postgres://u:hunter2@localhost/db"),
            ("JWT_SECRET_KEY", "short-secret"),
        ])
        .await
        .unwrap_err();
        assert!(!error.to_string().contains("short-secret"));
        let config = load(&[("DATABASE_URL", "postgres://u:hunter2@localhost/db"), KEY])
            .await
            .unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains(SECRET),
            "{debug}"
        );
    }

    /// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` of another key.
    const PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIFrXqhIziaujiRUBojNbl3Hxe/+iQrbMyzEfa4Po3GF8
-----END PRIVATE KEY-----
";
    const OTHER_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA9xytiTTzZLDpTV249/4drNW5xqwDJw9fzqNgc3+k8dA=
-----END PUBLIC KEY-----
";

    fn kids(config: &Config) -> Vec<String> {
        match &config.jwt_keys {
            Some(JwtKeys::Asymmetric { signing, previous }) => {
                std::iter::once(signing.public_key())
                    .chain(previous)
                    .map(|key| key.kid().to_owned())
                    .collect()
            }
            other => panic!("an asymmetric key ring, not {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_private_key_selects_asymmetric_signing_with_its_previous_keys() {
        let one_line = PRIVATE_PEM.replace('\n', "\\n");
        let two_previous = format!("{OTHER_PUBLIC_PEM}{OTHER_PUBLIC_PEM}").replace('\n', "\\n");
        // As an env file may hand them over: quoted, the quotes kept.
        let single_quoted = format!("'{one_line}'");
        let double_quoted = format!("\"{one_line}\"");
        let cases: [&[(&str, &str)]; 5] = [
            &[DB, ("JWT_PRIVATE_KEY", PRIVATE_PEM)],
            &[DB, ("JWT_PRIVATE_KEY", &one_line)],
            &[
                DB,
                ("JWT_PRIVATE_KEY", &one_line),
                ("JWT_PREVIOUS_PUBLIC_KEYS", &two_previous),
            ],
            &[DB, ("JWT_PRIVATE_KEY", &single_quoted)],
            &[DB, ("JWT_PRIVATE_KEY", &double_quoted)],
        ];
        let mut rings = Vec::new();
        for vars in cases {
            rings.push(kids(&load(vars).await.unwrap()));
        }
        assert_eq!(
            rings[0], rings[1],
            "multi-line and one-line PEMs are the same key"
        );
        assert_eq!(rings[0], ["75bMrcNTHG280StTrBynAM10un9rIIMlnKkOaYelV2U"]);
        assert_eq!(rings[3], rings[0], "single-quoted");
        assert_eq!(rings[4], rings[0], "double-quoted");
        assert_eq!(
            rings[2][1..],
            ["NkHXSmxZUvMCk5V9_4sMLvrcNfstckDsFKSptoYKVtk"; 2],
            "previous keys follow the current one"
        );
    }

    #[tokio::test]
    async fn each_bad_key_setting_is_named_in_the_error() {
        let private = ("JWT_PRIVATE_KEY", PRIVATE_PEM);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[DB, private, KEY], "JWT_SECRET_KEY"),
            (
                &[DB, private, ("JWT_SECRET_ARN", "arn:aws:secretsmanager:x")],
                "JWT_SECRET_KEY",
            ),
            (
                &[
                    DB,
                    private,
                    ("JWT_PRIVATE_KEY_ARN", "arn:aws:secretsmanager:x"),
                ],
                "JWT_PRIVATE_KEY_ARN",
            ),
            (&[DB, ("JWT_PRIVATE_KEY", "not a key")], "JWT_PRIVATE_KEY"),
            (
                &[DB, ("JWT_PRIVATE_KEY", OTHER_PUBLIC_PEM)],
                "JWT_PRIVATE_KEY",
            ),
            (
                &[DB, KEY, ("JWT_PREVIOUS_PUBLIC_KEYS", OTHER_PUBLIC_PEM)],
                "JWT_PREVIOUS_PUBLIC_KEYS",
            ),
            (
                &[DB, private, ("JWT_PREVIOUS_PUBLIC_KEYS", PRIVATE_PEM)],
                "JWT_PREVIOUS_PUBLIC_KEYS",
            ),
        ];
        for (vars, variable) in cases {
            let error = load(vars).await.unwrap_err();
            assert_eq!(error.variable, *variable, "{error}");
            assert!(
                !error.to_string().contains("MC4CAQ"),
                "no key material: {error}"
            );
        }
    }
}
