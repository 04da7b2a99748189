//! Second factors in PostgreSQL: the rules that must hold across every Lambda instance, each one
//! statement (see `migrations/V8__second_factor_totp.sql`).

use std::time::Duration;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::audit::EventKind;
use super::throttling::LockoutScopes;
use super::{OutboxEmail, Result, seconds, user_from};
use crate::domain::{AuthMethod, ClientInfo, EmailDigest, User, UserId};
use crate::emails::Message;
use crate::hashing::PasswordHashString;
use crate::tokens::{RecoveryHash, Sealed, TokenHash};

/// Accepts a TOTP time step for the account's confirmed TOTP, once: true only when `step` is
/// later than every step accepted before (one atomic statement, so of two requests with one code
/// exactly one passes).
pub async fn accept_totp_step(
    client: &impl GenericClient,
    user: UserId,
    step: u64,
) -> Result<bool> {
    let statement = client
        .prepare_cached("SELECT accept_totp_step($1, $2)")
        .await?;
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let row = client
        .query_one(&statement, &[&user.as_uuid(), &step])
        .await?;
    Ok(row.get(0))
}

/// One wrong second-factor code counted for the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaFailure {
    /// Wrong codes in the current 15-minute window, this one included.
    pub failures: i32,
    /// This one was the tenth: the second factor is locked for 15 minutes.
    pub locks: bool,
}

/// Counts a wrong second-factor code (one atomic upsert).
pub async fn count_mfa_failure(client: &impl GenericClient, user: UserId) -> Result<MfaFailure> {
    let statement = client
        .prepare_cached("SELECT failures, locks FROM count_mfa_failure($1)")
        .await?;
    let row = client.query_one(&statement, &[&user.as_uuid()]).await?;
    Ok(MfaFailure {
        failures: row.get("failures"),
        locks: row.get("locks"),
    })
}

/// Keeps a new TOTP secret for the account, pending until confirmed: it replaces a pending one,
/// never a confirmed one (false then: TOTP is on already).
pub async fn save_pending_totp(
    client: &impl GenericClient,
    user: UserId,
    sealed: &Sealed,
    info: &ClientInfo,
) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "WITH saved AS (
                 INSERT INTO mfa_totp (user_id, secret_key_id, secret_sealed)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE
                 SET secret_key_id = excluded.secret_key_id,
                     secret_sealed = excluded.secret_sealed,
                     last_step = NULL, created_at = now()
                 WHERE mfa_totp.confirmed_at IS NULL
                 RETURNING user_id),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 SELECT $4, user_id, $5, $6 FROM saved)
             SELECT EXISTS (SELECT 1 FROM saved)",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &user.as_uuid(),
                &sealed.key_id,
                &sealed.bytes,
                &EventKind::MfaEnrolled.as_str(),
                &info.ip,
                &info.user_agent,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// The account's TOTP secret as stored, and whether it is confirmed.
pub async fn totp_of(client: &impl GenericClient, user: UserId) -> Result<Option<(Sealed, bool)>> {
    let statement = client
        .prepare_cached(
            "SELECT secret_key_id, secret_sealed, confirmed_at IS NOT NULL AS confirmed
             FROM mfa_totp WHERE user_id = $1",
        )
        .await?;
    let row = client.query_opt(&statement, &[&user.as_uuid()]).await?;
    Ok(row.map(|row| {
        (
            Sealed {
                key_id: row.get("secret_key_id"),
                bytes: row.get("secret_sealed"),
            },
            row.get("confirmed"),
        )
    }))
}

/// What `GET /api/mfa` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MfaStatus {
    pub totp_enabled: bool,
    pub recovery_codes_left: i64,
    pub passkeys: i64,
}

pub async fn mfa_status(client: &impl GenericClient, user: UserId) -> Result<MfaStatus> {
    let statement = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM mfa_totp
                            WHERE user_id = $1 AND confirmed_at IS NOT NULL) AS totp_enabled,
                    (SELECT count(*) FROM mfa_recovery_codes
                     WHERE user_id = $1 AND used_at IS NULL) AS recovery_codes_left,
                    (SELECT count(*) FROM passkeys WHERE user_id = $1) AS passkeys",
        )
        .await?;
    let row = client.query_one(&statement, &[&user.as_uuid()]).await?;
    Ok(MfaStatus {
        totp_enabled: row.get("totp_enabled"),
        recovery_codes_left: row.get("recovery_codes_left"),
        passkeys: row.get("passkeys"),
    })
}

