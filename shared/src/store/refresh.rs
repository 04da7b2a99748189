//! Refresh-token rotation: one statement that judges the presented token and acts on the verdict.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::audit::EventKind;
use super::{Result, RevokeReason, seconds};
use crate::domain::{Assurance, ClientInfo, UserId};
use crate::error::ApiError;
use crate::tokens::TokenHash;

/// A refresh to perform: the presented token, its replacement and the rules that judge it.
#[derive(Debug)]
pub struct Rotation<'a> {
    pub presented: &'a TokenHash,
    pub replacement: &'a TokenHash,
    /// How long the replacement (and so the session) lives.
    pub ttl: Duration,
    /// How long after its rotation a token may still be presented (a client retrying a refresh
    /// whose answer it lost) without being taken for a stolen copy.
    pub reuse_grace: Duration,
    pub client: &'a ClientInfo,
}

/// What became of a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotated {
    /// The replacement was stored for this session; the new access token says whether the
    /// user's address is proven.
    Issued {
        session_id: Uuid,
        user_id: UserId,
        email_verified: bool,
        /// The session's, kept by every token it issues.
        assurance: Assurance,
    },
    /// The token came back after its grace window: someone else holds a copy, so the session
    /// was ended. Nothing was issued.
    Reused { session_id: Uuid, user_id: UserId },
    /// Unknown or expired token, or its session has ended. Nothing was written.
    Refused,
}

/// Rotates a refresh token in one round trip, with no transaction around it: a single statement
/// is atomic. The presented token's row and its session's are locked first (`FOR UPDATE`), so
/// concurrent refreshes of one session queue up and each sees the one before, committed. A fresh
/// token (unused, and the session's one live token) is marked used and replaced; within grace a
/// used token is replaced again. Either way the replacement becomes the session's live token,
/// so at most one exists: presenting a superseded one, or a used one after grace, is reuse and
/// ends the session. The session's expiry moves forward, never past its absolute lifetime.
/// Every branch that writes also records its audit event.
pub async fn rotate_refresh_token(
    client: &impl GenericClient,
    rotation: &Rotation<'_>,
) -> Result<Rotated> {
    let statement = client
        .prepare_cached(
            "WITH presented AS MATERIALIZED (
                 SELECT t.session_id, s.user_id, s.max_expires_at, s.aal, s.amr, s.idp,
                        CASE WHEN t.expires_at <= now() OR s.revoked_at IS NOT NULL
                                  OR s.expires_at <= now() THEN 'refused'
                             WHEN t.used_at IS NULL
                                  AND t.token_hash = coalesce(s.refresh_token_hash, t.token_hash)
                                  THEN 'fresh'
                             -- Unused, yet not the session's: superseded by a later rotation.
                             WHEN t.used_at IS NULL THEN 'reused'
                             WHEN t.used_at > clock_timestamp() - make_interval(secs => $2)
                                  THEN 'grace'
                             ELSE 'reused' END AS verdict
                 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.token_hash = $1
                 FOR UPDATE OF t, s),
                  used AS (
                 UPDATE refresh_tokens SET used_at = clock_timestamp()
                 WHERE token_hash = $1 AND used_at IS NULL
                   AND EXISTS (SELECT 1 FROM presented WHERE verdict = 'fresh')),
                  issued AS (
                 INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
                 SELECT $3, session_id, least(now() + make_interval(secs => $4), max_expires_at)
                 FROM presented WHERE verdict IN ('fresh', 'grace')
                 RETURNING session_id),
                  extended AS (
                 UPDATE sessions
                 SET expires_at = least(greatest(expires_at, now() + make_interval(secs => $4)),
                                        max_expires_at),
                     refresh_token_hash = $3,
                     last_used_at = now()
                 WHERE id IN (SELECT session_id FROM issued)),
                  ended AS (
                 UPDATE sessions SET revoked_at = now(), revoked_reason = $7
                 WHERE id IN (SELECT session_id FROM presented WHERE verdict = 'reused')
                   AND revoked_at IS NULL),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, session_id, ip, user_agent)
                 SELECT CASE verdict WHEN 'reused' THEN $9 ELSE $8 END, user_id, session_id, $5, $6
                 FROM presented WHERE verdict <> 'refused')
             SELECT p.session_id, p.user_id, p.verdict, p.aal, p.amr, p.idp,
                    u.email_verified_at IS NOT NULL AS email_verified
             FROM presented p JOIN users u ON u.id = p.user_id",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &rotation.presented.0.as_slice(),
                &seconds(rotation.reuse_grace),
                &rotation.replacement.0.as_slice(),
                &seconds(rotation.ttl),
                &rotation.client.ip,
                &rotation.client.user_agent,
                &RevokeReason::RefreshTokenReuse.as_str(),
                &EventKind::Refresh.as_str(),
                &EventKind::RefreshTokenReused.as_str(),
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Rotated::Refused);
    };
    let session_id = row.get("session_id");
    let user_id = UserId::from_uuid(row.get("user_id"));
    Ok(match row.get::<_, &str>("verdict") {
        "fresh" | "grace" => Rotated::Issued {
            session_id,
            user_id,
            email_verified: row.get("email_verified"),
            assurance: Assurance::from_stored(
                row.get("aal"),
                &row.get::<_, Vec<String>>("amr"),
                row.get("idp"),
            )
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "session {session_id} has an aal or amr this code does not know"
                ))
            })?,
        },
        "reused" => Rotated::Reused {
            session_id,
            user_id,
        },
        _ => Rotated::Refused,
    })
}
