//! The admin API's SQL: accounts listed and looked at, disabled and enabled, their sessions ended,
//! their second factor reset, deleted; the audit log read. Each call's audit event, naming the
//! acting principal, is written by the statement that does the work.

use std::net::IpAddr;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::audit::EventKind;
use super::{OutboxEmail, Result, rfc3339};
use crate::domain::{AuditQuery, ClientInfo, Principal, UserId, UserListQuery};
use crate::emails::Message;

/// Who acts and from where: every admin statement records it in its event.
#[derive(Debug, Clone, Copy)]
pub struct AdminCall<'a> {
    pub actor: &'a Principal,
    pub client: &'a ClientInfo,
}

/// An account in the admin's list.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub disabled: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// The columns of [`UserSummary`], from `users u`.
macro_rules! summary_of_u {
    () => {
        concat!(
            "u.id, u.email, u.name, u.email_verified_at IS NOT NULL AS email_verified,
             u.disabled_at IS NOT NULL AS disabled, ",
            rfc3339!("u.created_at"),
            " AS created_at"
        )
    };
}

impl UserSummary {
    fn from_row(row: &Row) -> Self {
        UserSummary {
            id: row.get("id"),
            email: row.get("email"),
            name: row.get("name"),
            email_verified: row.get("email_verified"),
            disabled: row.get("disabled"),
            created_at: row.get("created_at"),
        }
    }
}

/// `%` and `_` (and the escape itself) taken literally in a `LIKE` pattern.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One page of accounts in id order, one more than asked (so the caller knows whether another
/// page follows), and the call's event.
pub async fn list_users(
    client: &impl GenericClient,
    query: &UserListQuery,
    call: AdminCall<'_>,
) -> Result<Vec<UserSummary>> {
    let statement = client
        .prepare_cached(concat!(
            "WITH event AS (
                 INSERT INTO auth_events (kind, actor, ip, user_agent) VALUES ($4, $5, $6, $7))
             SELECT ",
            summary_of_u!(),
            " FROM users u
             WHERE ($1::text IS NULL OR u.email LIKE $1 ESCAPE '\\')
               AND ($2::uuid IS NULL OR u.id > $2)
             ORDER BY u.id
             LIMIT $3"
        ))
        .await?;
    let rows = client
        .query(
            &statement,
            &[
                &query.email_prefix.as_deref().map(like_prefix),
                &query.after.map(|id| id.as_uuid()),
                &(query.limit.get() + 1),
                &EventKind::AdminUsersListed.as_str(),
                &call.actor.as_str(),
                &call.client.ip,
                &call.client.user_agent,
            ],
        )
        .await?;
    Ok(rows.iter().map(UserSummary::from_row).collect())
}

/// An account as the admin sees it (its factors, identities and sessions are read beside it).
#[derive(Debug, Clone, Serialize)]
pub struct UserProfile {
    #[serde(flatten)]
    pub summary: UserSummary,
    /// RFC 3339, UTC; `null` while enabled.
    pub disabled_at: Option<String>,
    /// False for an account made through a provider that never set one.
    pub has_password: bool,
}

/// The account, and the event that the admin looked at it; `None` (and no event) when there is
/// no such account.
pub async fn view_user(
    client: &impl GenericClient,
    user: UserId,
    call: AdminCall<'_>,
) -> Result<Option<UserProfile>> {
    let statement = client
        .prepare_cached(concat!(
            "WITH target AS (
                 SELECT ",
            summary_of_u!(),
            ", ",
            rfc3339!("u.disabled_at"),
            " AS disabled_at, u.password_hash IS NOT NULL AS has_password
                 FROM users u WHERE u.id = $1),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, actor, ip, user_agent)
                 SELECT $2, id, $3, $4, $5 FROM target)
             SELECT * FROM target"
        ))
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &user.as_uuid(),
                &EventKind::AdminUserViewed.as_str(),
                &call.actor.as_str(),
                &call.client.ip,
                &call.client.user_agent,
            ],
        )
        .await?;
    Ok(row.map(|row| UserProfile {
        summary: UserSummary::from_row(&row),
        disabled_at: row.get("disabled_at"),
        has_password: row.get("has_password"),
    }))
}

/// A live session as the admin sees it: how it was authenticated, not just where from.
#[derive(Debug, Clone, Serialize)]
pub struct AdminSession {
    pub id: Uuid,
    pub created_at: String,
    pub last_used_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<IpAddr>,
    pub aal: String,
    pub amr: Vec<String>,
}

