//! For the APIs behind us: whether an access token is good right now, revocation included — what
//! the Lambda authorizer answers API Gateway (and token introspection will answer services that
//! cannot sit behind it).

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::App;
use crate::error::ApiError;
use crate::store;
use crate::tokens::VerifiedAccess;

/// An access token that is good right now: its claims as signed, and whether the account's
/// address is proven today (it may have been proven since the token was issued).
#[derive(Debug, Clone)]
pub struct LiveAccess {
    pub claims: VerifiedAccess,
    pub email_verified: bool,
}

impl App {
    /// The access token checked as our own endpoints check it (signature with the key ring,
    /// `typ`, `iss`, `aud`, `exp`), then, in one statement, live: its session not ended, its
    /// `jti` not revoked, its account there and not disabled. `Ok(None)` for any token that is not
    /// good right now; `Err` only when the database could not answer (the authorizer then
    /// refuses, introspection answers 503).
    pub async fn live_access(&self, token: &SecretString) -> Result<Option<LiveAccess>, ApiError> {
        let Ok(claims) = self.tokens()?.verify(token) else {
            return Ok(None);
        };
        let db = self.pool.get().await?;
        let live =
            store::access_is_live(&db, claims.user_id, claims.session_id, claims.jti).await?;
        Ok(live.map(|email_verified| LiveAccess {
            claims,
            email_verified,
        }))
    }
}

impl App {
    /// `POST /api/introspect` (RFC 7662): the caller must be one of `INTROSPECTION_CLIENTS`
    /// (`invalid_client` otherwise; each configured secret is compared, in constant time, by
    /// its SHA-256, so neither which client nor how much of a secret matched shows in the
    /// timing); then the token is [`App::live_access`]'s answer — one statement.
    pub async fn introspect(
        &self,
        client: Option<(String, SecretString)>,
        token: &SecretString,
    ) -> Result<Option<LiveAccess>, ApiError> {
        let (id, secret) = client.ok_or(ApiError::InvalidClient)?;
        let presented = Sha256::digest(secret.expose_secret().as_bytes());
        let presented_id = Sha256::digest(id.as_bytes());
        let known = self.config.introspection.clients.iter().fold(
            subtle::Choice::from(0),
            |known, client| {
                let id = Sha256::digest(client.id.as_bytes()).ct_eq(&presented_id);
                let secret =
                    Sha256::digest(client.secret.expose_secret().as_bytes()).ct_eq(&presented);
                known | (id & secret)
            },
        );
        if !bool::from(known) {
            tracing::warn!(client_id = %id, "introspection refused: unknown client or wrong secret");
            return Err(ApiError::InvalidClient);
        }
        self.live_access(token).await
    }
}
