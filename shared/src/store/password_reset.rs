//! Password-reset requests: budgets, token and outbox email written by one statement.

use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::audit::EventKind;
use super::throttling::{Bucket, Budget, RequestCount};
use super::{OutboxEmail, Result, seconds};
use crate::domain::{ClientInfo, Email};
use crate::tokens::TokenHash;

/// A reset request as the service prepared it: the token and the email that carries it are made
/// before anyone knows whether the account exists, so both outcomes cost the same.
#[derive(Debug)]
pub struct ResetRequest<'a> {
    pub email: &'a Email,
    pub token: &'a TokenHash,
    pub ttl: Duration,
    pub subject: &'a str,
    pub body: &'a str,
    pub client: &'a ClientInfo,
    pub ip_budget: Budget,
    /// Reset emails one address may receive per window.
    pub email_budget: Budget,
}

/// What [`queue_password_reset`] did.
#[derive(Debug)]
pub struct ResetQueued {
    pub ip: RequestCount,
    /// The email to deliver; `None` for an unknown account or a spent email budget.
    pub email: Option<OutboxEmail>,
}

/// One statement whatever the outcome, so known and unknown emails take the same path through
/// the database: counts the request against the client's IP budget and the address's email
/// budget, and, for an existing account within both, stores the token and queues the email. The
/// request is audited either way (by email digest) unless the IP budget refused it.
pub async fn queue_password_reset(
    client: &impl GenericClient,
    request: &ResetRequest<'_>,
) -> Result<ResetQueued> {
    let statement = client
        .prepare_cached(
            "WITH ip AS (SELECT hits, resets_in FROM hit_rate_limit($16, $1, $2)),
                  mailbox AS (SELECT hits FROM hit_rate_limit($17, $4, $5)),
                  target AS (
                      SELECT u.id, u.email FROM users u, ip, mailbox
                      WHERE u.email = $7 AND ip.hits <= $3::bigint AND mailbox.hits <= $6::bigint),
                  token AS (
                      INSERT INTO reset_tokens (token_hash, user_id, expires_at)
                      SELECT $8, id, now() + make_interval(secs => $9) FROM target),
                  queued AS (
                      INSERT INTO email_outbox (recipient, subject, body_text)
                      SELECT email, $10, $11 FROM target
                      RETURNING id, recipient, subject, body_text),
                  event AS (
                      INSERT INTO auth_events (kind, user_id, email_hash, ip, user_agent)
                      SELECT $12, (SELECT id FROM target), $13, $14, $15 FROM ip WHERE ip.hits <= $3::bigint)
             SELECT ip.hits, ip.resets_in, q.id, q.recipient, q.subject, q.body_text
             FROM ip LEFT JOIN queued q ON true",
        )
        .await?;
    let digest = request.email.digest();
    let row = client
        .query_one(
            &statement,
            &[
                &request.client.rate_limit_subject(),
                &seconds(request.ip_budget.window),
                &i64::from(request.ip_budget.requests),
                &digest.to_hex(),
                &seconds(request.email_budget.window),
                &i64::from(request.email_budget.requests),
                &request.email.as_str(),
                &request.token.0.as_slice(),
                &seconds(request.ttl),
                &request.subject,
                &request.body,
                &EventKind::PasswordResetRequested.as_str(),
                &digest.0.as_slice(),
                &request.client.ip,
                &request.client.user_agent,
                &Bucket::ForgotPasswordIp.as_str(),
                &Bucket::ResetEmail.as_str(),
            ],
        )
        .await?;
    let email = row
        .get::<_, Option<i64>>("id")
        .map(|_| OutboxEmail::from_row(&row));
    Ok(ResetQueued {
        ip: RequestCount {
            hits: row.get("hits"),
            resets_in: row.get("resets_in"),
        },
        email,
    })
}
