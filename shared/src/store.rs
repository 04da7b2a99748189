//! Storage: plain async functions holding all of the API's SQL, each taking `&impl GenericClient`
//! so it runs on a pooled connection or inside a transaction alike.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::{Email, EmailDigest, User, UserId, UserName};
use crate::error::ApiError;
use crate::hashing::PasswordHashString;
use crate::tokens::TokenHash;

mod admin;
mod audit;
mod mfa;
mod oauth;
mod passkeys;
mod password_reset;
mod refresh;
mod sessions;
mod throttling;
mod verification;

pub use admin::{
    AdminCall, AdminSession, AuditEntry, MfaReset, UserProfile, UserSummary, audit_events,
    enable_user, end_sessions_for_admin, list_users, live_sessions, lock_user_email, mark_disabled,
    reset_mfa, view_user,
};
pub use audit::{Event, EventKind, record_event};
pub use mfa::{
    Challenge, ChallengeOpening, MAX_WRONG_MFA_CODES, MfaFailure, MfaStatus, TotpConfirmation,
    WrongCode, accept_totp_step, challenge_second_factor, confirm_totp, count_mfa_failure,
    disable_totp, mfa_challenge, mfa_locked_for, mfa_status, notify_owner, record_wrong_mfa_code,
    replace_recovery_codes, save_pending_totp, totp_of,
};
pub use oauth::{
    IdentitySummary, Linked, OAuthFlow, OAuthGrant, ProviderSubject, TakenCode, Unlinked,
    begin_oauth_flow, issue_oauth_code, link_identity, list_identities, take_oauth_code,
    take_oauth_flow, unlink_identity,
};
pub use passkeys::{
    Added, CeremonyKind, NewPasskey, PasskeyRemoval, PasskeySummary, Removed, SigninCeremony,
    SigninPasskey, add_passkey, delete_passkey, list_passkeys, passkey_count,
    passkey_credential_ids, save_ceremony, take_ceremony, take_signin_ceremony,
};
pub use password_reset::{ResetQueued, ResetRequest, queue_password_reset};
pub use refresh::{Rotated, Rotation, rotate_refresh_token};
pub use sessions::{
    NewSession, Opened, PasskeyUse, SecondFactor, SessionEnd, SessionSummary, end_session,
    list_sessions, open_session,
};
pub use throttling::{
    Bucket, Budget, Lockout, LockoutScopes, RequestCount, SigninAttempt, begin_signin,
    count_request, record_signin_failure, whole_seconds,
};
pub use verification::{
    AccountDeletion, Confirmation, Confirmed, EmailChange, MAX_WRONG_CODES, PasswordChange, Proof,
    Queued, Registration, Resend, change_password, confirm, delete_account, prune_unconfirmed,
    refuse_signin, register, request_email_change, resend,
};

type Result<T> = std::result::Result<T, ApiError>;

/// Name of the unique index on `users.email` (see the first migration).
pub(super) const USERS_EMAIL_KEY: &str = "users_email_key";

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// A user from a row with `id`, `name`, `email`, `email_verified` and `mfa_enabled` (the SQL of
/// each reader selects `email_verified_at IS NOT NULL AS email_verified` and [`MFA_ENABLED`]).
fn user_from(row: &Row) -> User {
    User {
        id: UserId::from_uuid(row.get("id")),
        name: row.get("name"),
        email: row.get("email"),
        email_verified: row.get("email_verified"),
        mfa_enabled: row.get("mfa_enabled"),
    }
}

/// `to_char` of a timestamp column as RFC 3339 in UTC, as the sessions list writes them.
macro_rules! rfc3339 {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    };
}
pub(crate) use rfc3339;