/// Turning TOTP on with a first code.
#[derive(Debug)]
pub struct TotpConfirmation<'a> {
    pub user: UserId,
    /// The time step the code matched: the first accepted one.
    pub step: u64,
    /// The session that confirms: it stays, at `aal2`, with a new refresh token; every other
    /// session of the account ends.
    pub session_id: Uuid,
    pub refresh_token: &'a TokenHash,
    pub refresh_ttl: Duration,
    pub recovery_codes: &'a [RecoveryHash],
    pub recovery_key_id: &'a str,
    pub client: &'a ClientInfo,
}

/// Confirms a pending TOTP, in one statement: the secret is confirmed with its first step, the
/// recovery codes replace any earlier set, every other session ends, and this one is raised to
/// `aal2` with a new refresh token (its earlier one is superseded). False when nothing was
/// pending (confirmed meanwhile) or this session has ended.
pub async fn confirm_totp(
    client: &impl GenericClient,
    confirmation: &TotpConfirmation<'_>,
) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "WITH session AS (
                 SELECT id, max_expires_at FROM sessions
                 WHERE id = $5 AND user_id = $1 AND revoked_at IS NULL AND expires_at > now()
                 FOR UPDATE),
                  confirmed AS (
                 UPDATE mfa_totp SET confirmed_at = now(), last_step = $2
                 WHERE user_id = $1 AND confirmed_at IS NULL AND EXISTS (SELECT 1 FROM session)
                 RETURNING user_id),
                  old_codes AS (
                 DELETE FROM mfa_recovery_codes WHERE user_id IN (SELECT user_id FROM confirmed)),
                  codes AS (
                 INSERT INTO mfa_recovery_codes (user_id, code_hash, key_id)
                 SELECT user_id, code, $4 FROM confirmed, unnest($3::bytea[]) AS code),
                  others AS (
                 UPDATE sessions SET revoked_at = now(), revoked_reason = 'mfa_enabled'
                 WHERE user_id IN (SELECT user_id FROM confirmed) AND id <> $5
                   AND revoked_at IS NULL),
                  raised AS (
                 UPDATE sessions SET aal = 'aal2', amr = ARRAY['pwd', 'otp'],
                                     refresh_token_hash = $6, last_used_at = now()
                 WHERE id IN (SELECT id FROM session) AND EXISTS (SELECT 1 FROM confirmed)),
                  token AS (
                 INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
                 SELECT $6, id, least(now() + make_interval(secs => $7), max_expires_at)
                 FROM session WHERE EXISTS (SELECT 1 FROM confirmed)),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, session_id, ip, user_agent)
                 SELECT $8, user_id, $5, $9, $10 FROM confirmed)
             SELECT EXISTS (SELECT 1 FROM confirmed)",
        )
        .await?;
    let codes: Vec<&[u8]> = confirmation
        .recovery_codes
        .iter()
        .map(|hash| hash.0.as_slice())
        .collect();
    let row = client
        .query_one(
            &statement,
            &[
                &confirmation.user.as_uuid(),
                &i64::try_from(confirmation.step).unwrap_or(i64::MAX),
                &codes,
                &confirmation.recovery_key_id,
                &confirmation.session_id,
                &confirmation.refresh_token.0.as_slice(),
                &seconds(confirmation.refresh_ttl),
                &EventKind::MfaEnabled.as_str(),
                &confirmation.client.ip,
                &confirmation.client.user_agent,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Wrong codes after which a sign-in's second-factor challenge is dead.
pub const MAX_WRONG_MFA_CODES: i32 = 5;

/// The end of a sign-in's first step, for an account with TOTP on: the right password.
#[derive(Debug)]
pub struct ChallengeOpening<'a> {
    pub user: UserId,
    /// The `mfa_token`'s hash: the challenge lives `ttl`.
    pub token: &'a TokenHash,
    pub ttl: Duration,
    /// Whose failure streaks the right password clears, and which of them.
    pub email: EmailDigest,
    pub scopes: &'a LockoutScopes,
    /// The device token presented with the password: the session's new one will replace it.
    pub replaces_device: Option<&'a TokenHash>,
    /// A stronger hash of the password just verified, as sign-in's (see [`super::NewSession`]).
    pub rehash: Option<(&'a PasswordHashString, &'a PasswordHashString)>,
    /// How the first step was made: the password, or an OpenID provider (named by `idp`).
    pub first_factor: AuthMethod,
    pub idp: Option<&'a str>,
    pub client: &'a ClientInfo,
}

/// The second statement of a sign-in that needs a second factor, all at once: the password was
/// right, so the attempt's failure streaks are cleared (as a completed sign-in clears them) and a
/// weaker hash replaced; the challenge is opened and the event recorded. No session yet.
pub async fn challenge_second_factor(
    client: &impl GenericClient,
    opening: &ChallengeOpening<'_>,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "WITH challenge AS (
                 INSERT INTO mfa_challenges (token_hash, user_id, expires_at, replaces_device,
                                             first_factor, idp)
                 VALUES ($1, $2, now() + make_interval(secs => $3), $4, $12, $13)),
                  rehashed AS (
                 UPDATE users SET password_hash = $8
                 WHERE id = $2 AND $8::text IS NOT NULL AND password_hash = $7),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 VALUES ($9, $2, $10, $11))
             SELECT end_signin_attempt($5, $6, true)",
        )
        .await?;
    let (old_hash, new_hash) = opening
        .rehash
        .map(|(old, new)| (Some(old.as_str()), Some(new.as_str())))
        .unwrap_or_default();
    client
        .execute(
            &statement,
            &[
                &opening.token.0.as_slice(),
                &opening.user.as_uuid(),
                &seconds(opening.ttl),
                &opening.replaces_device.map(|hash| hash.0.as_slice()),
                &opening.email.0.as_slice(),
                &opening.scopes.0,
                &old_hash,
                &new_hash,
                &EventKind::MfaChallenged.as_str(),
                &opening.client.ip,
                &opening.client.user_agent,
                &opening.first_factor.as_str(),
                &opening.idp,
            ],
        )
        .await?;
    Ok(())
}

