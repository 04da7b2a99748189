//! Runtime configuration: read once per cold start from the environment (and, in AWS, from
//! Secrets Manager) into typed settings, one type per concern; a bad value stops the function,
//! naming the variable.
//!
//! Each concern's file reads its own variables, naming each with its default and its parsing in
//! the one call that reads it: [`database`], [`jwt`] (signing keys and access tokens),
//! [`sessions`] (refresh tokens), [`reset`] (password reset), [`verification`] (proven
//! addresses), [`email`], [`limits`] (request budgets), [`mfa`] (second-factor keys) and
//! [`webauthn`] (the passkeys' relying party); [`links`] is how emailed links are based.
//! Modules take only their own settings type, never the whole [`Config`].

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use secrecy::SecretString;

use crate::aws::Aws;

mod admin;
mod database;
mod email;
mod introspection;
mod jwt;
mod limits;
mod links;
mod mfa;
mod oidc;
mod reset;
mod retention;
mod sessions;
mod verification;
mod webauthn;

pub use admin::AdminSettings;
pub use database::{DatabaseConfig, DbTimeouts, DbTls, RuntimeRole, SecretSource};
pub use email::EmailTransport;
pub use introspection::{IntrospectionClient, IntrospectionSettings};
pub use jwt::JwtSettings;
pub use limits::RateLimits;
pub use links::LinkBase;
pub use mfa::{MfaKeyBytes, MfaSettings};
pub use oidc::{ApiPublicUrl, OidcProvider, OidcSettings, ResponseMode, provider_names};
pub use reset::ResetSettings;
pub use retention::{MIN_AUDIT_RETENTION_DAYS, Retention};
pub use sessions::SessionSettings;
pub use verification::VerificationSettings;
pub use webauthn::WebauthnSettings;

/// Every variable the API reads, as the loaders read them: each name is written once, in the
/// call that reads it. Every loader reads all of its variables before it decides anything, so
/// one load with only a database URL visits them all.
pub async fn variables() -> BTreeSet<&'static str> {
    let env = Environment::from_pairs([("DATABASE_URL", "postgres://localhost/any")]);
    // No ARN is set, so nothing is fetched; the outcome does not matter, the names read do.
    let _ = Config::load(&env, &Aws::from_environment()).await;
    // `migrate`'s own: the login role it prepares for the functions.
    let _ = RuntimeRole::load(&env, &Aws::from_environment()).await;
    env.names_read()
}

/// Everything the API needs; built once per cold start by [`Config::load`].
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub jwt: JwtSettings,
    pub sessions: SessionSettings,
    pub reset: ResetSettings,
    pub verification: VerificationSettings,
    pub email: EmailTransport,
    pub limits: RateLimits,
    pub retention: Retention,
    pub mfa: MfaSettings,
    pub webauthn: WebauthnSettings,
    pub oidc: OidcSettings,
    pub introspection: IntrospectionSettings,
    pub admin: AdminSettings,
}

impl Config {
    /// Reads and checks every variable, fetching the secrets named by `*_ARN` variables. The
    /// secrets are fetched at once, not one after the other: a function that reads two (the
    /// database's and the signing key) waits for the slower, not for both.
    pub async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let (database, jwt, verification, mfa, oidc, introspection) = tokio::try_join!(
            DatabaseConfig::load(env, aws),
            JwtSettings::load(env, aws),
            VerificationSettings::load(env, aws),
            MfaSettings::load(env, aws),
            OidcSettings::load(env, aws),
            IntrospectionSettings::load(env, aws),
        )?;
        Ok(Config {
            database,
            jwt,
            sessions: SessionSettings::load(env)?,
            reset: ResetSettings::load(env)?,
            verification,
            email: EmailTransport::load(env)?,
            limits: RateLimits::load(env)?,
            retention: Retention::load(env)?,
            mfa,
            webauthn: WebauthnSettings::load(env)?,
            oidc,
            introspection,
            admin: AdminSettings::load(env)?,
        })
    }
}

/// A configuration problem, naming the variable at fault; the process refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_owned(),
            problem: problem.into(),
        }
    }
}

/// The variables a configuration is read from: the process environment, or given pairs (tests).
///
/// Values are trimmed, and one pair of matching quotes around a value is removed (an env file
/// may quote its values); a value left empty counts as unset, so an env file may list a
/// variable without a value.
pub struct Environment {
    values: BTreeMap<String, String>,
    /// The names read so far (see [`variables`]).
    read: Mutex<BTreeSet<&'static str>>,
}

