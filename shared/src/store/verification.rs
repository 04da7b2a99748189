//! Proven addresses: sign-up that answers alike whatever the address, confirmation by link or
//! code, resending, changing the address, deleting the account. Each use case is one statement,
//! so every rule holds under concurrency and every path does the same round trips.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::audit::EventKind;
use super::throttling::{Bucket, Budget, LockoutScopes, RequestCount};
use super::{OutboxEmail, Result, USERS_EMAIL_KEY, seconds};
use crate::domain::{ClientInfo, Email, Principal, UserId, UserName};
use crate::emails::Message;
use crate::error::ApiError;
use crate::hashing::PasswordHashString;
use crate::tokens::{CodeHash, TokenHash};

/// Wrong codes after which an address's current code is dead (its link still works).
pub const MAX_WRONG_CODES: i32 = 5;

/// A confirmation to store: its link's token and its code, and how long they work.
#[derive(Debug, Clone, Copy)]
pub struct Confirmation<'a> {
    pub token: &'a TokenHash,
    pub code: &'a CodeHash,
    pub ttl: Duration,
    /// No new confirmation for an address within this long of the previous one.
    pub resend_interval: Duration,
    pub message: &'a Message,
}

/// A sign-up while addresses must be proven (the client's IP budget was counted before the
/// password was hashed).
#[derive(Debug)]
pub struct Registration<'a> {
    pub name: &'a UserName,
    pub email: &'a Email,
    pub password_hash: &'a PasswordHashString,
    pub confirmation: Confirmation<'a>,
    /// To an address that already has a confirmed account, at most once per window.
    pub notice: &'a Message,
    pub notice_window: Duration,
    pub client: &'a ClientInfo,
}

/// What a use case queued, and the client's count when it has a budget.
#[derive(Debug)]
pub struct Queued {
    pub ip: RequestCount,
    pub emails: Vec<OutboxEmail>,
}

fn queued_emails(rows: &[tokio_postgres::Row]) -> Vec<OutboxEmail> {
    rows.iter()
        .filter(|row| row.get::<_, Option<i64>>("id").is_some())
        .map(OutboxEmail::from_row)
        .collect()
}

fn request_count(rows: &[tokio_postgres::Row]) -> RequestCount {
    let row = rows.first().expect("the statement returns the count's row");
    RequestCount {
        hits: row.get("hits"),
        resets_in: row.get("resets_in"),
    }
}

