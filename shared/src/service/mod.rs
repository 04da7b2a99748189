//! The API's use cases: one method per endpoint on [`App`], the state built once per cold start.
//! Sign-in, sessions and password reset are here; proving addresses in [`verification`], the
//! signed-in user's own account (password, address, deletion) in [`account`], second factors in
//! [`mfa`] and passkeys in [`passkeys`].

mod account;
mod admin;
mod downstream;
mod mfa;
mod oauth;
mod passkeys;
mod verification;

pub use admin::{AdminCredentials, AuditPage, MfaResetDone, UserPage, UserView};
pub use downstream::LiveAccess;
pub use mfa::{Enrollment, MFA_TOKEN_TTL, MfaConfirmed, MfaProof};
pub use oauth::{AuthorizeRequest, Callback};
pub use passkeys::{MAX_PASSKEYS, PasskeyCeremony};
pub use verification::{EmailProof, SignedUp};

use deadpool_postgres::Pool;
use secrecy::SecretString;
use uuid::Uuid;

use crate::config::Config;
use crate::domain::{
    Assurance, AuthMethod, ClientInfo, Email, LogoutScope, NewPassword, Password, SessionId, User,
    UserName,
};
use crate::error::ApiError;
use crate::hashing::PasswordHashString;
use crate::mail::Mailer;
use crate::store::{
    self, Bucket, Budget, ChallengeOpening, Event, EventKind, Lockout, LockoutScopes, NewSession,
    Opened, OutboxEmail, PasskeyUse, ResetRequest, RevokeReason, Rotated, Rotation, SessionEnd,
    SessionSummary,
};
use crate::tokens::{
    AccessTokenSigner, CodeKey, OpaqueToken, SignedAccessToken, TokenHash, VerifiedAccess,
};
use crate::{db, emails, hashing};

/// Configuration, connection pool, signing keys and mailer: everything a request needs.
pub struct App {
    pub config: Config,
    pub pool: Pool,
    /// Present when the function was given keys (`JWT_PRIVATE_KEY`/`JWT_PRIVATE_KEY_ARN`, or
    /// `JWT_SECRET_KEY`/`JWT_SECRET_ARN` for HS256).
    tokens: Option<AccessTokenSigner>,
    /// Present when the function was given `VERIFICATION_CODE_KEY`.
    code_key: Option<CodeKey>,
    /// Present when the function was given `MFA_ENCRYPTION_KEY`.
    mfa_keys: Option<mfa::MfaKeys>,
    /// The passkeys' relying party (`WEBAUTHN_*`), which every configuration has.
    webauthn: webauthn_rs::Webauthn,
    /// The OpenID providers whose discovery worked: discovered on first use.
    providers: tokio::sync::OnceCell<crate::oidc::Providers>,
    pub mailer: Mailer,
}

/// A new access token and the refresh token that goes with it.
#[derive(Debug)]
pub struct TokenPair {
    pub access: SignedAccessToken,
    pub refresh: SecretString,
}

/// An account whose password was just proven: the user, the stored hash it matched, the
/// password itself (for a rehash) and the failure streaks the attempt was counted under (for the
/// success to clear).
struct Checked {
    user: User,
    hash: PasswordHashString,
    password: Password,
    scopes: LockoutScopes,
    disabled: bool,
}

/// How a sign-in proved who it is, for [`App::open_session_for`].
struct Opening<'a> {
    email: &'a Email,
    assurance: Assurance,
    /// Whose failure streaks the success clears, and which of them.
    scopes: &'a LockoutScopes,
    /// The device token presented, which the new one replaces.
    replaces_device: Option<&'a TokenHash>,
    /// A stronger hash of the password just verified, in place of `(old, new)`.
    rehash: Option<(&'a PasswordHashString, &'a PasswordHashString)>,
    /// The passkey that proved it, stored with its new counter by the same statement.
    passkey_use: Option<PasskeyUse<'a>>,
}

/// What the right password earns: a session, or, for an account with TOTP on, the second step.
#[derive(Debug)]
pub enum SigninOutcome {
    SignedIn(SignedIn),
    /// No session yet: the `mfa_token` to come back to `/api/mfa/verify` with.
    SecondFactor {
        mfa_token: SecretString,
    },
}