impl Environment {
    /// The process environment.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// Explicit `NAME=value` pairs; a later pair overrides an earlier one of the same name.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let values = pairs
            .into_iter()
            .map(|(name, value)| (name.as_ref().to_owned(), unquote(value.as_ref())))
            .collect();
        Environment {
            values,
            read: Mutex::default(),
        }
    }

    /// The names every load so far has read.
    pub fn names_read(&self) -> BTreeSet<&'static str> {
        self.read.lock().expect("names lock").clone()
    }

    /// A variable's value, `None` when unset or empty.
    fn text(&self, name: &'static str) -> Option<&str> {
        self.read.lock().expect("names lock").insert(name);
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A variable whose name is made at run time (`OIDC_<NAME>_ISSUER`, ...): documented as a
    /// pattern, so not counted among the names read. `None` when unset or empty.
    fn per_provider(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether a secret is read by ARN (`*_ARN`): that is AWS, where every secret comes from
    /// Secrets Manager; locally each is a plain variable. (Not `AWS_LAMBDA_FUNCTION_NAME`:
    /// `cargo lambda watch` sets it too, as the Lambda runtime requires it.) Not a setting, so
    /// not counted as read.
    fn reads_secrets_by_arn(&self) -> bool {
        self.values
            .iter()
            .any(|(name, value)| name.ends_with("_ARN") && !value.is_empty())
    }

    /// A text variable with a default.
    fn text_or(&self, name: &'static str, default: &str) -> String {
        self.text(name).unwrap_or(default).to_owned()
    }

    /// A variable that holds a secret: never shown in an error or a log.
    fn secret(&self, name: &'static str) -> Option<SecretString> {
        self.text(name).map(SecretString::from)
    }

    /// The names of the set (non-empty) variables that end with `suffix`, whichever they are.
    fn names_with_suffix<'a>(&'a self, suffix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.values
            .iter()
            .filter(move |(name, value)| name.ends_with(suffix) && !value.is_empty())
            .map(|(name, _)| name.as_str())
    }

    /// A value parsed as `T` (ports, pool sizes); `what` says what was expected.
    fn parsed<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.text(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| ConfigError::new(name, format!("must be {what}"))),
        }
    }

    /// Whole seconds as written, when set.
    fn whole_seconds(&self, name: &'static str) -> Result<Option<u64>, ConfigError> {
        self.text(name)
            .map(|text| {
                text.parse()
                    .map_err(|_| ConfigError::new(name, "must be a whole number of seconds"))
            })
            .transpose()
    }

    /// A duration in whole seconds, when set; 0 is refused: to PostgreSQL and to the budgets it
    /// would mean "no limit", the opposite of what was asked for.
    fn optional_seconds(&self, name: &'static str) -> Result<Option<Duration>, ConfigError> {
        match self.whole_seconds(name)? {
            Some(0) => Err(ConfigError::new(
                name,
                "must be a positive number of seconds",
            )),
            seconds => Ok(seconds.map(Duration::from_secs)),
        }
    }

    /// A positive duration in whole seconds, with a default.
    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        Ok(self
            .optional_seconds(name)?
            .unwrap_or(Duration::from_secs(default)))
    }

    /// A duration in whole seconds that may be 0.
    fn seconds_or_zero(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(
            self.whole_seconds(name)?.unwrap_or(default),
        ))
    }

    /// A yes/no switch: `true`/`false` (also `1`/`0`, `yes`/`no`), in any case.
    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.text(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(_) => Err(ConfigError::new(name, "must be true or false")),
        }
    }

    /// A count of at least 1.
    fn count(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        match self.parsed(name, default, "a whole number")? {
            0 => Err(ConfigError::new(name, "must be at least 1")),
            n => Ok(n),
        }
    }
}

/// The value without surrounding whitespace and one pair of matching quotes.
fn unquote(value: &str) -> String {
    let value = value.trim();
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    if quoted('"') || quoted('\'') {
        value[1..value.len() - 1].trim().to_owned()
    } else {
        value.to_owned()
    }
}