/// The upsert of an account's one live confirmation: a newer one replaces it (killing the older
/// link and code), unless the previous one went out within the resend interval. The source
/// relation gives `(user_id, email, purpose, session_id)`; then the token, code, TTL and interval
/// parameters.
macro_rules! issue_confirmation {
    ($source:literal, $token:literal, $code:literal, $ttl:literal, $interval:literal) => {
        concat!(
            "INSERT INTO email_verifications AS v
                 (user_id, email, purpose, session_id, token_hash, code_hash, sent_at, expires_at)
             SELECT user_id, email, purpose, session_id, ",
            $token,
            ", ",
            $code,
            ", now(), now() + make_interval(secs => ",
            $ttl,
            ") FROM ",
            $source,
            "
             ON CONFLICT (user_id) DO UPDATE SET
                 email = excluded.email, purpose = excluded.purpose,
                 session_id = excluded.session_id, token_hash = excluded.token_hash,
                 code_hash = excluded.code_hash, wrong_codes = 0, sent_at = excluded.sent_at,
                 expires_at = excluded.expires_at
             WHERE v.sent_at <= now() - make_interval(secs => ",
            $interval,
            ")
             RETURNING user_id"
        )
    };
}

/// The sign-up of an address, in one statement whatever the address, so the answer (and its
/// time) is the same for a new address, a confirmed account's and an unconfirmed one's:
///
/// - new: the account is created unconfirmed, with a confirmation;
/// - an unconfirmed account's: nothing about the account changes (not its password); a new
///   confirmation goes out, unless one did within the resend interval;
/// - a confirmed account's: nothing changes; its owner is told, at most once per window.
pub async fn register(
    client: &impl GenericClient,
    request: &Registration<'_>,
) -> Result<Vec<OutboxEmail>> {
    let statement = client
        .prepare_cached(concat!(
            "WITH existing AS (SELECT id, email_verified_at IS NOT NULL AS verified
                               FROM users WHERE email = $1),
                  created AS (
                      INSERT INTO users (name, email, password_hash, verification_required)
                      SELECT $2, $1, $3, true
                      WHERE NOT EXISTS (SELECT 1 FROM existing)
                      ON CONFLICT (email) DO NOTHING
                      RETURNING id),
                  pending AS (
                      SELECT id AS user_id, $1 AS email, 'signup' AS purpose,
                             NULL::uuid AS session_id FROM created
                      UNION ALL
                      SELECT id, $1, 'signup', NULL::uuid FROM existing WHERE NOT verified),
                  issued AS (",
            issue_confirmation!("pending", "$4", "$5", "$6", "$7"),
            "),
                  notice AS (
                      SELECT (hit_rate_limit($8, $9, $10)).hits AS hits
                      FROM existing WHERE verified),
                  queued AS (
                      INSERT INTO email_outbox (recipient, subject, body_text)
                      SELECT $1::text, $11::text, $12::text FROM issued
                      UNION ALL
                      SELECT $1, $13, $14 FROM notice WHERE hits <= 1
                      RETURNING id, recipient, subject, body_text),
                  event AS (
                      INSERT INTO auth_events (kind, user_id, ip, user_agent)
                      SELECT $15, id, $18::inet, $19::text FROM created
                      UNION ALL
                      SELECT $16, id, $18, $19 FROM existing
                      UNION ALL
                      SELECT $17, user_id, $18, $19 FROM issued)
             SELECT id, recipient, subject, body_text FROM queued"
        ))
        .await?;
    let confirmation = &request.confirmation;
    let rows = client
        .query(
            &statement,
            &[
                &request.email.as_str(),
                &request.name.as_str(),
                &request.password_hash.as_str(),
                &confirmation.token.0.as_slice(),
                &confirmation.code.0.as_slice(),
                &seconds(confirmation.ttl),
                &seconds(confirmation.resend_interval),
                &Bucket::AlreadyRegisteredNotice.as_str(),
                &request.email.digest().to_hex(),
                &seconds(request.notice_window),
                &confirmation.message.subject,
                &confirmation.message.body,
                &request.notice.subject,
                &request.notice.body,
                &EventKind::Signup.as_str(),
                &EventKind::SignupForExistingAddress.as_str(),
                &EventKind::VerificationSent.as_str(),
                &request.client.ip,
                &request.client.user_agent,
            ],
        )
        .await?;
    Ok(queued_emails(&rows))
}

/// A request for a new confirmation email.
#[derive(Debug)]
pub struct Resend<'a> {
    pub email: &'a Email,
    pub confirmation: Confirmation<'a>,
    pub ip_budget: Budget,
    pub client: &'a ClientInfo,
}