/// The account's live sessions, most recently used first.
pub async fn live_sessions(client: &impl GenericClient, user: UserId) -> Result<Vec<AdminSession>> {
    let statement = client
        .prepare_cached(concat!(
            "SELECT id, user_agent, ip, aal, amr, ",
            rfc3339!("created_at"),
            " AS created_at, ",
            rfc3339!("last_used_at"),
            " AS last_used_at
             FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
             ORDER BY last_used_at DESC, created_at DESC"
        ))
        .await?;
    let rows = client.query(&statement, &[&user.as_uuid()]).await?;
    Ok(rows
        .iter()
        .map(|row| AdminSession {
            id: row.get("id"),
            created_at: row.get("created_at"),
            last_used_at: row.get("last_used_at"),
            user_agent: row.get("user_agent"),
            ip: row.get("ip"),
            aal: row.get("aal"),
            amr: row.get("amr"),
        })
        .collect())
}

/// The first statement of disabling: marks the account (kept from an earlier disable), taking
/// its row lock, which a session's opening holds `FOR SHARE` until it commits (the trigger of
/// V12). `false`: no such account.
pub async fn mark_disabled(client: &impl GenericClient, user: UserId) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1 RETURNING id",
        )
        .await?;
    Ok(client
        .query_opt(&statement, &[&user.as_uuid()])
        .await?
        .is_some())
}

/// Ends every live session of an account for an operator, with the event: after
/// [`mark_disabled`] in its transaction (a later statement, so it sees every session that
/// opened before the mark), or alone (`POST …/sessions/revoke`, which also ends the sign-ins
/// waiting for their second step; a disabled account's are refused when they complete, by the
/// database's rule, with 403 `account_disabled`). `None`: no such account.
pub async fn end_sessions_for_admin(
    client: &impl GenericClient,
    user: UserId,
    kind: EventKind,
    call: AdminCall<'_>,
) -> Result<Option<i64>> {
    let reason = match kind {
        EventKind::AccountDisabled => "account_disabled",
        _ => "revoked_by_admin",
    };
    let statement = client
        .prepare_cached(
            "WITH target AS (SELECT id FROM users WHERE id = $1),
                  ended AS (
                 UPDATE sessions SET revoked_at = now(), revoked_reason = $2
                 WHERE user_id IN (SELECT id FROM target)
                   AND revoked_at IS NULL AND expires_at > now()
                 RETURNING id),
                  challenges AS (
                 DELETE FROM mfa_challenges
                 WHERE user_id IN (SELECT id FROM target) AND $2 = 'revoked_by_admin'),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, actor, ip, user_agent)
                 SELECT $3, id, $4, $5, $6 FROM target)
             SELECT (SELECT count(*) FROM ended) AS ended FROM target",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &user.as_uuid(),
                &reason,
                &kind.as_str(),
                &call.actor.as_str(),
                &call.client.ip,
                &call.client.user_agent,
            ],
        )
        .await?;
    Ok(row.map(|row| row.get("ended")))
}

/// Lets a disabled account sign in again (its ended sessions stay ended), with the event.
/// `false`: no such account.
pub async fn enable_user(
    client: &impl GenericClient,
    user: UserId,
    call: AdminCall<'_>,
) -> Result<bool> {
    let statement = client
        .prepare_cached(
            "WITH enabled AS (UPDATE users SET disabled_at = NULL WHERE id = $1 RETURNING id),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, actor, ip, user_agent)
                 SELECT $2, id, $3, $4, $5 FROM enabled)
             SELECT id FROM enabled",
        )
        .await?;
    Ok(client
        .query_opt(
            &statement,
            &[
                &user.as_uuid(),
                &EventKind::AccountEnabled.as_str(),
                &call.actor.as_str(),
                &call.client.ip,
                &call.client.user_agent,
            ],
        )
        .await?
        .is_some())
}

/// The address of an account, its row locked until the transaction ends (an operator's
/// deletion needs its digest). `None`: no such account.
pub async fn lock_user_email(client: &impl GenericClient, user: UserId) -> Result<Option<String>> {
    let statement = client
        .prepare_cached("SELECT email FROM users WHERE id = $1 FOR UPDATE")
        .await?;
    Ok(client
        .query_opt(&statement, &[&user.as_uuid()])
        .await?
        .map(|row| row.get("email")))
}

/// What an operator's reset of the second factor removed.
#[derive(Debug)]
pub struct MfaReset {
    pub totp_was_enabled: bool,
    pub recovery_codes_deleted: i64,
    /// The notice to the owner, queued when TOTP was on.
    pub notice: Option<OutboxEmail>,
}

