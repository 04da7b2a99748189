//! Request budgets, counted in PostgreSQL so they hold across every Lambda instance:
//! `RATE_LIMIT_SIGNUP`, `RATE_LIMIT_SIGNIN`, `RATE_LIMIT_FORGOT_PASSWORD`,
//! `RATE_LIMIT_PASSKEY_SIGNIN`, `RATE_LIMIT_WINDOW`, `RESET_EMAILS_PER_WINDOW` and
//! `RESET_EMAIL_WINDOW`.

use std::time::Duration;

use super::{ConfigError, Environment};

/// Requests one client IP may make per window: generous (100), since offices and mobile carriers
/// put many people behind one address.
const PER_IP: u32 = 100;
/// The window of the per-IP budgets, in seconds.
const IP_WINDOW: u64 = 300;
/// Reset emails one address may receive per window.
const RESET_EMAILS: u32 = 3;
/// The window of the reset-email budget, in seconds.
const RESET_EMAIL_WINDOW: u64 = 3600;

/// Request budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `RATE_LIMIT_SIGNUP`, `RATE_LIMIT_SIGNIN`, `RATE_LIMIT_FORGOT_PASSWORD`: requests one client
    /// IP may make to the endpoint per window (100).
    pub signup_per_ip: u32,
    pub signin_per_ip: u32,
    pub forgot_password_per_ip: u32,
    /// `RATE_LIMIT_PASSKEY_SIGNIN`: passkey sign-ins one client IP may start per window (100).
    /// Starting needs no account, and each start keeps a ceremony for five minutes: the budget
    /// keeps it from being a cheap way to fill the database.
    pub passkey_signin_per_ip: u32,
    /// `RATE_LIMIT_WINDOW`: the window of the per-IP budgets (300 s).
    pub ip_window: Duration,
    /// `RESET_EMAILS_PER_WINDOW` per `RESET_EMAIL_WINDOW` (3 per 3600 s): reset emails one address
    /// may receive; requests beyond it get the usual answer and send nothing, so the API cannot
    /// be used to flood someone's inbox.
    pub reset_emails_per_email: u32,
    pub reset_email_window: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            signup_per_ip: PER_IP,
            signin_per_ip: PER_IP,
            forgot_password_per_ip: PER_IP,
            passkey_signin_per_ip: PER_IP,
            ip_window: Duration::from_secs(IP_WINDOW),
            reset_emails_per_email: RESET_EMAILS,
            reset_email_window: Duration::from_secs(RESET_EMAIL_WINDOW),
        }
    }
}

impl RateLimits {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        Ok(RateLimits {
            signup_per_ip: env.count("RATE_LIMIT_SIGNUP", PER_IP)?,
            signin_per_ip: env.count("RATE_LIMIT_SIGNIN", PER_IP)?,
            forgot_password_per_ip: env.count("RATE_LIMIT_FORGOT_PASSWORD", PER_IP)?,
            passkey_signin_per_ip: env.count("RATE_LIMIT_PASSKEY_SIGNIN", PER_IP)?,
            ip_window: env.seconds("RATE_LIMIT_WINDOW", IP_WINDOW)?,
            reset_emails_per_email: env.count("RESET_EMAILS_PER_WINDOW", RESET_EMAILS)?,
            reset_email_window: env.seconds("RESET_EMAIL_WINDOW", RESET_EMAIL_WINDOW)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::*;

    #[tokio::test]
    async fn rate_limits_default_generously_and_can_be_set() {
        assert!(RateLimits::default().signin_per_ip >= 100);
        let limits = load(&[
            DB,
            KEY,
            ("RATE_LIMIT_SIGNUP", "7"),
            ("RATE_LIMIT_SIGNIN", "8"),
            ("RATE_LIMIT_FORGOT_PASSWORD", "9"),
            ("RATE_LIMIT_PASSKEY_SIGNIN", "10"),
            ("RATE_LIMIT_WINDOW", "60"),
            ("RESET_EMAILS_PER_WINDOW", "2"),
            ("RESET_EMAIL_WINDOW", "600"),
        ])
        .await
        .unwrap()
        .limits;
        assert_eq!(
            limits,
            RateLimits {
                signup_per_ip: 7,
                signin_per_ip: 8,
                forgot_password_per_ip: 9,
                passkey_signin_per_ip: 10,
                ip_window: Duration::from_secs(60),
                reset_emails_per_email: 2,
                reset_email_window: Duration::from_secs(600),
            }
        );
    }
}