/// A new confirmation for an unconfirmed account's address, unless one went out within the
/// resend interval; nothing for any other address. Within the client's IP budget.
pub async fn resend(client: &impl GenericClient, request: &Resend<'_>) -> Result<Queued> {
    let statement = client
        .prepare_cached(concat!(
            "WITH ip AS (SELECT hits, resets_in FROM hit_rate_limit($1, $2, $3)),
                  target AS (
                      SELECT u.id AS user_id, u.email, 'signup' AS purpose,
                             NULL::uuid AS session_id
                      FROM users u, ip
                      WHERE u.email = $5 AND u.email_verified_at IS NULL AND ip.hits <= $4::bigint),
                  issued AS (",
            issue_confirmation!("target", "$6", "$7", "$8", "$9"),
            "),
                  queued AS (
                      INSERT INTO email_outbox (recipient, subject, body_text)
                      SELECT $5, $10, $11 FROM issued
                      RETURNING id, recipient, subject, body_text),
                  event AS (
                      INSERT INTO auth_events (kind, user_id, ip, user_agent)
                      SELECT $12, user_id, $13, $14 FROM issued)
             SELECT ip.hits, ip.resets_in, q.id, q.recipient, q.subject, q.body_text
             FROM ip LEFT JOIN queued q ON true"
        ))
        .await?;
    let confirmation = &request.confirmation;
    let rows = client
        .query(
            &statement,
            &[
                &Bucket::ResendIp.as_str(),
                &request.client.rate_limit_subject(),
                &seconds(request.ip_budget.window),
                &i64::from(request.ip_budget.requests),
                &request.email.as_str(),
                &confirmation.token.0.as_slice(),
                &confirmation.code.0.as_slice(),
                &seconds(confirmation.ttl),
                &seconds(confirmation.resend_interval),
                &confirmation.message.subject,
                &confirmation.message.body,
                &EventKind::VerificationSent.as_str(),
                &request.client.ip,
                &request.client.user_agent,
            ],
        )
        .await?;
    Ok(Queued {
        ip: request_count(&rows),
        emails: queued_emails(&rows),
    })
}

/// What proves an address: the emailed link's token, or the address with its code.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    Token(&'a TokenHash),
    Code {
        email: &'a Email,
        code: &'a CodeHash,
    },
}

/// What a confirmation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// A new account's address is proven.
    Account(UserId),
    /// An account moved to its new address; its other sessions ended.
    NewAddress(UserId),
}

/// The confirmation's tail, from `v` (the deleted, hence single-use, confirmation): the address
/// is set and proven, an address change ends every session but the one that asked, and the event
/// is recorded. `$2`, `$3`: the client's IP and user agent; `$4`, `$5`: the event kinds.
macro_rules! confirm {
    ($proof:literal) => {
        concat!(
            "WITH ",
            $proof,
            ",
                  proven AS (
                      UPDATE users u SET email = v.email, email_verified_at = now(),
                             updated_at = now()
                      FROM v WHERE u.id = v.user_id
                      RETURNING u.id),
                  ended AS (
                      UPDATE sessions s SET revoked_at = now(), revoked_reason = 'email_changed'
                      FROM v
                      WHERE v.purpose = 'change_email' AND s.user_id = v.user_id
                        AND s.revoked_at IS NULL AND s.id IS DISTINCT FROM v.session_id),
                  event AS (
                      INSERT INTO auth_events (kind, user_id, ip, user_agent)
                      SELECT CASE v.purpose WHEN 'signup' THEN $4 ELSE $5 END, v.user_id, $2, $3
                      FROM v)
             SELECT v.user_id, v.purpose FROM v JOIN proven ON proven.id = v.user_id"
        )
    };
}