/// Locks the account's row until the transaction ends (the caller's next statement counts what
/// hangs from the account, and another transaction must not change that meanwhile); false when
/// there is no such account.
pub(crate) async fn lock_account(client: &impl GenericClient, user: UserId) -> Result<bool> {
    let lock = client
        .prepare_cached("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .await?;
    Ok(client.query_opt(&lock, &[&user.as_uuid()]).await?.is_some())
}

/// Inserts a user; an existing email (in any case) is `email_taken`.
pub async fn insert_user(
    client: &impl GenericClient,
    name: &UserName,
    email: &Email,
    password_hash: &PasswordHashString,
) -> Result<User> {
    let statement = client
        .prepare_cached(
            "INSERT INTO users (name, email, password_hash) VALUES ($1, $2, $3)
             RETURNING id, name, email, email_verified_at IS NOT NULL AS email_verified,
                       false AS mfa_enabled",
        )
        .await?;
    match client
        .query_one(
            &statement,
            &[&name.as_str(), &email.as_str(), &password_hash.as_str()],
        )
        .await
    {
        Ok(row) => Ok(user_from(&row)),
        Err(e) if crate::db::is_unique_violation(&e, USERS_EMAIL_KEY) => Err(ApiError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// Why a session ended; stored for audit.
#[derive(Debug, Clone, Copy)]
pub enum RevokeReason {
    Logout,
    /// `POST /api/logout` with `{"scope": "global"}`: every session of the user.
    LogoutGlobal,
    /// `DELETE /api/sessions/{id}`.
    EndedByUser,
    RefreshTokenReuse,
    PasswordReset,
}

impl RevokeReason {
    fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::LogoutGlobal => "logout_global",
            RevokeReason::EndedByUser => "ended_by_user",
            RevokeReason::RefreshTokenReuse => "refresh_token_reuse",
            RevokeReason::PasswordReset => "password_reset",
        }
    }
}

/// Ends every live session of a user.
pub async fn revoke_all_sessions(
    client: &impl GenericClient,
    user_id: UserId,
    reason: RevokeReason,
) -> Result<u64> {
    let statement = client
        .prepare_cached(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = $2
             WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .await?;
    Ok(client
        .execute(&statement, &[&user_id.as_uuid(), &reason.as_str()])
        .await?)
}

/// The user behind an access token, provided its session is live and the token not revoked:
/// one round trip for the whole check.
pub async fn live_session_user(
    client: &impl GenericClient,
    user_id: UserId,
    session_id: Uuid,
    jti: Uuid,
) -> Result<Option<User>> {
    let statement = client
        .prepare_cached(
            "SELECT u.id, u.name, u.email, u.email_verified_at IS NOT NULL AS email_verified,
                    u.mfa_enabled
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
               AND u.disabled_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = $3)",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&session_id, &user_id.as_uuid(), &jti])
        .await?;
    Ok(row.as_ref().map(user_from))
}

/// Whether a verified access token is still good for the APIs behind us (the Lambda authorizer,
/// introspection): the same one statement and rule as [`live_session_user`] — session live,
/// `jti` not revoked, account there and not disabled; `Some(email_verified)` as the account has
/// it now, `None` otherwise.
pub async fn access_is_live(
    client: &impl GenericClient,
    user_id: UserId,
    session_id: Uuid,
    jti: Uuid,
) -> Result<Option<bool>> {
    Ok(live_session_user(client, user_id, session_id, jti)
        .await?
        .map(|user| user.email_verified))
}

/// An email in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxEmail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
}

impl OutboxEmail {
    pub(super) fn from_row(row: &Row) -> Self {
        OutboxEmail {
            id: row.get("id"),
            recipient: row.get("recipient"),
            subject: row.get("subject"),
            body_text: row.get("body_text"),
        }
    }
}

/// Queues one email to `recipient` (a notice decided on its own, not by a rule of the statement
/// that made it).
pub async fn queue_email(
    client: &impl GenericClient,
    recipient: &str,
    message: &crate::emails::Message,
) -> Result<OutboxEmail> {
    let statement = client
        .prepare_cached(
            "INSERT INTO email_outbox (recipient, subject, body_text) VALUES ($1, $2, $3)
             RETURNING id, recipient, subject, body_text",
        )
        .await?;
    let row = client
        .query_one(&statement, &[&recipient, &message.subject, &message.body])
        .await?;
    Ok(OutboxEmail::from_row(&row))
}

/// Records a successful delivery; with `forget_body`, the body goes too: it held a live link or
/// code, which a copy of the database taken later must not find (recipient, subject and times
/// stay for support questions).
pub async fn mark_email_sent(
    client: &impl GenericClient,
    id: i64,
    forget_body: bool,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "UPDATE email_outbox
             SET sent_at = now(), attempts = attempts + 1, last_error = NULL,
                 body_text = CASE WHEN $2 THEN '' ELSE body_text END
             WHERE id = $1",
        )
        .await?;
    client.execute(&statement, &[&id, &forget_body]).await?;
    Ok(())
}

/// Records a failed delivery attempt; the row stays unsent.
pub async fn record_email_failure(client: &impl GenericClient, id: i64, error: &str) -> Result<()> {
    let statement = client
        .prepare_cached(
            "UPDATE email_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        )
        .await?;
    client.execute(&statement, &[&id, &error]).await?;
    Ok(())
}

/// Unsent emails worth retrying, locked so two janitors never send the same one. Only rows older
/// than `settle` (the request that queued them may still be sending) and younger than `give_up`
/// (a reset link is useless once its token has expired), with fewer than `max_attempts`.
pub async fn lock_unsent_emails(
    client: &impl GenericClient,
    settle: Duration,
    give_up: Duration,
    max_attempts: i32,
    limit: i64,
) -> Result<Vec<OutboxEmail>> {
    let statement = client
        .prepare_cached(
            "SELECT id, recipient, subject, body_text FROM email_outbox
             WHERE sent_at IS NULL AND attempts < $3
               AND created_at < now() - make_interval(secs => $1)
               AND created_at > now() - make_interval(secs => $2)
             ORDER BY created_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED",
        )
        .await?;
    let rows = client
        .query(
            &statement,
            &[&seconds(settle), &seconds(give_up), &max_attempts, &limit],
        )
        .await?;
    Ok(rows.iter().map(OutboxEmail::from_row).collect())
}

/// Rows deleted by [`prune_expired`], per table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub revoked_tokens: u64,
    pub reset_tokens: u64,
    pub emails: u64,
    /// Ended rate-limit windows, forgotten sign-in and second-factor failure streaks, and
    /// expired device tokens.
    pub throttles: u64,
    /// Passkey ceremonies, sign-ins' second steps, and OpenID sign-in flows and one-time codes,
    /// started and never finished in time.
    pub ceremonies: u64,
}

/// Deletes the audit events older than `keep` (the database refuses to go under 30 days, see
/// `migrations/V7__audit_retention.sql`); returns how many went.
pub async fn prune_audit_events(client: &impl GenericClient, keep: Duration) -> Result<u64> {
    let statement = client
        .prepare_cached("SELECT prune_auth_events($1)")
        .await?;
    let days = i32::try_from(keep.as_secs() / 86_400).unwrap_or(i32::MAX);
    let row = client.query_one(&statement, &[&days]).await?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Deletes what can no longer matter: expired tokens and revocations, sessions that ended or
/// expired more than `keep` ago (kept that long for audit), outbox rows older than `keep` (their
/// bodies hold reset links), ended rate-limit windows and forgotten failure streaks (of
/// passwords and of second factors), passkey ceremonies and second-factor challenges past their
/// five minutes. The audit
/// log is append-only and never pruned here.
pub async fn prune_expired(client: &impl GenericClient, keep: Duration) -> Result<Pruned> {
    // One statement, so one round trip and one snapshot; rows that cascade from a deleted session
    // are not counted twice.
    let statement = client
        .prepare_cached(
            "WITH refresh AS (DELETE FROM refresh_tokens WHERE expires_at < now() RETURNING 1),
                  revoked AS (DELETE FROM revoked_tokens WHERE expires_at < now() RETURNING 1),
                  reset AS (DELETE FROM reset_tokens WHERE expires_at < now() RETURNING 1),
                  ended AS (DELETE FROM sessions
                            WHERE expires_at < now() - make_interval(secs => $1)
                               OR revoked_at < now() - make_interval(secs => $1)
                            RETURNING 1),
                  emails AS (DELETE FROM email_outbox
                             WHERE created_at < now() - make_interval(secs => $1) RETURNING 1),
                  windows AS (DELETE FROM rate_limits WHERE window_ends < now() RETURNING 1),
                  streaks AS (DELETE FROM signin_failures
                              WHERE expires_at < now()
                                AND (locked_until IS NULL OR locked_until < now())
                              RETURNING 1),
                  devices AS (DELETE FROM signin_devices WHERE expires_at < now() RETURNING 1),
                  ceremonies AS (DELETE FROM webauthn_ceremonies WHERE expires_at < now()
                                 RETURNING 1),
                  challenges AS (DELETE FROM mfa_challenges WHERE expires_at < now()
                                 RETURNING 1),
                  oauth_flows AS (DELETE FROM oauth_flows WHERE expires_at < now() RETURNING 1),
                  oauth_codes AS (DELETE FROM oauth_codes WHERE expires_at < now() RETURNING 1),
                  mfa_streaks AS (DELETE FROM mfa_failures
                                  WHERE window_ends < now()
                                    AND (locked_until IS NULL OR locked_until < now())
                                  RETURNING 1)
             SELECT (SELECT count(*) FROM ended) AS sessions,
                    (SELECT count(*) FROM refresh) AS refresh_tokens,
                    (SELECT count(*) FROM revoked) AS revoked_tokens,
                    (SELECT count(*) FROM reset) AS reset_tokens,
                    (SELECT count(*) FROM emails) AS emails,
                    (SELECT count(*) FROM windows) + (SELECT count(*) FROM streaks)
                    + (SELECT count(*) FROM devices) + (SELECT count(*) FROM mfa_streaks)
                    AS throttles,
                    (SELECT count(*) FROM ceremonies) + (SELECT count(*) FROM challenges)
                    + (SELECT count(*) FROM oauth_flows) + (SELECT count(*) FROM oauth_codes)
                    AS ceremonies",
        )
        .await?;
    let row = client.query_one(&statement, &[&seconds(keep)]).await?;
    let count = |column: &str| row.get::<_, i64>(column) as u64;
    Ok(Pruned {
        sessions: count("sessions"),
        refresh_tokens: count("refresh_tokens"),
        revoked_tokens: count("revoked_tokens"),
        reset_tokens: count("reset_tokens"),
        emails: count("emails"),
        throttles: count("throttles"),
        ceremonies: count("ceremonies"),
    })
}

/// The email of the account a reset token belongs to, when the token exists, is unused and
/// unexpired: a cheap check before hashing, which also gives the password rules their email.
pub async fn usable_reset_token_email(
    client: &impl GenericClient,
    hash: &TokenHash,
) -> Result<Option<Email>> {
    let statement = client
        .prepare_cached(
            "SELECT u.email FROM reset_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()",
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&hash.0.as_slice()]).await? else {
        return Ok(None);
    };
    // Stored addresses went through `Email::parse` on the way in, so they parse again.
    let email = Email::parse(row.get("email"))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("a stored email does not parse: {e}")))?;
    Ok(Some(email))
}