/// A live challenge (unused, unexpired, fewer than five wrong codes) and what its second step
/// needs, read at once: the account, how long its second factor stays locked (if it is), its
/// sealed TOTP secret, and the device token the session will replace.
#[derive(Debug)]
pub struct Challenge {
    pub user: User,
    pub locked_for: Option<f64>,
    pub totp: Option<Sealed>,
    pub replaces_device: Option<TokenHash>,
    /// How the first step was made, and through which provider.
    pub first_factor: AuthMethod,
    pub idp: Option<String>,
}

pub async fn mfa_challenge(
    client: &impl GenericClient,
    token: &TokenHash,
) -> Result<Option<Challenge>> {
    let statement = client
        .prepare_cached(
            "SELECT u.id, u.name, u.email, u.email_verified_at IS NOT NULL AS email_verified,
                    u.mfa_enabled, c.replaces_device, c.first_factor, c.idp,
               extract(epoch FROM f.locked_until - now())::float8 AS locked_for,
               t.secret_key_id, t.secret_sealed
             FROM mfa_challenges c
             JOIN users u ON u.id = c.user_id
             LEFT JOIN mfa_failures f ON f.user_id = c.user_id AND f.locked_until > now()
             LEFT JOIN mfa_totp t ON t.user_id = c.user_id AND t.confirmed_at IS NOT NULL
             WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now()
               AND c.wrong_codes < $2",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&token.0.as_slice(), &MAX_WRONG_MFA_CODES])
        .await?;
    Ok(row.map(|row| Challenge {
        user: user_from(&row),
        locked_for: row.get("locked_for"),
        totp: row
            .get::<_, Option<String>>("secret_key_id")
            .map(|key_id| Sealed {
                key_id,
                bytes: row.get("secret_sealed"),
            }),
        replaces_device: row
            .get::<_, Option<Vec<u8>>>("replaces_device")
            .and_then(|bytes| TokenHash::from_stored(&bytes)),
        first_factor: AuthMethod::parse(row.get("first_factor")).unwrap_or(AuthMethod::Pwd),
        idp: row.get("idp"),
    }))
}

/// A wrong second-factor code, at sign-in (against its challenge) or from a signed-in user.
#[derive(Debug)]
pub struct WrongCode<'a> {
    pub user: UserId,
    /// The sign-in's challenge, which the fifth wrong code kills.
    pub challenge: Option<&'a TokenHash>,
    /// The owner's address, and the email that tells them when this code locks the factor.
    pub recipient: &'a str,
    pub lock_notice: &'a Message,
    pub client: &'a ClientInfo,
}

