//! Sessions as their owner sees them: opened by sign-in, listed and ended through `/api/sessions`.

use std::net::IpAddr;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use uuid::Uuid;

use super::audit::EventKind;
use super::throttling::LockoutScopes;
use super::{Result, RevokeReason, seconds};
use crate::domain::{Assurance, ClientInfo, EmailDigest, UserId};
use crate::hashing::PasswordHashString;
use crate::tokens::{RecoveryHash, TokenHash};
use tokio_postgres::types::Json;
use webauthn_rs::prelude::Passkey;

/// How long a device token exempts its client from the lockout others cause, unless it is used
/// (and replaced) before.
pub const DEVICE_TOKEN_TTL: Duration = Duration::from_secs(180 * 24 * 60 * 60);

/// A new session and its first refresh token, from a successful sign-in.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: UserId,
    pub refresh_token: &'a TokenHash,
    /// How long the session lives unused (each refresh starts it again)...
    pub ttl: Duration,
    /// ...and how long it lives at most, refreshed or not.
    pub max_lifetime: Duration,
    /// Whose failure streaks the success clears, and which of them.
    pub email: EmailDigest,
    pub scopes: &'a LockoutScopes,
    /// The device token handed out with the session, for the account's next sign-in from this
    /// client, and the one it replaces (the one presented, if any).
    pub device: &'a TokenHash,
    pub replaces_device: Option<&'a TokenHash>,
    pub client: &'a ClientInfo,
    /// A stronger hash of the password just verified, to replace `(old, new)` when the stored
    /// one's parameters are weaker than today's.
    pub rehash: Option<(&'a PasswordHashString, &'a PasswordHashString)>,
    /// How the user proved who they are: kept with the session, carried by its access tokens.
    pub assurance: &'a Assurance,
    /// A sign-in's second step: the proof spent with its challenge by this very statement.
    pub second_factor: Option<SecondFactor<'a>>,
    /// A passkey sign-in: the passkey stored with its new counter by this very statement.
    pub passkey_use: Option<PasskeyUse<'a>>,
}

/// The passkey a sign-in used, to store with its new signature counter (only over an older
/// counter: the rule is the SQL function `record_passkey_use`, V14).
#[derive(Debug, Clone, Copy)]
pub struct PasskeyUse<'a> {
    pub id: Uuid,
    pub passkey: &'a Passkey,
    pub counter: u32,
}

/// What a sign-in's second step spends, with its challenge (the `mfa_token`'s hash).
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// A TOTP code's time step: accepted once, and only later than every step before.
    Step { challenge: &'a TokenHash, step: u64 },
    /// One of the account's recovery codes: used once.
    RecoveryCode {
        challenge: &'a TokenHash,
        code: &'a RecoveryHash,
    },
}

/// What [`open_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The session is open (and the second factor, if any, spent); for a recovery code, the
    /// unused codes left.
    Session { codes_left: Option<i64> },
    /// The second step's challenge was not live any more (used meanwhile, expired, killed).
    NoChallenge,
    /// The second step's proof was refused (a step accepted before, a recovery code not the
    /// account's), or the passkey's counter did not advance past the stored one (a concurrent
    /// sign-in got there first, or a cloned authenticator): nothing was spent or stored.
    WrongProof,
}

/// The statement of a successful sign-in, all of it at once: spends a second step's proof with
/// its challenge (`spend_second_factor`, the rule in one place), or stores a passkey's new
/// counter (`record_passkey_use`, likewise), then — only if that held —
/// opens the session with its refresh token, clears the attempt's failure streaks, keeps the new
/// device token (in place of the presented one; the account's newest twenty survive), upgrades
/// the password hash when asked (only if unchanged meanwhile, so a concurrent reset wins) and
/// records the event. A disabled account's session is refused by the database (403
/// `account_disabled`), and then nothing is spent.
pub async fn open_session(client: &impl GenericClient, session: &NewSession<'_>) -> Result<Opened> {
    let statement = client
        .prepare_cached(
            "WITH spent AS (SELECT * FROM spend_second_factor($19, $20, $21, $22)),
                  used AS (SELECT record_passkey_use($23, $24, $25) AS stored),
                  proof AS (
                 SELECT CASE WHEN s.verdict = 'ok' AND NOT u.stored THEN 'wrong' ELSE s.verdict END
                            AS verdict,
                        s.codes_left
                 FROM spent s CROSS JOIN used u),
                  opened AS (
                 INSERT INTO sessions (id, user_id, expires_at, max_expires_at,
                                       refresh_token_hash, user_agent, ip, aal, amr, idp)
                 SELECT $1, $2, now() + make_interval(secs => least($4::float8, $15::float8)),
                        now() + make_interval(secs => $15), $3, $6, $7, $16, $17, $18
                 FROM proof WHERE proof.verdict = 'ok'),
                  token AS (
                 INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
                 SELECT $3, $1, now() + make_interval(secs => least($4::float8, $15::float8))
                 FROM proof WHERE proof.verdict = 'ok'),
                  device AS (
                 INSERT INTO signin_devices (token_hash, user_id, expires_at)
                 SELECT $12, $2, now() + make_interval(secs => $14)
                 FROM proof WHERE proof.verdict = 'ok'),
                  replaced AS (
                 DELETE FROM signin_devices
                 WHERE (SELECT verdict FROM proof) = 'ok' AND user_id = $2
                   AND (token_hash = $13
                        OR token_hash IN (SELECT token_hash FROM signin_devices WHERE user_id = $2
                                          ORDER BY created_at DESC OFFSET 19))),
                  rehashed AS (
                 UPDATE users SET password_hash = $9
                 WHERE (SELECT verdict FROM proof) = 'ok'
                   AND id = $2 AND $9::text IS NOT NULL AND password_hash = $8),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, email_hash, session_id, ip, user_agent)
                 SELECT $10, $2, NULL, $1, $7, $6 FROM proof WHERE proof.verdict = 'ok')
             SELECT proof.verdict, proof.codes_left,
                    CASE WHEN proof.verdict = 'ok' THEN end_signin_attempt($5, $11, true) END
                        IS NOT NULL AS ended
             FROM proof",
        )
        .await?;
    let (old_hash, new_hash) = session
        .rehash
        .map(|(old, new)| (Some(old.as_str()), Some(new.as_str())))
        .unwrap_or_default();
    let (challenge, step, recovery) = match session.second_factor {
        None => (None, None, None),
        Some(SecondFactor::Step { challenge, step }) => (
            Some(challenge),
            Some(i64::try_from(step).unwrap_or(i64::MAX)),
            None,
        ),
        Some(SecondFactor::RecoveryCode { challenge, code }) => {
            (Some(challenge), None, Some(code.0.as_slice()))
        }
    };
    let row = client
        .query_one(
            &statement,
            &[
                &session.id,
                &session.user_id.as_uuid(),
                &session.refresh_token.0.as_slice(),
                &seconds(session.ttl),
                &session.email.0.as_slice(),
                &session.client.user_agent,
                &session.client.ip,
                &old_hash,
                &new_hash,
                &EventKind::SigninSucceeded.as_str(),
                &session.scopes.0,
                &session.device.0.as_slice(),
                &session.replaces_device.map(|hash| hash.0.as_slice()),
                &seconds(DEVICE_TOKEN_TTL),
                &seconds(session.max_lifetime),
                &session.assurance.aal.as_str(),
                &session.assurance.amr_strs(),
                &session.assurance.idp,
                &challenge.map(|hash| hash.0.as_slice()),
                &super::MAX_WRONG_MFA_CODES,
                &step,
                &recovery,
                &session.passkey_use.map(|used| used.id),
                &session.passkey_use.map(|used| Json(used.passkey)),
                &session.passkey_use.map(|used| i64::from(used.counter)),
            ],
        )
        .await?;
    Ok(match row.get::<_, &str>("verdict") {
        "ok" => Opened::Session {
            codes_left: row.get("codes_left"),
        },
        "no_challenge" => Opened::NoChallenge,
        _ => Opened::WrongProof,
    })
}

