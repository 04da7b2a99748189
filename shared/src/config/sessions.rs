//! Sessions and their refresh tokens: `REFRESH_TOKEN_TTL`, `SESSION_MAX_LIFETIME` and
//! `REFRESH_REUSE_GRACE`.

use std::time::Duration;

use super::{ConfigError, Environment};

/// How long a session's refresh token lives, and how long a rotated one is still honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// `REFRESH_TOKEN_TTL` (a week by default): a session unused this long ends.
    pub refresh_token_ttl: Duration,
    /// `SESSION_MAX_LIFETIME` (30 days): a session ends this long after its sign-in, however
    /// often it is refreshed.
    pub max_lifetime: Duration,
    /// `REFRESH_REUSE_GRACE` (10 s): how long an already-rotated refresh token is still
    /// honoured (parallel tabs, retried requests); 0 switches the grace off.
    pub refresh_reuse_grace: Duration,
}

impl SessionSettings {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        Ok(SessionSettings {
            refresh_token_ttl: env.seconds("REFRESH_TOKEN_TTL", 604_800)?,
            max_lifetime: env.seconds("SESSION_MAX_LIFETIME", 2_592_000)?,
            refresh_reuse_grace: env.seconds_or_zero("REFRESH_REUSE_GRACE", 10)?,
        })
    }
}
