//! Throttling state in PostgreSQL, shared by every Lambda instance: per-IP request budgets and the
//! per-email sign-in lockout.

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
}

impl Bucket {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Bucket::SignupIp => "signup:ip",
            Bucket::SigninIp => "signin:ip",
            Bucket::ForgotPasswordIp => "forgot-password:ip",
            Bucket::ResetEmail => "reset-email",
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

/// When failed sign-ins lock an email out, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Consecutive failures allowed before each further one locks: 2^(n − free) seconds after
    /// the n-th.
    pub free_failures: i32,
    pub max_lock: Duration,
    /// A failure streak this old is forgotten.
    pub forget_after: Duration,
}

/// What the first statement of a sign-in found.
#[derive(Debug)]
pub struct SigninAttempt {
    pub ip: RequestCount,
    /// The email was locked out before this attempt, for this much longer.
    pub locked_for: Option<f64>,
    /// Failures in the current streak, this attempt included; `None` when the attempt was not
    /// counted: over the IP budget, or locked (possibly by a concurrent attempt that committed
    /// after this statement's snapshot, in which case `locked_for` is still `None`).
    pub streak: Option<i32>,
    pub account: Option<(User, PasswordHashString)>,
}

/// The first of a sign-in's two statements: counts the request against the client's IP budget,
/// reads the email's lockout, counts this attempt as a failure until it proves otherwise, and
/// fetches the account. Counting up front makes the lockout hold against parallel guesses: the
/// sixth of six concurrent attempts already sees five failures. A success deletes the streak.
pub async fn begin_signin(
    client: &impl GenericClient,
    ip_subject: &str,
    ip_budget: Budget,
    email: &Email,
    policy: LockoutPolicy,
) -> Result<SigninAttempt> {
    // Every sub-statement sees the snapshot taken before the statement, so `prior` is the lock
    // as it stood before this attempt.
    let statement = client
        .prepare_cached(
            "WITH ip AS (SELECT hits, resets_in FROM hit_rate_limit($9, $1, $2)),
                  prior AS (SELECT locked_until FROM signin_failures
                            WHERE email_hash = $4 AND locked_until > now()),
                  attempt AS (
                      INSERT INTO signin_failures AS f (email_hash, failures, locked_until, expires_at)
                      SELECT $4, 1, NULL, now() + make_interval(secs => $7)
                      FROM ip WHERE ip.hits <= $3::bigint
                      ON CONFLICT (email_hash) DO UPDATE SET
                          failures = CASE WHEN f.expires_at > now() THEN f.failures ELSE 0 END + 1,
                          locked_until = CASE
                              WHEN CASE WHEN f.expires_at > now() THEN f.failures ELSE 0 END + 1 >= $5
                              THEN now() + make_interval(secs => least(
                                  power(2, CASE WHEN f.expires_at > now() THEN f.failures ELSE 0 END + 1 - $5),
                                  $6))
                          END,
                          expires_at = excluded.expires_at
                      WHERE f.locked_until IS NULL OR f.locked_until <= now()
                      RETURNING failures)
             SELECT ip.hits, ip.resets_in,
                    (SELECT extract(epoch FROM locked_until - now())::double precision FROM prior) AS locked_for,
                    (SELECT failures FROM attempt) AS streak,
                    u.id, u.name, u.email, u.password_hash
             FROM ip LEFT JOIN users u ON u.email = $8",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &ip_subject,
                &seconds(ip_budget.window),
                &i64::from(ip_budget.requests),
                &email.digest().0.as_slice(),
                &policy.free_failures,
                &seconds(policy.max_lock),
                &seconds(policy.forget_after),
                &email.as_str(),
                &Bucket::SigninIp.as_str(),
            ],
        )
        .await?;
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
        locked_for: row.get("locked_for"),
        streak: row.get("streak"),
        account,
    })
}

/// Seconds left of an email's lockout, if any. Needed only when a concurrent attempt locked the
/// email between [`begin_signin`]'s snapshot and its upsert (the attempt was not counted).
pub async fn lock_remaining(
    client: &impl GenericClient,
    email: &EmailDigest,
) -> Result<Option<f64>> {
    let statement = client
        .prepare_cached(
            "SELECT extract(epoch FROM locked_until - now())::double precision FROM signin_failures
             WHERE email_hash = $1 AND locked_until > now()",
        )
        .await?;
    let row = client.query_opt(&statement, &[&email.0.as_slice()]).await?;
    Ok(row.map(|row| row.get(0)))
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