/// Counts a wrong code in one statement: against the challenge, and against the account (see
/// `count_mfa_failure`); the tenth in 15 minutes locks the factor, and then the owner's notice
/// is queued and the lock recorded. Returns the count and the notice, if queued.
pub async fn record_wrong_mfa_code(
    client: &impl GenericClient,
    wrong: &WrongCode<'_>,
) -> Result<(MfaFailure, Option<OutboxEmail>)> {
    let statement = client
        .prepare_cached(
            "WITH challenge AS (
                 UPDATE mfa_challenges SET wrong_codes = wrong_codes + 1
                 WHERE token_hash = $2 AND used_at IS NULL),
                  counted AS (SELECT failures, locks FROM count_mfa_failure($1)),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 SELECT kind, $1, $6, $7 FROM counted,
                        LATERAL (VALUES ($8), (CASE WHEN counted.locks THEN $9 END)) AS k (kind)
                 WHERE kind IS NOT NULL),
                  queued AS (
                 INSERT INTO email_outbox (recipient, subject, body_text)
                 SELECT $3, $4, $5 FROM counted WHERE locks
                 RETURNING id, recipient, subject, body_text)
             SELECT counted.failures, counted.locks, q.id, q.recipient, q.subject, q.body_text
             FROM counted LEFT JOIN queued q ON true",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &wrong.user.as_uuid(),
                &wrong.challenge.map(|hash| hash.0.as_slice()),
                &wrong.recipient,
                &wrong.lock_notice.subject,
                &wrong.lock_notice.body,
                &wrong.client.ip,
                &wrong.client.user_agent,
                &EventKind::MfaFailed.as_str(),
                &EventKind::MfaLocked.as_str(),
            ],
        )
        .await?;
    let failure = MfaFailure {
        failures: row.get("failures"),
        locks: row.get("locks"),
    };
    let queued = row
        .get::<_, Option<i64>>("id")
        .map(|_| OutboxEmail::from_row(&row));
    Ok((failure, queued))
}

/// Queues a notice to the owner and records what happened, in one statement (after a
/// recovery-code sign-in, or with a change the caller's own statement made).
pub async fn notify_owner(
    client: &impl GenericClient,
    user: UserId,
    recipient: &str,
    notice: &Message,
    event: EventKind,
    session_id: Option<Uuid>,
    info: &ClientInfo,
) -> Result<OutboxEmail> {
    let statement = client
        .prepare_cached(
            "WITH event AS (
                 INSERT INTO auth_events (kind, user_id, session_id, ip, user_agent)
                 VALUES ($4, $1, $5, $6, $7))
             INSERT INTO email_outbox (recipient, subject, body_text)
             VALUES ($2, $3, $8)
             RETURNING id, recipient, subject, body_text",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &user.as_uuid(),
                &recipient,
                &notice.subject,
                &event.as_str(),
                &session_id,
                &info.ip,
                &info.user_agent,
                &notice.body,
            ],
        )
        .await?;
    Ok(OutboxEmail::from_row(&row))
}

/// Turns TOTP off (only a confirmed one) and deletes the recovery codes, in one statement; false
/// when TOTP was not on (turned off meanwhile).
pub async fn disable_totp(client: &impl GenericClient, user: UserId) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "WITH disabled AS (
                 DELETE FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL
                 RETURNING user_id),
                  codes AS (
                 DELETE FROM mfa_recovery_codes WHERE user_id IN (SELECT user_id FROM disabled))
             SELECT EXISTS (SELECT 1 FROM disabled)",
        )
        .await?;
    let row = client.query_one(&statement, &[&user.as_uuid()]).await?;
    Ok(row.get(0))
}

/// Replaces the account's recovery codes with a new set, in one statement, only while TOTP is on:
/// false otherwise.
pub async fn replace_recovery_codes(
    client: &impl GenericClient,
    user: UserId,
    codes: &[RecoveryHash],
    key_id: &str,
    info: &ClientInfo,
) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "WITH totp AS (
                 SELECT user_id FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL
                 FOR SHARE),
                  old_codes AS (
                 DELETE FROM mfa_recovery_codes WHERE user_id IN (SELECT user_id FROM totp)),
                  codes AS (
                 INSERT INTO mfa_recovery_codes (user_id, code_hash, key_id)
                 SELECT user_id, code, $3 FROM totp, unnest($2::bytea[]) AS code),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 SELECT $4, user_id, $5, $6 FROM totp)
             SELECT EXISTS (SELECT 1 FROM totp)",
        )
        .await?;
    let codes: Vec<&[u8]> = codes.iter().map(|hash| hash.0.as_slice()).collect();
    let row = client
        .query_one(
            &statement,
            &[
                &user.as_uuid(),
                &codes,
                &key_id,
                &EventKind::RecoveryCodesRegenerated.as_str(),
                &info.ip,
                &info.user_agent,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Seconds the account's second factor stays locked by wrong codes; `None` when it is not.
pub async fn mfa_locked_for(client: &impl GenericClient, user: UserId) -> Result<Option<f64>> {
    let statement = client
        .prepare_cached(
            "SELECT extract(epoch FROM locked_until - now())::float8 AS seconds
             FROM mfa_failures WHERE user_id = $1 AND locked_until > now()",
        )
        .await?;
    let row = client.query_opt(&statement, &[&user.as_uuid()]).await?;
    Ok(row.map(|row| row.get("seconds")))
}
