//! Passkeys in PostgreSQL: the credentials an account registered, and the WebAuthn ceremonies
//! between a start and its finish (see `migrations/V9__passkeys.sql`).

use std::time::Duration;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use tokio_postgres::types::Json;
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use super::audit::EventKind;
use super::rfc3339;
use super::{Result, seconds, user_from};
use crate::domain::{CeremonyId, ClientInfo, PasskeyName, User, UserId};
use crate::error::ApiError;

/// Name of the unique index on `passkeys.credential_id`.
const CREDENTIAL_ID_KEY: &str = "passkeys_credential_id_key";

/// Which ceremony: a ceremony of one kind never finishes the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Authentication,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Authentication => "authentication",
        }
    }
}

/// Keeps a ceremony's state until its finish, for `ttl`: a registration is its user's, a
/// sign-in nobody's (`user` is `None`).
pub async fn save_ceremony(
    client: &impl GenericClient,
    id: CeremonyId,
    kind: CeremonyKind,
    user: Option<UserId>,
    state: &serde_json::Value,
    ttl: Duration,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "INSERT INTO webauthn_ceremonies (id, kind, user_id, state, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &id.as_uuid(),
                &kind.as_str(),
                &user.map(|user| user.as_uuid()),
                &Json(state),
                &seconds(ttl),
            ],
        )
        .await?;
    Ok(())
}

/// Takes a live ceremony of this kind and user, once: its state, or `None` when it is unknown,
/// used, expired, of the other kind or someone else's (one atomic `DELETE … RETURNING`: of two
/// finishes of one ceremony exactly one gets it). A mismatched one is left alone, so a wrong
/// guess cannot spoil its owner's ceremony.
pub async fn take_ceremony(
    client: &impl GenericClient,
    id: CeremonyId,
    kind: CeremonyKind,
    user: Option<UserId>,
) -> Result<Option<serde_json::Value>> {
    let statement = client
        .prepare_cached(
            "DELETE FROM webauthn_ceremonies
             WHERE id = $1 AND kind = $2 AND user_id IS NOT DISTINCT FROM $3
               AND expires_at > now()
             RETURNING state",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &id.as_uuid(),
                &kind.as_str(),
                &user.map(|user| user.as_uuid()),
            ],
        )
        .await?;
    Ok(row.map(|row| row.get::<_, Json<serde_json::Value>>("state").0))
}

/// The credential ids of the account's passkeys: what a new registration must not repeat.
pub async fn passkey_credential_ids(
    client: &impl GenericClient,
    user: UserId,
) -> Result<Vec<Vec<u8>>> {
    let statement = client
        .prepare_cached("SELECT credential_id FROM passkeys WHERE user_id = $1")
        .await?;
    let rows = client.query(&statement, &[&user.as_uuid()]).await?;
    Ok(rows.iter().map(|row| row.get("credential_id")).collect())
}

/// How many passkeys the account has (`GET /api/mfa` shows it).
pub async fn passkey_count(client: &impl GenericClient, user: UserId) -> Result<i64> {
    let statement = client
        .prepare_cached("SELECT count(*) FROM passkeys WHERE user_id = $1")
        .await?;
    let row = client.query_one(&statement, &[&user.as_uuid()]).await?;
    Ok(row.get(0))
}

/// One passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasskeySummary {
    pub id: Uuid,
    pub name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The last sign-in with it, RFC 3339, UTC; `null` before the first.
    pub last_used_at: Option<String>,
}

/// A new passkey of an account.
#[derive(Debug)]
pub struct NewPasskey<'a> {
    pub user: UserId,
    pub passkey: &'a Passkey,
    pub name: &'a PasskeyName,
    /// The most passkeys an account may have.
    pub limit: i64,
    pub client: &'a ClientInfo,
}

/// What adding a passkey did.
#[derive(Debug)]
pub enum Added {
    Added(PasskeySummary),
    /// The account has `limit` passkeys already.
    TooMany,
    /// The credential is registered already (to this account or another).
    Taken,
    /// The account is gone.
    NoAccount,
}

/// Adds a passkey and records the event, under the account's limit. Run it in a transaction:
/// the account's row is locked first, so that two registrations at once cannot both pass the
/// count (a statement's count sees the snapshot it started with, the lock's wait included).
pub async fn add_passkey(client: &impl GenericClient, new: &NewPasskey<'_>) -> Result<Added> {
    if !super::lock_account(client, new.user).await? {
        return Ok(Added::NoAccount);
    }
    let statement = client
        .prepare_cached(concat!(
            "WITH added AS (
                 INSERT INTO passkeys (user_id, credential_id, passkey, name)
                 SELECT $1, $2, $3, $4
                 WHERE (SELECT count(*) FROM passkeys WHERE user_id = $1) < $5
                 RETURNING id, name, created_at, last_used_at),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 SELECT $6, $1, $7, $8 FROM added)
             SELECT id, name, ",
            rfc3339!("created_at"),
            " AS created_at, ",
            rfc3339!("last_used_at"),
            " AS last_used_at FROM added"
        ))
        .await?;
    let inserted = client
        .query_opt(
            &statement,
            &[
                &new.user.as_uuid(),
                &new.passkey.cred_id().as_slice(),
                &Json(new.passkey),
                &new.name.as_str(),
                &new.limit,
                &EventKind::PasskeyAdded.as_str(),
                &new.client.ip,
                &new.client.user_agent,
            ],
        )
        .await;
    match inserted {
        Ok(Some(row)) => Ok(Added::Added(summary_from(&row))),
        Ok(None) => Ok(Added::TooMany),
        Err(e) if crate::db::is_unique_violation(&e, CREDENTIAL_ID_KEY) => Ok(Added::Taken),
        Err(e) => Err(e.into()),
    }
}

