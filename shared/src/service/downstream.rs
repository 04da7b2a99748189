//! For the APIs behind us: whether an access token is good right now, revocation included — what
//! the Lambda authorizer answers API Gateway (and token introspection will answer services that
//! cannot sit behind it).

use secrecy::SecretString;

use super::App;
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
    /// `jti` not revoked, its account there and not disabled. `None` for anything else — never an
    /// error: a database that cannot answer is logged and answers `None` too, so a downstream API
    /// fails closed.
    pub async fn live_access(&self, token: &SecretString) -> Option<LiveAccess> {
        let claims = self.tokens().ok()?.verify(token).ok()?;
        let db = match self.pool.get().await {
            Ok(db) => db,
            Err(error) => {
                tracing::error!(error = %error, "no database connection: the token is refused");
                return None;
            }
        };
        match store::access_is_live(&db, claims.user_id, claims.session_id, claims.jti).await {
            Ok(live) => live.map(|email_verified| LiveAccess {
                claims,
                email_verified,
            }),
            Err(error) => {
                tracing::error!(error = %error, "the liveness check failed: the token is refused");
                None
            }
        }
    }
}