/// Locks the account a reset token belongs to, until the transaction ends. Resets of one user
/// then run one after the other, whichever of the user's tokens they use: a reset touches all of
/// the user's tokens, so two resets taking token locks first would deadlock each other.
pub async fn lock_reset_token_owner(
    client: &impl GenericClient,
    hash: &TokenHash,
) -> Result<Option<UserId>> {
    let statement = client
        .prepare_cached(
            "SELECT u.id FROM reset_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1
             FOR UPDATE OF u",
        )
        .await?;
    let row = client.query_opt(&statement, &[&hash.0.as_slice()]).await?;
    Ok(row.map(|row| UserId::from_uuid(row.get("id"))))
}

/// Consumes a reset token atomically: of two concurrent calls with one token, exactly one gets the
/// user id (the second waits on the row lock, then finds `used_at` set).
pub async fn consume_reset_token(
    client: &impl GenericClient,
    hash: &TokenHash,
) -> Result<Option<UserId>> {
    let statement = client
        .prepare_cached(
            "UPDATE reset_tokens SET used_at = now()
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
             RETURNING user_id",
        )
        .await?;
    let row = client.query_opt(&statement, &[&hash.0.as_slice()]).await?;
    Ok(row.map(|row| UserId::from_uuid(row.get("user_id"))))
}

/// Sets a new password hash after a reset, invalidates the user's other outstanding reset
/// tokens and clears every failure streak of the address (whoever caused them no longer knows
/// a password that works). The reset link reached the address, which proves it: an unconfirmed
/// account is confirmed, and its pending sign-up confirmation goes.
pub async fn update_password(
    client: &impl GenericClient,
    user_id: UserId,
    email: &EmailDigest,
    password_hash: &PasswordHashString,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "WITH other_tokens AS (
                 UPDATE reset_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL),
                  confirmation AS (
                 DELETE FROM email_verifications WHERE user_id = $1 AND purpose = 'signup'),
                  streaks AS (DELETE FROM signin_failures WHERE email_hash = $3)
             UPDATE users SET password_hash = $2, updated_at = now(),
                              email_verified_at = coalesce(email_verified_at, now())
             WHERE id = $1",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &user_id.as_uuid(),
                &password_hash.as_str(),
                &email.0.as_slice(),
            ],
        )
        .await?;
    Ok(())
}