/// Confirms an address, once: the confirmation is deleted as it is used, so of two concurrent
/// confirmations exactly one succeeds (the other waits on the row, then finds it gone). A wrong
/// code counts against the address's codes; an address taken meanwhile by another account ends
/// the confirmation unused (`invalid_verification_token`). `None`: nothing matched.
pub async fn confirm(
    client: &impl GenericClient,
    proof: Proof<'_>,
    info: &ClientInfo,
) -> Result<Option<Confirmed>> {
    let kinds = [
        EventKind::EmailVerified.as_str(),
        EventKind::EmailChanged.as_str(),
    ];
    let outcome = match proof {
        Proof::Token(token) => {
            let statement = client
                .prepare_cached(confirm!(
                    "v AS (DELETE FROM email_verifications
                           WHERE token_hash = $1 AND expires_at > now()
                           RETURNING user_id, email, purpose, session_id)"
                ))
                .await?;
            client
                .query_opt(
                    &statement,
                    &[
                        &token.0.as_slice(),
                        &info.ip,
                        &info.user_agent,
                        &kinds[0],
                        &kinds[1],
                    ],
                )
                .await
        }
        Proof::Code { email, code } => {
            // A miss counts against every confirmation of the address, whichever the code
            // was for; the hit deletes its row first, so no row is changed twice.
            let statement = client
                .prepare_cached(confirm!(
                    "v AS (DELETE FROM email_verifications
                           WHERE email = $6 AND code_hash = $1 AND wrong_codes < $7
                             AND expires_at > now()
                           RETURNING user_id, email, purpose, session_id),
                  missed AS (UPDATE email_verifications SET wrong_codes = wrong_codes + 1
                             WHERE email = $6 AND NOT EXISTS (SELECT 1 FROM v))"
                ))
                .await?;
            client
                .query_opt(
                    &statement,
                    &[
                        &code.0.as_slice(),
                        &info.ip,
                        &info.user_agent,
                        &kinds[0],
                        &kinds[1],
                        &email.as_str(),
                        &MAX_WRONG_CODES,
                    ],
                )
                .await
        }
    };
    let row = match outcome {
        Ok(row) => row,
        Err(e) if crate::db::is_unique_violation(&e, USERS_EMAIL_KEY) => {
            // The new address went to another account meanwhile: this change can never complete.
            drop_confirmation(client, proof).await?;
            return Err(ApiError::InvalidVerificationToken);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(row.map(|row| {
        let user_id = UserId::from_uuid(row.get("user_id"));
        match row.get::<_, &str>("purpose") {
            "signup" => Confirmed::Account(user_id),
            _ => Confirmed::NewAddress(user_id),
        }
    }))
}

/// Deletes the confirmation a proof names (after a failed confirmation).
async fn drop_confirmation(client: &impl GenericClient, proof: Proof<'_>) -> Result<()> {
    match proof {
        Proof::Token(token) => {
            client
                .execute(
                    "DELETE FROM email_verifications WHERE token_hash = $1",
                    &[&token.0.as_slice()],
                )
                .await?
        }
        Proof::Code { email, code } => {
            client
                .execute(
                    "DELETE FROM email_verifications WHERE email = $1 AND code_hash = $2",
                    &[&email.as_str(), &code.0.as_slice()],
                )
                .await?
        }
    };
    Ok(())
}

/// An account's request to move to a new address.
#[derive(Debug)]
pub struct EmailChange<'a> {
    pub user_id: UserId,
    pub session_id: Uuid,
    /// The address the account has now: told at once, and the attempt's failure streaks
    /// cleared (the password was just proven).
    pub current: &'a Email,
    pub scopes: &'a LockoutScopes,
    pub new: &'a Email,
    pub confirmation: Confirmation<'a>,
    /// To the new address when it already has an account, at most once per window.
    pub taken_notice: &'a Message,
    pub notice_window: Duration,
    /// To the current address.
    pub change_notice: &'a Message,
    pub client: &'a ClientInfo,
}

