//! Throttling state in PostgreSQL, shared by every Lambda instance: per-IP request budgets and the
//! sign-in lockout, whose rule is the SQL functions `begin_signin_attempt` and `end_signin_attempt`.

use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::audit::EventKind;
use super::{Result, seconds, user_from};
use crate::domain::{ClientInfo, Email, EmailDigest, User, UserId};
use crate::error::ApiError;
use crate::hashing::PasswordHashString;
use crate::tokens::TokenHash;

/// A budget counted per client IP (or per email, for reset emails) in fixed windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    SignupIp,
    SigninIp,
    ForgotPasswordIp,
    /// `POST /api/passkeys/signin/start` per client IP.
    PasskeySigninIp,
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
            Bucket::PasskeySigninIp => "passkey-signin:ip",
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
    /// The streaks the attempt is counted under, to finish it with ([`record_signin_failure`],
    /// or the success's statement).
    pub scopes: LockoutScopes,
    pub account: Option<(User, PasswordHashString)>,
    /// Whether that account was disabled by an operator (told only after the right password).
    pub disabled: bool,
}

/// The lockout rule's verdict on one attempt (see `begin_signin_attempt` in
/// `migrations/V5__lockout_per_network_and_device.sql`, the one place the rule is written).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lockout {
    /// Refused, not counted: a scope it would count under is locked (or already has as many
    /// attempts in flight as it has failures left) for this many more seconds.
    Locked { seconds: f64 },
    /// Admitted: pending until [`record_signin_failure`] counts it or a success clears it.
    Admitted,
}

/// The failure streaks an attempt is counted under, as the database chose them: the device's
/// own, when a valid device token of the account came with it, else the client network's and
/// the account-wide one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockoutScopes(pub Vec<String>);

impl LockoutScopes {
    /// Whether a device token exempted the attempt from the network and account-wide locks.
    pub fn trusted_device(&self) -> bool {
        self.0.iter().any(|scope| scope.starts_with("device:"))
    }
}

/// The first of a sign-in's two statements: counts the request against the client's IP budget,
/// then (within the budget) admits the attempt under the lockout rule, in the scopes its device
/// token (if valid for this account) or its network puts it in, and fetches the account.
pub async fn begin_signin(
    client: &impl GenericClient,
    info: &ClientInfo,
    ip_budget: Budget,
    email: &Email,
    device: Option<&TokenHash>,
) -> Result<SigninAttempt> {
    let statement = client
        .prepare_cached(
            // `attempt` runs only for an `ip` row within the budget, and once: the function's
            // result is kept whole and its fields read from it.
            "WITH ip AS (SELECT hits, resets_in FROM hit_rate_limit($4, $1, $2)),
                  account AS (SELECT u.id, u.name, u.email,
                                     u.email_verified_at IS NOT NULL AS email_verified,
                                     u.password_hash, u.disabled_at IS NOT NULL AS disabled,
                                     u.mfa_enabled
                              FROM users u WHERE u.email = $6),
                  scopes AS (
                      SELECT CASE WHEN EXISTS (
                                      SELECT 1 FROM signin_devices d JOIN account a ON a.id = d.user_id
                                      WHERE d.token_hash = $7 AND d.expires_at > now())
                                  THEN ARRAY['device:' || encode(substr($7, 1, 16), 'hex')]
                                  ELSE ARRAY['account', 'net:' || $8]
                             END AS list),
                  attempt AS (SELECT begin_signin_attempt($5, scopes.list) AS verdict
                              FROM ip, scopes WHERE ip.hits <= $3::bigint)
             SELECT ip.hits, ip.resets_in, scopes.list AS scopes,
                    (attempt.verdict).admitted, (attempt.verdict).wait, a.*
             FROM ip CROSS JOIN scopes LEFT JOIN attempt ON true LEFT JOIN account a ON true",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &info.rate_limit_subject(),
                &seconds(ip_budget.window),
                &i64::from(ip_budget.requests),
                &Bucket::SigninIp.as_str(),
                &email.digest().0.as_slice(),
                &email.as_str(),
                &device.map(|hash| hash.0.as_slice()),
                &info.network(),
            ],
        )
        .await?;
    let lockout = match (row.get::<_, Option<bool>>("admitted"), row.get("wait")) {
        (Some(true), _) => Some(Lockout::Admitted),
        (Some(false), Some(seconds)) => Some(Lockout::Locked { seconds }),
        _ => None,
    };
    // An account made through an OpenID provider has no password (yet): to a password it is as
    // an unknown address, checked against no hash after the same work.
    let account = row
        .get::<_, Option<uuid::Uuid>>("id")
        .zip(row.get::<_, Option<String>>("password_hash"))
        .map(|(_, hash)| (user_from(&row), PasswordHashString::from_stored(hash)));
    Ok(SigninAttempt {
        ip: RequestCount {
            hits: row.get("hits"),
            resets_in: row.get("resets_in"),
        },
        lockout,
        scopes: LockoutScopes(row.get("scopes")),
        account,
        disabled: row.get::<_, Option<bool>>("disabled").unwrap_or(false),
    })
}

/// Counts a failed sign-in in its streaks and records it in the audit log, with the lockout it
/// started when it did.
pub async fn record_signin_failure(
    client: &impl GenericClient,
    email: &EmailDigest,
    scopes: &LockoutScopes,
    user_id: Option<UserId>,
    info: &ClientInfo,
) -> Result<()> {
    let statement = client
        .prepare_cached(
            "WITH ended AS (SELECT end_signin_attempt($3, $6, false) AS locked)
             INSERT INTO auth_events (kind, user_id, email_hash, ip, user_agent)
             SELECT kind, $2, $3, $4, $5
             FROM ended, unnest(CASE WHEN ended.locked THEN ARRAY[$1, $7]
                                     ELSE ARRAY[$1] END) AS kind",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &EventKind::SigninFailed.as_str(),
                &user_id.map(|id| id.as_uuid()),
                &email.0.as_slice(),
                &info.ip,
                &info.user_agent,
                &scopes.0,
                &EventKind::Lockout.as_str(),
            ],
        )
        .await?;
    Ok(())
}
