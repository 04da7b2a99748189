//! Throttling state in PostgreSQL, shared by every Lambda instance: per-IP request budgets and the
//! per-email sign-in lockout, whose rule is the SQL function `count_signin_attempt`.

use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::audit::EventKind;
use super::{Result, seconds, user_from};
use crate::domain::{ClientInfo, Email, EmailDigest, User, UserId};
use crate::error::ApiError;
use crate::hashing::PasswordHashString;

/// A budget counted per client IP (or per email, for reset emails) in fixed windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    SignupIp,
    SigninIp,
    ForgotPasswordIp,
    /// Reset emails sent to one address.
    ResetEmail,
    /// `POST /api/resend-verification` per client IP.
    ResendIp,
    /// "Someone tried to create an account with your address" notices to one address.
    AlreadyRegisteredNotice,
}

impl Bucket {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Bucket::SignupIp => "signup:ip",
            Bucket::SigninIp => "signin:ip",
            Bucket::ForgotPasswordIp => "forgot-password:ip",
            Bucket::ResetEmail => "reset-email",
            Bucket::ResendIp => "resend-verification:ip",
            Bucket::AlreadyRegisteredNotice => "already-registered-notice",
        }
    }
}

/// A budget and the window it refills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub requests: u32,
    pub window: Duration,
}

/// Requests counted in the current window, this one included.
#[derive(Debug, Clone, Copy)]
pub struct RequestCount {
    pub hits: i32,
    /// Seconds until the window starts again.
    pub resets_in: f64,
}

impl RequestCount {
    /// `rate_limited`, with the wait, once the window holds more requests than the budget.
    pub fn check(&self, budget: u32) -> std::result::Result<(), ApiError> {
        if self.exceeds(budget) {
            Err(ApiError::RateLimited(whole_seconds(self.resets_in)))
        } else {
            Ok(())
        }
    }

    pub fn exceeds(&self, budget: u32) -> bool {
        i64::from(self.hits) > i64::from(budget)
    }
}

/// Seconds to wait, rounded up so a client that waits exactly that long is let through.
pub fn whole_seconds(seconds: f64) -> u64 {
    seconds.max(0.0).ceil() as u64
}

/// Counts one request against a bucket: one atomic upsert (see `hit_rate_limit` in the migration).
pub async fn count_request(
    client: &impl GenericClient,
    bucket: Bucket,
    subject: &str,
    window: Duration,
) -> Result<RequestCount> {
    let statement = client
        .prepare_cached("SELECT hits, resets_in FROM hit_rate_limit($1, $2, $3)")
        .await?;
    let row = client
        .query_one(&statement, &[&bucket.as_str(), &subject, &seconds(window)])
        .await?;
    Ok(RequestCount {
        hits: row.get("hits"),
        resets_in: row.get("resets_in"),
    })
}

/// What the first statement of a sign-in found.
#[derive(Debug)]
pub struct SigninAttempt {
    pub ip: RequestCount,
    /// The attempt as the lockout rule judged it; `None` when it was not counted because the
    /// client is over its IP budget (`hits` exceeds the budget).
    pub lockout: Option<Lockout>,
    pub account: Option<(User, PasswordHashString)>,
}

/// The lockout rule's verdict on one attempt (see `count_signin_attempt` in
/// `migrations/V3__signin_lockout_rule.sql`, the one place the rule is written).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lockout {
    /// The address was locked: refused, not counted, for this many more seconds.
    Locked { seconds: f64 },
    /// Counted as a failure until the password proves otherwise; `locks` when this failure
    /// locks the address.
    Counted { locks: bool },
}

/// The first of a sign-in's two statements: counts the request against the client's IP budget,
/// then (within the budget) counts the attempt under the lockout rule, and fetches the account.
pub async fn begin_signin(
    client: &impl GenericClient,
    ip_subject: &str,
    ip_budget: Budget,
    email: &Email,
) -> Result<SigninAttempt> {
    let statement = client
        .prepare_cached(
            // The select list runs only for an `ip` row within the budget, and once: the
            // function's result is kept whole and its fields read from it.
            "WITH ip AS (SELECT hits, resets_in FROM hit_rate_limit($4, $1, $2)),
                  attempt AS (SELECT count_signin_attempt($5) AS verdict
                              FROM ip WHERE ip.hits <= $3::bigint)
             SELECT ip.hits, ip.resets_in, (attempt.verdict).streak,
                    (attempt.verdict).locked_for, (attempt.verdict).locks,
                    u.id, u.name, u.email, u.email_verified_at IS NOT NULL AS email_verified,
                    u.password_hash
             FROM ip LEFT JOIN attempt ON true LEFT JOIN users u ON u.email = $6",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &ip_subject,
                &seconds(ip_budget.window),
                &i64::from(ip_budget.requests),
                &Bucket::SigninIp.as_str(),
                &email.digest().0.as_slice(),
                &email.as_str(),
            ],
        )
        .await?;
    let lockout = match (row.get::<_, Option<i32>>("streak"), row.get("locked_for")) {
        (_, Some(seconds)) => Some(Lockout::Locked { seconds }),
        (Some(_), None) => Some(Lockout::Counted {
            locks: row.get("locks"),
        }),
        (None, None) => None,
    };
    let account = row.get::<_, Option<uuid::Uuid>>("id").map(|_| {
        (
            user_from(&row),
            PasswordHashString::from_stored(row.get("password_hash")),
        )
    });
    Ok(SigninAttempt {
        ip: RequestCount {
            hits: row.get("hits"),
            resets_in: row.get("resets_in"),
        },
        lockout,
        account,
    })
}

/// Records a failed sign-in in the audit log, and the lockout it started when it did.
pub async fn record_signin_failure(
    client: &impl GenericClient,
    email: &EmailDigest,
    user_id: Option<UserId>,
    locks: bool,
    info: &ClientInfo,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "INSERT INTO auth_events (kind, user_id, email_hash, ip, user_agent)
             SELECT kind, $2, $3, $4, $5 FROM unnest($1::text[]) AS kind",
        )
        .await?;
    let kinds: &[&str] = if locks {
        &[
            EventKind::SigninFailed.as_str(),
            EventKind::Lockout.as_str(),
        ]
    } else {
        &[EventKind::SigninFailed.as_str()]
    };
    client
        .execute(
            &statement,
            &[
                &kinds,
                &user_id.map(|id| id.as_uuid()),
                &email.0.as_slice(),
                &info.ip,
                &info.user_agent,
            ],
        )
        .await?;
    Ok(())
}