/// Asks for the move, in one statement: a confirmation to the new address (none when it already
/// belongs to an account, whose owner is told instead), and a notice to the current one. The
/// account keeps its address until the new one is confirmed.
pub async fn request_email_change(
    client: &impl GenericClient,
    change: &EmailChange<'_>,
) -> Result<Vec<OutboxEmail>> {
    let statement = client
        .prepare_cached(concat!(
            "WITH taken AS (SELECT 1 FROM users WHERE email = $2),
                  pending AS (
                      SELECT $1::uuid AS user_id, $2 AS email, 'change_email' AS purpose,
                             $3::uuid AS session_id
                      WHERE NOT EXISTS (SELECT 1 FROM taken)),
                  issued AS (",
            issue_confirmation!("pending", "$4", "$5", "$6", "$7"),
            "),
                  notice AS (
                      SELECT (hit_rate_limit($8, $9, $10)).hits AS hits
                      WHERE EXISTS (SELECT 1 FROM taken)),
                  cleared AS (SELECT end_signin_attempt($11, $22, true)),
                  queued AS (
                      INSERT INTO email_outbox (recipient, subject, body_text)
                      SELECT $2::text, $12::text, $13::text FROM issued
                      UNION ALL
                      SELECT $2, $14, $15 FROM notice WHERE hits <= 1
                      UNION ALL
                      SELECT $16, $17, $18
                      RETURNING id, recipient, subject, body_text),
                  event AS (
                      INSERT INTO auth_events (kind, user_id, session_id, ip, user_agent)
                      SELECT $19, $1, $3, $20, $21 FROM cleared)
             SELECT id, recipient, subject, body_text FROM queued"
        ))
        .await?;
    let confirmation = &change.confirmation;
    let rows = client
        .query(
            &statement,
            &[
                &change.user_id.as_uuid(),
                &change.new.as_str(),
                &change.session_id,
                &confirmation.token.0.as_slice(),
                &confirmation.code.0.as_slice(),
                &seconds(confirmation.ttl),
                &seconds(confirmation.resend_interval),
                &Bucket::AlreadyRegisteredNotice.as_str(),
                &change.new.digest().to_hex(),
                &seconds(change.notice_window),
                &change.current.digest().0.as_slice(),
                &confirmation.message.subject,
                &confirmation.message.body,
                &change.taken_notice.subject,
                &change.taken_notice.body,
                &change.current.as_str(),
                &change.change_notice.subject,
                &change.change_notice.body,
                &EventKind::EmailChangeRequested.as_str(),
                &change.client.ip,
                &change.client.user_agent,
                &change.scopes.0,
            ],
        )
        .await?;
    Ok(rows.iter().map(OutboxEmail::from_row).collect())
}

/// A signed-in user's new password, proven by the current one.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    pub user_id: UserId,
    /// The session that asked: it stays, every other one ends.
    pub session_id: Uuid,
    pub email: &'a Email,
    pub old_hash: &'a PasswordHashString,
    pub new_hash: &'a PasswordHashString,
    pub notice: &'a Message,
    pub client: &'a ClientInfo,
}

/// Sets the new password, in one statement: only over the hash that was verified (a concurrent
/// change or reset wins), ends the other sessions and the outstanding reset links, clears the
/// failure streak, tells the address and records the event. Returns the notice; `None` when the
/// password changed meanwhile.
pub async fn change_password(
    client: &impl GenericClient,
    change: &PasswordChange<'_>,
) -> Result<Option<OutboxEmail>> {
    let statement = client
        .prepare_cached(
            "WITH changed AS (
                 UPDATE users SET password_hash = $3, updated_at = now()
                 WHERE id = $1 AND password_hash = $4
                 RETURNING id),
                  ended AS (
                 UPDATE sessions SET revoked_at = now(), revoked_reason = 'password_changed'
                 WHERE user_id IN (SELECT id FROM changed) AND id <> $2 AND revoked_at IS NULL),
                  resets AS (
                 UPDATE reset_tokens SET used_at = now()
                 WHERE user_id IN (SELECT id FROM changed) AND used_at IS NULL),
                  cleared AS (
                 DELETE FROM signin_failures WHERE email_hash = $5
                   AND EXISTS (SELECT 1 FROM changed)),
                  queued AS (
                 INSERT INTO email_outbox (recipient, subject, body_text)
                 SELECT $6, $7, $8 FROM changed
                 RETURNING id, recipient, subject, body_text),
                  event AS (
                 INSERT INTO auth_events (kind, user_id, session_id, ip, user_agent)
                 SELECT $9, id, $2, $10, $11 FROM changed)
             SELECT id, recipient, subject, body_text FROM queued",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &change.user_id.as_uuid(),
                &change.session_id,
                &change.new_hash.as_str(),
                &change.old_hash.as_str(),
                &change.email.digest().0.as_slice(),
                &change.email.as_str(),
                &change.notice.subject,
                &change.notice.body,
                &EventKind::PasswordChanged.as_str(),
                &change.client.ip,
                &change.client.user_agent,
            ],
        )
        .await?;
    Ok(row.as_ref().map(OutboxEmail::from_row))
}

/// An account's deletion: by its owner (who is sent a goodbye) or by an operator (named).
#[derive(Debug, Clone, Copy)]
pub struct AccountDeletion<'a> {
    pub user_id: UserId,
    pub email: &'a Email,
    /// The owner's goodbye email; `None` when an operator deletes (an abuser, say).
    pub goodbye: Option<&'a Message>,
    /// The operator who deleted it; `None` when the owner did.
    pub actor: Option<&'a Principal>,
    pub client: &'a ClientInfo,
}