/// Ending a live session of a user: logout (of one session or everywhere) or
/// `DELETE /api/sessions/{id}`.
#[derive(Debug)]
pub struct SessionEnd<'a> {
    pub session_id: Uuid,
    pub user_id: UserId,
    pub reason: RevokeReason,
    /// Also end every other live session of the user (global logout).
    pub everywhere: bool,
    /// The access token that asked, as `(jti, expires_at)`: listed as revoked until it expires.
    pub access_token: Option<(Uuid, u64)>,
    pub event: EventKind,
    pub client: &'a ClientInfo,
}

/// Ends a session in one statement: the named session first, and only if it was live (ended,
/// expired and other users' sessions are left alone, and a token of an ended session cannot end
/// the others), then the user's other sessions when asked, the access token's revocation and the
/// event. Returns whether the named session was live.
pub async fn end_session(client: &impl GenericClient, end: &SessionEnd<'_>) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "WITH ended AS (
                 UPDATE sessions SET revoked_at = now(), revoked_reason = $3
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
                 RETURNING id, user_id),
                  others AS (
                 UPDATE sessions SET revoked_at = now(), revoked_reason = $3
                 WHERE $4 AND user_id = $2 AND id <> $1 AND revoked_at IS NULL
                   AND EXISTS (SELECT 1 FROM ended)),
                  revoked AS (
                 INSERT INTO revoked_tokens (jti, session_id, expires_at)
                 SELECT $5, id, to_timestamp($6) FROM ended WHERE $5::uuid IS NOT NULL
                 ON CONFLICT (jti) DO NOTHING),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, session_id, ip, user_agent)
                 SELECT $7, user_id, id, $8, $9 FROM ended)
             SELECT count(*) AS ended FROM ended",
        )
        .await?;
    let (jti, expires_at) = end
        .access_token
        .map(|(jti, expires_at)| (Some(jti), Some(expires_at as f64)))
        .unwrap_or_default();
    let row = client
        .query_one(
            &statement,
            &[
                &end.session_id,
                &end.user_id.as_uuid(),
                &end.reason.as_str(),
                &end.everywhere,
                &jti,
                &expires_at,
                &end.event.as_str(),
                &end.client.ip,
                &end.client.user_agent,
            ],
        )
        .await?;
    Ok(row.get::<_, i64>("ended") == 1)
}

/// One live session, as `GET /api/sessions` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    pub id: Uuid,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// When tokens were last issued for it (sign-in or refresh), RFC 3339, UTC.
    pub last_used_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<IpAddr>,
    /// The session of the access token that asked.
    pub current: bool,
}

/// A user's live sessions, most recently used first.
pub async fn list_sessions(
    client: &impl GenericClient,
    user_id: UserId,
    current: Uuid,
) -> Result<Vec<SessionSummary>> {
    let statement = client
        .prepare_cached(
            "SELECT id, user_agent, ip, id = $2 AS current,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at,
                    to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_used_at
             FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
             ORDER BY last_used_at DESC, created_at DESC",
        )
        .await?;
    let rows = client
        .query(&statement, &[&user_id.as_uuid(), &current])
        .await?;
    Ok(rows
        .iter()
        .map(|row| SessionSummary {
            id: row.get("id"),
            created_at: row.get("created_at"),
            last_used_at: row.get("last_used_at"),
            user_agent: row.get("user_agent"),
            ip: row.get("ip"),
            current: row.get("current"),
        })
        .collect())
}