/// A successful sign-in: the account, its tokens, and the device token that exempts this client
/// from the lockout others cause on the account's next sign-in.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub tokens: TokenPair,
    pub device_token: SecretString,
}

impl App {
    /// Builds the state from configuration; connections are opened lazily, on first use.
    pub fn new(config: Config, mailer: Mailer) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database)?;
        let tokens = AccessTokenSigner::new(&config.jwt);
        let code_key = config.verification.code_key.clone().map(CodeKey::new);
        let mfa_keys = mfa::MfaKeys::from_settings(&config.mfa);
        let webauthn = passkeys::relying_party(&config.webauthn)?;
        Ok(App {
            config,
            pool,
            tokens,
            code_key,
            mfa_keys,
            webauthn,
            providers: tokio::sync::OnceCell::new(),
            mailer,
        })
    }

    /// The signing keys. Functions that issue or check tokens refuse to start without them (see
    /// [`crate::lambda::run`]), so reaching the error here means a wiring mistake.
    pub fn tokens(&self) -> Result<&AccessTokenSigner, ApiError> {
        self.tokens.as_ref().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "this function has no JWT signing key configured"
            ))
        })
    }

    /// The key of the emailed codes. Functions that make or check codes refuse to start without
    /// it (see [`crate::lambda::run`]), so reaching the error here means a wiring mistake.
    fn code_key(&self) -> Result<&CodeKey, ApiError> {
        self.code_key.as_ref().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "this function has no VERIFICATION_CODE_KEY configured"
            ))
        })
    }

    /// Counts a sign-up against the client IP's budget, before any hashing: `rate_limited` once
    /// it is spent. Both sign-up paths (with and without address verification) spend it alike.
    async fn spend_signup_budget(
        &self,
        db: &impl deadpool_postgres::GenericClient,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let limits = &self.config.limits;
        store::count_request(
            db,
            Bucket::SignupIp,
            &client.rate_limit_subject(),
            limits.ip_window,
        )
        .await?
        .check(limits.signup_per_ip)
    }

    /// Delivers emails a request queued, when requests deliver their own (the log); others wait
    /// in the outbox for the janitor, so that no answer is slower for a known address.
    async fn deliver_in_request(
        &self,
        db: &impl deadpool_postgres::GenericClient,
        queued: &[OutboxEmail],
    ) {
        if self.mailer.delivers_in_request() {
            for email in queued {
                self.mailer.deliver(db, email).await;
            }
        }
    }

    /// Creates an account at once, without proving its address (`REQUIRE_EMAIL_VERIFICATION=false`,
    /// the original API: an address that has an account is 409 `email_taken`). The client's
    /// budget is checked before the (costly) hash; the password is hashed before the insert, so a
    /// duplicate email costs the same time as a new one.
    async fn signup_unverified(
        &self,
        name: UserName,
        email: Email,
        password: NewPassword,
        client: &ClientInfo,
    ) -> Result<User, ApiError> {
        let mut db = self.pool.get().await?;
        self.spend_signup_budget(&db, client).await?;
        let hash = hashing::hash(password.into_password()).await?;
        let transaction = db.transaction().await?;
        let user = store::insert_user(&transaction, &name, &email, &hash).await?;
        store::record_event(
            &transaction,
            &Event::user(EventKind::Signup, user.id, None, client),
        )
        .await?;
        transaction.commit().await?;
        Ok(user)
    }

    /// Checks credentials and opens a session, in two statements. Unknown email and wrong
    /// password are the same error after the same work (one Argon2 verification, the same
    /// statements); a client over its budget or an email locked out is refused before any hashing.
    /// A device token from this account's earlier sign-in exempts the client from the locks that
    /// other clients caused. The lockout rule is the database's (see [`store::begin_signin`]).
    /// An account with TOTP on gets no session yet: the second statement opens the second step
    /// instead (see [`App::mfa_verify`]).
    pub async fn signin(
        &self,
        email: Email,
        password: Password,
        device: Option<&SecretString>,
        client: &ClientInfo,
    ) -> Result<SigninOutcome, ApiError> {
        let db = self.pool.get().await?;
        let presented = device.map(TokenHash::of);
        let Checked {
            user,
            hash,
            password,
            scopes,
            disabled,
        } = self
            .check_password(&db, &email, password, presented.as_ref(), client)
            .await?;
        // Told only to whoever proved to own it, as an unconfirmed address is below.
        if disabled {
            store::refuse_signin(
                &db,
                user.id,
                &email,
                &scopes,
                EventKind::SigninDisabled,
                client,
            )
            .await?;
            return Err(ApiError::AccountDisabled);
        }
        // Proven by the password, refused until proven by the address (and only then: to someone
        // without the password this answer never differs from a wrong one's).
        if self.config.verification.required && !user.email_verified {
            store::refuse_signin(
                &db,
                user.id,
                &email,
                &scopes,
                EventKind::SigninUnverified,
                client,
            )
            .await?;
            return Err(ApiError::EmailNotVerified);
        }
        // A hash made with weaker parameters than today's is replaced while the password is at
        // hand: one more Argon2 run, once per such account.
        let rehashed = match hashing::needs_rehash(&hash) {
            true => Some(hashing::hash(password).await?),
            false => None,
        };
        if user.mfa_enabled {
            let challenge = OpaqueToken::generate()?;
            store::challenge_second_factor(
                &db,
                &ChallengeOpening {
                    user: user.id,
                    token: &challenge.hash,
                    ttl: MFA_TOKEN_TTL,
                    email: email.digest(),
                    scopes: &scopes,
                    replaces_device: presented.as_ref(),
                    rehash: rehashed.as_ref().map(|new| (&hash, new)),
                    first_factor: AuthMethod::Pwd,
                    idp: None,
                    client,
                },
            )
            .await?;
            return Ok(SigninOutcome::SecondFactor {
                mfa_token: challenge.plaintext,
            });
        }
        let (tokens, device_token) = self
            .open_session_for(
                &db,
                &user,
                Opening {
                    email: &email,
                    assurance: Assurance::password(),
                    scopes: &scopes,
                    replaces_device: presented.as_ref(),
                    rehash: rehashed.as_ref().map(|new| (&hash, new)),
                    passkey_use: None,
                },
                client,
            )
            .await?;
        Ok(SigninOutcome::SignedIn(SignedIn {
            user,
            tokens,
            device_token,
        }))
    }

    /// Opens the session of a proven sign-in (a password, a passkey, a provider): a new id,
    /// refresh and device tokens, the access token, and the one statement that keeps them (see
    /// [`store::open_session`]). Returns the tokens and the device token.
    async fn open_session_for(
        &self,
        db: &impl deadpool_postgres::GenericClient,
        user: &User,
        opening: Opening<'_>,
        client: &ClientInfo,
    ) -> Result<(TokenPair, SecretString), ApiError> {
        let session_id = Uuid::new_v4();
        let refresh = OpaqueToken::generate()?;
        let device = OpaqueToken::generate()?;
        let access =
            self.tokens()?
                .issue(user.id, session_id, user.email_verified, &opening.assurance)?;
        let opened = store::open_session(
            db,
            &NewSession {
                id: session_id,
                user_id: user.id,
                refresh_token: &refresh.hash,
                ttl: self.config.sessions.refresh_token_ttl,
                max_lifetime: self.config.sessions.max_lifetime,
                email: opening.email.digest(),
                scopes: opening.scopes,
                device: &device.hash,
                replaces_device: opening.replaces_device,
                client,
                rehash: opening.rehash,
                assurance: &opening.assurance,
                second_factor: None,
                passkey_use: opening.passkey_use,
            },
        )
        .await?;
        if opened != (Opened::Session { codes_left: None }) {
            // Only a passkey's counter refuses here: between our read and this write, a sign-in
            // with a counter as high or higher was stored (the library's check, made atomic).
            tracing::warn!(user_id = %user.id.as_uuid(),
                "passkey signature counter did not advance past a concurrent sign-in's; refused");
            return Err(ApiError::InvalidPasskey);
        }
        Ok((
            TokenPair {
                access,
                refresh: refresh.plaintext,
            },
            device.plaintext,
        ))
    }

    /// Checks a password as sign-in does, under the same lockout: the attempt is admitted before
    /// the hash is verified (refused without any hashing when a streak it counts under is locked
    /// or the client over its budget), and a wrong password, or an address without an account,
    /// is counted and recorded as a failure and answered `invalid_credentials` after the same
    /// work. The first of two statements: the caller's next one clears the attempt's streaks on
    /// success.
    async fn check_password(
        &self,
        db: &impl deadpool_postgres::GenericClient,
        email: &Email,
        password: Password,
        device: Option<&TokenHash>,
        client: &ClientInfo,
    ) -> Result<Checked, ApiError> {
        let limits = &self.config.limits;
        let ip_budget = Budget {
            requests: limits.signin_per_ip,
            window: limits.ip_window,
        };
        let attempt = store::begin_signin(db, client, ip_budget, email, device).await?;
        match attempt.lockout {
            // Not counted: the client is over its IP budget.
            None => {
                return Err(ApiError::RateLimited(store::whole_seconds(
                    attempt.ip.resets_in,
                )));
            }
            Some(Lockout::Locked { seconds }) => {
                return Err(ApiError::TooManyAttempts(store::whole_seconds(seconds)));
            }
            Some(Lockout::Admitted) => {}
        }
        let (user, hash) = attempt.account.unzip();
        let verified = hashing::verify(password.clone(), hash.clone()).await?;
        match (user, hash) {
            (Some(user), Some(hash)) if verified => Ok(Checked {
                user,
                hash,
                password,
                scopes: attempt.scopes,
                disabled: attempt.disabled,
            }),
            (user, _) => {
                store::record_signin_failure(
                    db,
                    &email.digest(),
                    &attempt.scopes,
                    user.map(|u| u.id),
                    client,
                )
                .await?;
                Err(ApiError::InvalidCredentials)
            }
        }
    }

    /// Rotates a refresh token. A token already rotated within the grace window is honoured
    /// (parallel tabs, retried requests); later, its reuse means it was stolen, and the whole
    /// session is ended so the thief's and the victim's tokens all stop working.
    pub async fn refresh(
        &self,
        presented: &SecretString,
        client: &ClientInfo,
    ) -> Result<TokenPair, ApiError> {
        let tokens = self.tokens()?;
        let refresh = OpaqueToken::generate()?;
        let rotation = Rotation {
            presented: &TokenHash::of(presented),
            replacement: &refresh.hash,
            ttl: self.config.sessions.refresh_token_ttl,
            reuse_grace: self.config.sessions.refresh_reuse_grace,
            client,
        };
        let db = self.pool.get().await?;
        match store::rotate_refresh_token(&db, &rotation).await? {
            Rotated::Issued {
                session_id,
                user_id,
                email_verified,
                assurance,
            } => Ok(TokenPair {
                access: tokens.issue(user_id, session_id, email_verified, &assurance)?,
                refresh: refresh.plaintext,
            }),
            Rotated::Reused { session_id, .. } => {
                tracing::warn!(%session_id, "refresh token reused after rotation; session revoked");
                Err(ApiError::InvalidToken)
            }
            Rotated::Refused => Err(ApiError::InvalidToken),
        }
    }

    /// Verifies an access token against its signature and its live session.
    pub async fn authenticate(
        &self,
        token: &SecretString,
    ) -> Result<(VerifiedAccess, User), ApiError> {
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

    /// Ends the token's session (or, with the global scope, every session of its user): the
    /// access token is revoked, and refresh tokens die with their sessions.
    pub async fn logout(
        &self,
        token: &SecretString,
        scope: LogoutScope,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let claims = self.tokens()?.verify(token)?;
        let (reason, event) = match scope {
            LogoutScope::Local => (RevokeReason::Logout, EventKind::Logout),
            LogoutScope::Global => (RevokeReason::LogoutGlobal, EventKind::LogoutGlobal),
        };
        let end = SessionEnd {
            session_id: claims.session_id,
            user_id: claims.user_id,
            reason,
            everywhere: scope == LogoutScope::Global,
            access_token: Some((claims.jti, claims.expires_at)),
            event,
            client,
        };
        let db = self.pool.get().await?;
        if !store::end_session(&db, &end).await? {
            return Err(ApiError::InvalidToken);
        }
        Ok(())
    }

    /// The caller's live sessions, theirs marked `current`.
    pub async fn sessions(&self, token: &SecretString) -> Result<Vec<SessionSummary>, ApiError> {
        let (claims, user) = self.authenticate(token).await?;
        let db = self.pool.get().await?;
        store::list_sessions(&db, user.id, claims.session_id).await
    }

    /// Ends one of the caller's live sessions (the current one included: that is a logout).
    /// Another user's session, an ended one and an unknown id are all `session_not_found`.
    pub async fn end_session(
        &self,
        token: &SecretString,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let end = SessionEnd {
            session_id: session.as_uuid(),
            user_id: user.id,
            reason: RevokeReason::EndedByUser,
            everywhere: false,
            access_token: None,
            event: EventKind::SessionEnded,
            client,
        };
        let db = self.pool.get().await?;
        if !store::end_session(&db, &end).await? {
            return Err(ApiError::SessionNotFound);
        }
        Ok(())
    }

    /// Queues a reset email when the account exists and the address's email budget allows;
    /// says nothing either way. Known and unknown emails take the same path: the token and email
    /// are prepared first, then one statement decides (see [`store::queue_password_reset`]).
    /// The link is `<reset_base>/<token>`.
    pub async fn forgot_password(
        &self,
        email: Email,
        reset_base: &str,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let token = OpaqueToken::generate()?;
        let message = emails::reset(reset_base, &token.plaintext, self.config.reset.token_ttl);
        let limits = &self.config.limits;
        let db = self.pool.get().await?;
        let queued = store::queue_password_reset(
            &db,
            &ResetRequest {
                email: &email,
                token: &token.hash,
                ttl: self.config.reset.token_ttl,
                subject: message.subject,
                body: &message.body,
                client,
                ip_budget: Budget {
                    requests: limits.forgot_password_per_ip,
                    window: limits.ip_window,
                },
                email_budget: Budget {
                    requests: limits.reset_emails_per_email,
                    window: limits.reset_email_window,
                },
            },
        )
        .await?;
        queued.ip.check(limits.forgot_password_per_ip)?;
        // SES emails are left to the janitor: sending here would make a known email's answer
        // slower than an unknown one's by a network round trip, telling which accounts exist.
        if let Some(email) = queued.email
            && self.mailer.delivers_in_request()
        {
            self.mailer.deliver(&db, &email).await;
        }
        Ok(())
    }

    /// Sets a new password with a reset token, once. The token is checked before hashing (junk
    /// tokens cost nothing) and yields the account's email, against which the password is then
    /// checked; a refused password leaves the token unused. The token is then consumed atomically
    /// with the password change, and every session of the user is ended.
    pub async fn reset_password(
        &self,
        token: &SecretString,
        password: Password,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let hash = TokenHash::of(token);
        let mut db = self.pool.get().await?;
        let email = store::usable_reset_token_email(&db, &hash)
            .await?
            .ok_or(ApiError::InvalidResetToken)?;
        let password = NewPassword::for_account(password, &email)?;
        let password_hash = hashing::hash(password.into_password()).await?;
        let transaction = db.transaction().await?;
        store::lock_reset_token_owner(&transaction, &hash)
            .await?
            .ok_or(ApiError::InvalidResetToken)?;
        let user_id = store::consume_reset_token(&transaction, &hash)
            .await?
            .ok_or(ApiError::InvalidResetToken)?;
        store::update_password(&transaction, user_id, &email.digest(), &password_hash).await?;
        store::revoke_all_sessions(&transaction, user_id, RevokeReason::PasswordReset).await?;
        store::record_event(
            &transaction,
            &Event::user(EventKind::PasswordResetCompleted, user_id, None, client),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }
}