/// Turns TOTP off (confirmed or pending) and deletes the recovery codes, the open second steps
/// and the wrong-code window, queues the owner's notice (when TOTP was on) and records the
/// event: one statement. `None`: no such account.
pub async fn reset_mfa(
    client: &impl GenericClient,
    user: UserId,
    notice: &Message,
    call: AdminCall<'_>,
) -> Result<Option<MfaReset>> {
    let statement = client
        .prepare_cached(
            "WITH target AS (SELECT id, email FROM users WHERE id = $1),
                  totp AS (
                 DELETE FROM mfa_totp WHERE user_id IN (SELECT id FROM target)
                 RETURNING confirmed_at IS NOT NULL AS was_on),
                  codes AS (
                 DELETE FROM mfa_recovery_codes WHERE user_id IN (SELECT id FROM target)
                 RETURNING 1),
                  challenges AS (
                 DELETE FROM mfa_challenges WHERE user_id IN (SELECT id FROM target)),
                  failures AS (
                 DELETE FROM mfa_failures WHERE user_id IN (SELECT id FROM target)),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, actor, ip, user_agent)
                 SELECT $2, id, $3, $4, $5 FROM target),
                  queued AS (
                 INSERT INTO email_outbox (recipient, subject, body_text)
                 SELECT email, $6, $7 FROM target WHERE EXISTS (SELECT 1 FROM totp WHERE was_on)
                 RETURNING id, recipient, subject, body_text)
             SELECT EXISTS (SELECT 1 FROM totp WHERE was_on) AS totp_was_enabled,
                    (SELECT count(*) FROM codes) AS recovery_codes_deleted,
                    q.id, q.recipient, q.subject, q.body_text
             FROM target LEFT JOIN queued q ON true",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &user.as_uuid(),
                &EventKind::MfaReset.as_str(),
                &call.actor.as_str(),
                &call.client.ip,
                &call.client.user_agent,
                &notice.subject,
                &notice.body,
            ],
        )
        .await?;
    Ok(row.map(|row| MfaReset {
        totp_was_enabled: row.get("totp_was_enabled"),
        recovery_codes_deleted: row.get("recovery_codes_deleted"),
        notice: row
            .get::<_, Option<i64>>("id")
            .map(|_| OutboxEmail::from_row(&row)),
    }))
}

/// One event of the audit log as the admin reads it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339, UTC.
    pub occurred_at: String,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    /// The operator who acted (admin calls); `null` for what users did themselves.
    pub actor: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// The columns of [`AuditEntry`], and the event that the log was read; the page's own event is
/// not in the page (one snapshot).
macro_rules! audit_page {
    ($filter:literal) => {
        concat!(
            "WITH event AS (
                 INSERT INTO auth_events (kind, user_id, actor, ip, user_agent)
                 VALUES ($4, $1, $5, $6, $7))
             SELECT id, kind, user_id, session_id, actor, ip, user_agent, ",
            rfc3339!("occurred_at"),
            " AS occurred_at FROM auth_events
             WHERE ",
            $filter,
            " AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC
             LIMIT $3"
        )
    };
}

/// One page of the audit log, newest first, one more than asked; of one account (by its index)
/// or of all. Reading it is itself an event (of that account, when filtered).
pub async fn audit_events(
    client: &impl GenericClient,
    query: &AuditQuery,
    call: AdminCall<'_>,
) -> Result<Vec<AuditEntry>> {
    // Two statements rather than `$1 IS NULL OR …`, so each keeps the plan of its index.
    let sql = match query.user {
        Some(_) => audit_page!("user_id = $1"),
        None => audit_page!("$1::uuid IS NULL"),
    };
    let statement = client.prepare_cached(sql).await?;
    let rows = client
        .query(
            &statement,
            &[
                &query.user.map(|id| id.as_uuid()),
                &query.after,
                &(query.limit.get() + 1),
                &EventKind::AdminAuditRead.as_str(),
                &call.actor.as_str(),
                &call.client.ip,
                &call.client.user_agent,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| AuditEntry {
            id: row.get("id"),
            occurred_at: row.get("occurred_at"),
            kind: row.get("kind"),
            user_id: row.get("user_id"),
            session_id: row.get("session_id"),
            actor: row.get("actor"),
            ip: row.get("ip"),
            user_agent: row.get("user_agent"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn a_prefix_matches_literally() {
        assert_eq!(like_prefix("alice@"), "alice@%");
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
