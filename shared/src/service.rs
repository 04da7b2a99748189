//! The API's use cases: one method per endpoint on [`App`], the state built once per cold start.

use deadpool_postgres::Pool;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::{Email, Password, User, UserName};
use crate::error::ApiError;
use crate::mail::Mailer;
use crate::store::{self, RevokeReason};
use crate::tokens::{AccessToken, AccessTokens, IssuedAccessToken, OpaqueToken, TokenHash};
use crate::{db, hashing};

/// Configuration, connection pool, signing keys and mailer: everything a request needs.
pub struct App {
    pub config: Config,
    pub pool: Pool,
    /// Present when the function was given keys (`JWT_PRIVATE_KEY`/`JWT_PRIVATE_KEY_ARN`, or
    /// `JWT_SECRET_KEY`/`JWT_SECRET_ARN` for HS256).
    tokens: Option<AccessTokens>,
    pub mailer: Mailer,
}

/// A new access token and the refresh token that goes with it.
#[derive(Debug)]
pub struct TokenPair {
    pub access: IssuedAccessToken,
    pub refresh: SecretString,
}

/// Subject line of the password-reset email.
pub const RESET_EMAIL_SUBJECT: &str = "Reset your password";

impl App {
    /// Builds the state from configuration; connections are opened lazily, on first use.
    pub fn new(config: Config, mailer: Mailer) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database)?;
        let tokens = config
            .jwt_keys
            .as_ref()
            .map(|keys| AccessTokens::new(&config, keys));
        Ok(App {
            config,
            pool,
            tokens,
            mailer,
        })
    }

    /// The signing keys. Functions that issue or check tokens refuse to start without them (see
    /// [`crate::lambda::run`]), so reaching the error here means a wiring mistake.
    pub fn tokens(&self) -> Result<&AccessTokens, ApiError> {
        self.tokens.as_ref().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "this function has no JWT signing key configured"
            ))
        })
    }

    /// Creates an account. The password is hashed before the insert, so a duplicate email costs
    /// the same time as a new one.
    pub async fn signup(
        &self,
        name: UserName,
        email: Email,
        password: Password,
    ) -> Result<User, ApiError> {
        let hash = hashing::hash(password).await?;
        let client = self.pool.get().await?;
        store::insert_user(&client, &name, &email, &hash).await
    }

    /// Checks credentials and opens a session. Unknown email and wrong password are the same
    /// error after the same work: one Argon2 verification either way.
    pub async fn signin(
        &self,
        email: Email,
        password: Password,
    ) -> Result<(User, TokenPair), ApiError> {
        let mut client = self.pool.get().await?;
        let (user, hash) = store::find_credentials(&client, &email).await?.unzip();
        let verified = hashing::verify(password, hash).await?;
        let user = match user {
            Some(user) if verified => user,
            _ => return Err(ApiError::InvalidCredentials),
        };
        let session_id = Uuid::new_v4();
        let refresh = OpaqueToken::generate()?;
        let access = self.tokens()?.issue(user.id, session_id)?;
        let transaction = client.transaction().await?;
        store::insert_session(
            &transaction,
            session_id,
            user.id,
            self.config.refresh_token_ttl,
        )
        .await?;
        store::insert_refresh_token(
            &transaction,
            &refresh.hash,
            session_id,
            self.config.refresh_token_ttl,
        )
        .await?;
        transaction.commit().await?;
        Ok((
            user,
            TokenPair {
                access,
                refresh: refresh.plaintext,
            },
        ))
    }

    /// Rotates a refresh token. A token already rotated within the grace window is honoured
    /// (parallel tabs, retried requests); later, its reuse means it was stolen, and the whole
    /// session is ended so the thief's and the victim's tokens all stop working.
    pub async fn refresh(&self, presented: &SecretString) -> Result<TokenPair, ApiError> {
        let hash = TokenHash::of(presented);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let Some(state) =
            store::lock_refresh_token(&transaction, &hash, self.config.refresh_reuse_grace).await?
        else {
            return Err(ApiError::InvalidToken);
        };
        if state.dead {
            return Err(ApiError::InvalidToken);
        }
        match state.rotated_within_grace {
            None => store::mark_refresh_token_used(&transaction, &hash).await?,
            Some(true) => {}
            Some(false) => {
                store::revoke_session(
                    &transaction,
                    state.session_id,
                    state.user_id,
                    RevokeReason::RefreshTokenReuse,
                )
                .await?;
                transaction.commit().await?;
                tracing::warn!(session_id = %state.session_id, "refresh token reused after rotation; session revoked");
                return Err(ApiError::InvalidToken);
            }
        }
        let refresh = OpaqueToken::generate()?;
        store::insert_refresh_token(
            &transaction,
            &refresh.hash,
            state.session_id,
            self.config.refresh_token_ttl,
        )
        .await?;
        let access = self.tokens()?.issue(state.user_id, state.session_id)?;
        transaction.commit().await?;
        Ok(TokenPair {
            access,
            refresh: refresh.plaintext,
        })
    }

    /// Verifies an access token against its signature and its live session.
    pub async fn authenticate(
        &self,
        token: &SecretString,
    ) -> Result<(AccessToken, User), ApiError> {
        let claims = self.tokens()?.verify(token)?;
        let client = self.pool.get().await?;
        let user = store::live_session_user(&client, claims.user_id, claims.session_id, claims.jti)
            .await?
            .ok_or(ApiError::InvalidToken)?;
        Ok((claims, user))
    }

    /// The user behind a valid access token of a live session.
    pub async fn dashboard(&self, token: &SecretString) -> Result<User, ApiError> {
        self.authenticate(token).await.map(|(_, user)| user)
    }

    /// Ends the token's session: the access token is revoked, and the session's refresh tokens
    /// die with the session.
    pub async fn logout(&self, token: &SecretString) -> Result<(), ApiError> {
        let claims = self.tokens()?.verify(token)?;
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let ended = store::revoke_session(
            &transaction,
            claims.session_id,
            claims.user_id,
            RevokeReason::Logout,
        )
        .await?;
        if !ended {
            return Err(ApiError::InvalidToken);
        }
        store::revoke_access_token(
            &transaction,
            claims.jti,
            claims.session_id,
            claims.expires_at,
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Queues a reset email when the account exists; says nothing either way. The link is
    /// `<reset_base>/<token>`.
    pub async fn forgot_password(&self, email: Email, reset_base: &str) -> Result<(), ApiError> {
        let mut client = self.pool.get().await?;
        let Some(user_id) = store::find_user_id(&client, &email).await? else {
            tracing::info!("password reset requested for an unknown email");
            return Ok(());
        };
        let token = OpaqueToken::generate()?;
        let link = format!("{reset_base}/{}", token.plaintext.expose_secret());
        let minutes = self.config.reset_token_ttl.as_secs().div_ceil(60);
        let body = format!(
            "Someone asked to reset the password of your account.\n\n\
             Open this link within {minutes} minutes to choose a new password:\n\n{link}\n\n\
             If it was not you, ignore this email: your password stays as it is."
        );
        let transaction = client.transaction().await?;
        store::insert_reset_token(
            &transaction,
            &token.hash,
            user_id,
            self.config.reset_token_ttl,
        )
        .await?;
        let queued =
            store::insert_outbox_email(&transaction, &email, RESET_EMAIL_SUBJECT, &body).await?;
        transaction.commit().await?;
        // Committed first: a failed send leaves the row for the janitor and changes no answer.
        self.mailer.deliver(&client, &queued).await;
        Ok(())
    }

    /// Sets a new password with a reset token, once. The token is checked before hashing (junk
    /// tokens cost nothing), then consumed atomically with the password change, and every session
    /// of the user is ended.
    pub async fn reset_password(
        &self,
        token: &SecretString,
        password: Password,
    ) -> Result<(), ApiError> {
        let hash = TokenHash::of(token);
        let mut client = self.pool.get().await?;
        if !store::reset_token_is_usable(&client, &hash).await? {
            return Err(ApiError::InvalidResetToken);
        }
        let password_hash = hashing::hash(password).await?;
        let transaction = client.transaction().await?;
        store::lock_reset_token_owner(&transaction, &hash)
            .await?
            .ok_or(ApiError::InvalidResetToken)?;
        let user_id = store::consume_reset_token(&transaction, &hash)
            .await?
            .ok_or(ApiError::InvalidResetToken)?;
        store::update_password(&transaction, user_id, &password_hash).await?;
        store::revoke_all_sessions(&transaction, user_id, RevokeReason::PasswordReset).await?;
        transaction.commit().await?;
        Ok(())
    }
}