fn secret_problem(error: anyhow::Error) -> String {
    format!("could not be read from Secrets Manager: {error:#}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    pub(super) const SECRET: &str = "0123456789abcdef0123456789abcdef";
    pub(super) const DB: (&str, &str) = ("DATABASE_URL", "postgres://u:p@localhost/db");
    pub(super) const KEY: (&str, &str) = ("JWT_SECRET_KEY", SECRET);

    /// Loads from exactly these variables. No variable here names an ARN that is reached, so the
    /// SDK is never asked for anything.
    pub(super) async fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(
            &Environment::from_pairs(vars.iter().copied()),
            &Aws::from_environment(),
        )
        .await
    }

    /// [`variables`] sees every concern's variables, and no setting makes a loader read a
    /// variable it missed.
    #[tokio::test]
    async fn every_variable_is_read_whatever_the_settings() {
        let all = variables().await;
        for name in [
            "DB_SECRET_ARN",
            "DB_STATEMENT_TIMEOUT",
            "JWT_PREVIOUS_PUBLIC_KEYS",
            "ACCESS_TOKEN_TTL",
            "REFRESH_REUSE_GRACE",
            "RESET_URL",
            "EMAIL_FROM",
            "RESET_EMAIL_WINDOW",
        ] {
            assert!(all.contains(name), "{name} is missing from {all:?}");
        }
        for settings in [
            &[DB, KEY][..],
            &[DB, ("JWT_PRIVATE_KEY", crate::keys::tests::ED25519_A)],
            &[("DB_SECRET_ARN", "arn:x")],
            &[
                DB,
                ("EMAIL_TRANSPORT", "ses"),
                ("EMAIL_FROM", "a@example.com"),
            ],
            &[DB, ("RESET_URL", "ftp://x")],
        ] {
            let env = Environment::from_pairs(settings.iter().copied());
            let _ = Config::load(&env, &Aws::from_environment()).await;
            let read = env.names_read();
            assert!(read.is_subset(&all), "{settings:?}: {read:?}");
        }
    }

    #[tokio::test]
    async fn defaults_apply_when_only_required_variables_are_set() {
        let config = load(&[DB, KEY]).await.unwrap();
        assert_eq!(config.jwt.access_token_ttl, Duration::from_secs(900));
        assert_eq!(
            (config.jwt.issuer.as_str(), config.jwt.audience.as_str()),
            ("jwt-auth-api", "jwt-auth-api")
        );
        assert_eq!(
            config.sessions,
            SessionSettings {
                refresh_token_ttl: Duration::from_secs(604_800),
                max_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
                refresh_reuse_grace: Duration::from_secs(10),
            }
        );
        assert_eq!(
            config.reset,
            ResetSettings {
                token_ttl: Duration::from_secs(1800),
                url: LinkBase::Fixed("http://localhost:5001/reset-password".into()),
            }
        );
        assert_eq!(config.database.pool_size, 1);
        assert_eq!(config.database.tls, DbTls::Disable);
        assert_eq!(
            config.database.timeouts,
            DbTimeouts {
                connect: Duration::from_secs(3),
                statement: Duration::from_secs(5),
            }
        );
        assert_eq!(config.email, EmailTransport::Log);
        assert_eq!(config.limits, RateLimits::default());
    }

    #[tokio::test]
    async fn the_signing_key_is_optional_and_empty_values_count_as_unset() {
        let config = load(&[
            DB,
            ("JWT_SECRET_KEY", "  "),
            ("JWT_PRIVATE_KEY", ""),
            ("JWT_PREVIOUS_PUBLIC_KEYS", ""),
            ("EMAIL_FROM", ""),
            ("ACCESS_TOKEN_TTL", "\"\""),
        ])
        .await
        .unwrap();
        assert!(config.jwt.keys.is_none());
        assert_eq!(config.jwt.access_token_ttl, Duration::from_secs(900));
    }

    #[tokio::test]
    async fn values_are_trimmed_and_unquoted_as_an_env_file_writes_them() {
        let config = load(&[
            DB,
            KEY,
            ("ACCESS_TOKEN_TTL", " \"60\" "),
            ("JWT_ISSUER", "'issuer'"),
            ("JWT_AUDIENCE", "\"it's\""),
        ])
        .await
        .unwrap();
        assert_eq!(config.jwt.access_token_ttl, Duration::from_secs(60));
        assert_eq!(config.jwt.issuer, "issuer");
        assert_eq!(config.jwt.audience, "it's");
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
            (&[DB, KEY, ("REFRESH_TOKEN_TTL", "0")], "REFRESH_TOKEN_TTL"),
            (
                &[DB, KEY, ("REFRESH_REUSE_GRACE", "-1")],
                "REFRESH_REUSE_GRACE",
            ),
            (&[DB, KEY, ("RESET_TOKEN_TTL", "0")], "RESET_TOKEN_TTL"),
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
            (&[DB, KEY, ("EMAIL_TRANSPORT", "pop3")], "EMAIL_TRANSPORT"),
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
            assert_eq!(error.variable, *variable, "{vars:?}: {error}");
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

    #[tokio::test]
    async fn numeric_secrets_are_read_as_text() {
        let digits = "1".repeat(40);
        let config = load(&[DB, ("JWT_SECRET_KEY", &digits)]).await.unwrap();
        match config.jwt.keys {
            Some(crate::keys::JwtKeys::Hs256(secret)) => {
                assert_eq!(secret.expose_secret(), digits)
            }
            other => panic!("an HS256 secret, not {other:?}"),
        }
    }
}