/// Deletes an account and everything hanging from it (sessions, tokens, confirmations: the
/// foreign keys cascade), its failure streak and its earlier emails, in one statement; queues the
/// goodbye email (when there is one) and records the event (by id, without the address, with
/// the operator who acted). `None` when the account was already gone; else the goodbye queued.
pub async fn delete_account(
    client: &impl GenericClient,
    deletion: &AccountDeletion<'_>,
) -> Result<Option<Option<OutboxEmail>>> {
    let statement = client
        .prepare_cached(
            "WITH gone AS (DELETE FROM users WHERE id = $1 RETURNING id, email),
                  streak AS (DELETE FROM signin_failures WHERE email_hash = $2),
                  earlier AS (DELETE FROM email_outbox
                              WHERE recipient IN (SELECT email FROM gone)),
                  queued AS (
                      INSERT INTO email_outbox (recipient, subject, body_text)
                      SELECT email, $3, $4 FROM gone WHERE $3::text IS NOT NULL
                      RETURNING id, recipient, subject, body_text),
                  event AS (
                      INSERT INTO auth_events (kind, user_id, actor, ip, user_agent)
                      SELECT $5, id, $8, $6, $7 FROM gone)
             SELECT q.id, q.recipient, q.subject, q.body_text
             FROM gone LEFT JOIN queued q ON true",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &deletion.user_id.as_uuid(),
                &deletion.email.digest().0.as_slice(),
                &deletion.goodbye.map(|goodbye| goodbye.subject),
                &deletion.goodbye.map(|goodbye| goodbye.body.as_str()),
                &EventKind::AccountDeleted.as_str(),
                &deletion.client.ip,
                &deletion.client.user_agent,
                &deletion.actor.map(Principal::as_str),
            ],
        )
        .await?;
    Ok(row.map(|row| {
        row.get::<_, Option<i64>>("id")
            .map(|_| OutboxEmail::from_row(&row))
    }))
}

/// The second statement of a sign-in with the right password to an account that may not sign in
/// (unconfirmed, or disabled by an operator): the attempt's failure streaks are cleared (the
/// password was right) and the refusal recorded as `kind`.
pub async fn refuse_signin(
    client: &impl GenericClient,
    user_id: UserId,
    email: &Email,
    scopes: &LockoutScopes,
    kind: EventKind,
    info: &ClientInfo,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "WITH cleared AS (SELECT end_signin_attempt($2, $6, true))
             INSERT INTO auth_events (kind, user_id, ip, user_agent)
             SELECT $1, $3, $4, $5 FROM cleared",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &kind.as_str(),
                &email.digest().0.as_slice(),
                &user_id.as_uuid(),
                &info.ip,
                &info.user_agent,
                &scopes.0,
            ],
        )
        .await?;
    Ok(())
}

/// Deletes the accounts created while addresses had to be proven and left unconfirmed for `ttl`
/// (so a squatted address frees itself), and the expired confirmations of the others, in one
/// statement. Returns both counts.
pub async fn prune_unconfirmed(client: &impl GenericClient, ttl: Duration) -> Result<(u64, u64)> {
    let statement = client
        .prepare_cached(
            "WITH accounts AS (
                 DELETE FROM users
                 WHERE verification_required AND email_verified_at IS NULL
                   AND created_at < now() - make_interval(secs => $1)
                 RETURNING id),
                  confirmations AS (
                 DELETE FROM email_verifications
                 WHERE expires_at < now() AND user_id NOT IN (SELECT id FROM accounts)
                 RETURNING 1)
             SELECT (SELECT count(*) FROM accounts) AS accounts,
                    (SELECT count(*) FROM confirmations) AS confirmations",
        )
        .await?;
    let row = client.query_one(&statement, &[&seconds(ttl)]).await?;
    Ok((
        row.get::<_, i64>("accounts") as u64,
        row.get::<_, i64>("confirmations") as u64,
    ))
}
