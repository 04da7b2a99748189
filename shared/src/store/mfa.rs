//! Second factors in PostgreSQL: the rules that must hold across every Lambda instance, each one
//! statement (see `migrations/V8__second_factor_totp.sql`).

use std::time::Duration;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::audit::EventKind;
use super::{Result, seconds};
use crate::domain::{ClientInfo, UserId};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaStatus {
    pub totp_enabled: bool,
    pub recovery_codes_left: i64,
}

pub async fn mfa_status(client: &impl GenericClient, user: UserId) -> Result<MfaStatus> {
    let statement = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM mfa_totp
                            WHERE user_id = $1 AND confirmed_at IS NOT NULL) AS totp_enabled,
                    (SELECT count(*) FROM mfa_recovery_codes
                     WHERE user_id = $1 AND used_at IS NULL) AS recovery_codes_left",
        )
        .await?;
    let row = client.query_one(&statement, &[&user.as_uuid()]).await?;
    Ok(MfaStatus {
        totp_enabled: row.get("totp_enabled"),
        recovery_codes_left: row.get("recovery_codes_left"),
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

/// Uses one of the account's recovery codes, once: true when `code` was an unused code of the
/// account, now used (one atomic statement: of two requests with one code, exactly one passes).
pub async fn use_recovery_code(
    client: &impl GenericClient,
    user: UserId,
    code: &RecoveryHash,
) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "UPDATE mfa_recovery_codes SET used_at = now()
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
             RETURNING 1",
        )
        .await?;
    let used = client
        .query_opt(&statement, &[&user.as_uuid(), &code.0.as_slice()])
        .await?;
    Ok(used.is_some())
}

/// Wrong codes after which a sign-in's second-factor challenge is dead.
pub const MAX_WRONG_MFA_CODES: i32 = 5;

/// Opens the step between the right password and the second factor: the challenge's token
/// (stored hashed) lives `ttl`.
pub async fn open_mfa_challenge(
    client: &impl GenericClient,
    user: UserId,
    token: &TokenHash,
    ttl: Duration,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "INSERT INTO mfa_challenges (token_hash, user_id, expires_at)
             VALUES ($1, $2, now() + make_interval(secs => $3))",
        )
        .await?;
    client
        .execute(
            &statement,
            &[&token.0.as_slice(), &user.as_uuid(), &seconds(ttl)],
        )
        .await?;
    Ok(())
}

/// The account of a live challenge: unused, unexpired, fewer than five wrong codes.
pub async fn live_mfa_challenge(
    client: &impl GenericClient,
    token: &TokenHash,
) -> Result<Option<UserId>> {
    let statement = client
        .prepare_cached(
            "SELECT user_id FROM mfa_challenges
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
               AND wrong_codes < $2",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&token.0.as_slice(), &MAX_WRONG_MFA_CODES])
        .await?;
    Ok(row.map(|row| UserId::from_uuid(row.get("user_id"))))
}

/// Uses a live challenge, once (one atomic statement): its account, or `None` when it was not
/// live any more (used by a concurrent request, expired, killed).
pub async fn consume_mfa_challenge(
    client: &impl GenericClient,
    token: &TokenHash,
) -> Result<Option<UserId>> {
    let statement = client
        .prepare_cached(
            "UPDATE mfa_challenges SET used_at = now()
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
               AND wrong_codes < $2
             RETURNING user_id",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&token.0.as_slice(), &MAX_WRONG_MFA_CODES])
        .await?;
    Ok(row.map(|row| UserId::from_uuid(row.get("user_id"))))
}

/// Counts a wrong code against the challenge (the fifth kills it).
pub async fn count_wrong_mfa_code(client: &impl GenericClient, token: &TokenHash) -> Result<()> {
    let statement = client
        .prepare_cached(
            "UPDATE mfa_challenges SET wrong_codes = wrong_codes + 1
             WHERE token_hash = $1 AND used_at IS NULL",
        )
        .await?;
    client.execute(&statement, &[&token.0.as_slice()]).await?;
    Ok(())
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
