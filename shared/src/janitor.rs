//! The janitor: on a schedule, deletes rows that can no longer matter (audit events past their
//! retention too) and sends (or retries) queued emails.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::service::App;
use crate::store::{self, Pruned};

/// Ended sessions and old outbox rows are kept this long (audit, support questions).
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// An email younger than this may still be in its request's hands, when requests deliver their
/// own (the log transport): leave it alone. SES emails are the janitor's from the start.
const SETTLE: Duration = Duration::from_secs(120);
/// Attempts after which an email is left for a human to look at.
const MAX_ATTEMPTS: i32 = 5;
/// Emails retried per run; the schedule comes back for the rest.
const BATCH: i64 = 50;

/// What one run did: the janitor's answer to its invocation (read back by `make bench`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Report {
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub revoked_tokens: u64,
    pub reset_tokens: u64,
    pub emails_pruned: u64,
    pub throttles: u64,
    /// Passkey ceremonies never finished in time.
    pub ceremonies: u64,
    /// Accounts left unconfirmed past `UNVERIFIED_ACCOUNT_TTL`.
    pub unconfirmed_accounts: u64,
    /// Expired confirmation links and codes.
    pub confirmations: u64,
    /// Audit events past `AUDIT_RETENTION_DAYS`.
    pub audit_events: u64,
    pub emails_sent: u64,
    pub emails_failed: u64,
}

impl Report {
    /// Whether the run found nothing to delete and nothing to send.
    pub fn is_idle(&self) -> bool {
        let Report {
            sessions,
            refresh_tokens,
            revoked_tokens,
            reset_tokens,
            emails_pruned,
            throttles,
            ceremonies,
            unconfirmed_accounts,
            confirmations,
            audit_events,
            emails_sent,
            emails_failed,
        } = self;
        [
            sessions,
            refresh_tokens,
            revoked_tokens,
            reset_tokens,
            emails_pruned,
            throttles,
            ceremonies,
            unconfirmed_accounts,
            confirmations,
            audit_events,
            emails_sent,
            emails_failed,
        ]
        .iter()
        .all(|count| **count == 0)
    }
}

/// One run: prune (accounts left unconfirmed too), then retry a batch of unsent emails (only
/// while a link in them could still work).
pub async fn sweep(app: &App) -> Result<Report, ApiError> {
    let mut client = app.pool.get().await?;
    let Pruned {
        sessions,
        refresh_tokens,
        revoked_tokens,
        reset_tokens,
        emails,
        throttles,
        ceremonies,
    } = store::prune_expired(&client, KEEP).await?;
    let mut report = Report {
        sessions,
        refresh_tokens,
        revoked_tokens,
        reset_tokens,
        emails_pruned: emails,
        throttles,
        ceremonies,
        ..Report::default()
    };
    // Apart from the pruning above: deleting an account cascades into tables pruned there.
    (report.unconfirmed_accounts, report.confirmations) =
        store::prune_unconfirmed(&client, app.config.verification.unverified_account_ttl).await?;
    report.audit_events =
        store::prune_audit_events(&client, app.config.retention.audit_events).await?;
    let transaction = client.transaction().await?;
    // SES is called with these rows locked: the database's default idle-in-transaction limit
    // (set by migrate, sized for requests) could end the session mid-batch, and the batch would
    // be sent again on the next run.
    transaction
        .batch_execute("SET LOCAL idle_in_transaction_session_timeout = '60s'")
        .await?;
    let settle = if app.mailer.delivers_in_request() {
        SETTLE
    } else {
        Duration::ZERO
    };
    // Past the longest a link in them works, emails are not worth sending.
    let give_up = app
        .config
        .reset
        .token_ttl
        .max(app.config.verification.token_ttl);
    let unsent =
        store::lock_unsent_emails(&transaction, settle, give_up, MAX_ATTEMPTS, BATCH).await?;
    for email in &unsent {
        if app.mailer.deliver(&transaction, email).await {
            report.emails_sent += 1;
        } else {
            report.emails_failed += 1;
        }
    }
    transaction.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_idle_only_when_it_did_nothing_at_all() {
        assert!(Report::default().is_idle());
        let sent = Report {
            emails_sent: 1,
            ..Report::default()
        };
        let pruned = Report {
            throttles: 2,
            ..Report::default()
        };
        assert!(!sent.is_idle() && !pruned.is_idle());
    }
}