fn summary_from(row: &tokio_postgres::Row) -> PasskeySummary {
    PasskeySummary {
        id: row.get("id"),
        name: row.get("name"),
        created_at: row.get("created_at"),
        last_used_at: row.get("last_used_at"),
    }
}

/// The account's passkeys, oldest first.
pub async fn list_passkeys(
    client: &impl GenericClient,
    user: UserId,
) -> Result<Vec<PasskeySummary>> {
    let statement = client
        .prepare_cached(concat!(
            "SELECT id, name, ",
            rfc3339!("created_at"),
            " AS created_at, ",
            rfc3339!("last_used_at"),
            " AS last_used_at
             FROM passkeys p WHERE user_id = $1
             -- p.created_at: a bare created_at would name the text column above (whole seconds)
             ORDER BY p.created_at, p.id"
        ))
        .await?;
    let rows = client.query(&statement, &[&user.as_uuid()]).await?;
    Ok(rows.iter().map(summary_from).collect())
}

/// A passkey just removed: its name and when, for the notice to its owner.
#[derive(Debug)]
pub struct Removed {
    pub name: PasskeyName,
    /// When, as the notice says it (UTC).
    pub at: String,
}

/// What removing a passkey did.
#[derive(Debug)]
pub enum PasskeyRemoval {
    Removed(Removed),
    /// The account has no passkey of this id (another account's included).
    NotFound,
    /// It is the account's last way in: no password, no linked identity, no other passkey.
    LastSignInMethod,
}

/// Removes one of the account's passkeys and records the event, in one statement, unless the
/// account would be left with no way in (no password, no identity, no other passkey: the SQL
/// function `keeps_a_way_in`, V10, which unlinking an identity shares). Run in a
/// transaction: the account's row is locked first, so two removals at once cannot each count
/// on the other's passkey.
pub async fn delete_passkey(
    client: &impl GenericClient,
    user: UserId,
    id: Uuid,
    info: &ClientInfo,
) -> Result<PasskeyRemoval> {
    if !super::lock_account(client, user).await? {
        return Ok(PasskeyRemoval::NotFound);
    }
    let statement = client
        .prepare_cached(
            "WITH target AS (
                 SELECT id, user_id FROM passkeys WHERE id = $1 AND user_id = $2),
                  allowed AS (
                 SELECT t.id FROM target t WHERE keeps_a_way_in(t.user_id, NULL, t.id)),
                  gone AS (
                 DELETE FROM passkeys WHERE id IN (SELECT id FROM allowed)
                 RETURNING user_id, name),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, ip, user_agent)
                 SELECT $3, user_id, $4, $5 FROM gone)
             SELECT EXISTS (SELECT 1 FROM target) AS found,
                    (SELECT name FROM gone) AS name,
                    to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"') AS at",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &id,
                &user.as_uuid(),
                &EventKind::PasskeyRemoved.as_str(),
                &info.ip,
                &info.user_agent,
            ],
        )
        .await?;
    Ok(
        match (
            row.get::<_, bool>("found"),
            row.get::<_, Option<String>>("name"),
        ) {
            (_, Some(name)) => PasskeyRemoval::Removed(Removed {
                name: PasskeyName::from_stored(name),
                at: row.get("at"),
            }),
            (true, None) => PasskeyRemoval::LastSignInMethod,
            (false, None) => PasskeyRemoval::NotFound,
        },
    )
}

/// A passkey that signs in, with its account.
#[derive(Debug)]
pub struct SigninPasskey {
    pub id: Uuid,
    pub passkey: Passkey,
    pub user: User,
}

/// A sign-in ceremony taken: its state, and the passkey the assertion names, if the account the
/// assertion's user handle names has it.
#[derive(Debug)]
pub struct SigninCeremony {
    pub state: serde_json::Value,
    pub passkey: Option<SigninPasskey>,
}

/// Takes a live sign-in ceremony, once (as [`take_ceremony`]), and reads the passkey with
/// `credential_id` provided it belongs to the account `user` (the assertion's user handle), with
/// that account: one statement. `None` when the ceremony was not live.
pub async fn take_signin_ceremony(
    client: &impl GenericClient,
    id: CeremonyId,
    credential_id: &[u8],
    user: Uuid,
) -> Result<Option<SigninCeremony>> {
    let statement = client
        .prepare_cached(
            "WITH taken AS (
                 DELETE FROM webauthn_ceremonies
                 WHERE id = $1 AND kind = $2 AND user_id IS NULL AND expires_at > now()
                 RETURNING state)
             SELECT t.state, p.id AS passkey_id, p.passkey,
                    u.id, u.name, u.email, u.email_verified_at IS NOT NULL AS email_verified,
                    u.mfa_enabled
             FROM taken t
             LEFT JOIN passkeys p ON p.credential_id = $3 AND p.user_id = $4
             LEFT JOIN users u ON u.id = p.user_id",
        )
        .await?;
    let Some(row) = client
        .query_opt(
            &statement,
            &[
                &id.as_uuid(),
                &CeremonyKind::Authentication.as_str(),
                &credential_id,
                &user,
            ],
        )
        .await?
    else {
        return Ok(None);
    };
    let state = row.get::<_, Json<serde_json::Value>>("state").0;
    let passkey = match row.get::<_, Option<Uuid>>("passkey_id") {
        None => None,
        Some(passkey_id) => {
            let Json(passkey) = row.try_get::<_, Json<Passkey>>("passkey").map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("a stored passkey does not parse: {e}"))
            })?;
            Some(SigninPasskey {
                id: passkey_id,
                passkey,
                user: user_from(&row),
            })
        }
    };
    Ok(Some(SigninCeremony { state, passkey }))
}
