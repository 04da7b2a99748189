//! Proven email addresses: `REQUIRE_EMAIL_VERIFICATION`, `VERIFICATION_TOKEN_TTL`,
//! `VERIFICATION_RESEND_INTERVAL`, `UNVERIFIED_ACCOUNT_TTL`, `VERIFY_URL` (the base of the
//! emailed link) and the key the emailed codes are stored under (`VERIFICATION_CODE_KEY`, or
//! `VERIFICATION_CODE_KEY_ARN` in AWS).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, Environment, LinkBase, secret_problem};
use crate::aws::Aws;

/// An HMAC key shorter than the hash output weakens it (RFC 2104 §3).
const MIN_KEY_BYTES: usize = 32;

/// How addresses are proven.
#[derive(Debug, Clone)]
pub struct VerificationSettings {
    /// `REQUIRE_EMAIL_VERIFICATION` (true): sign-up answers 202 whatever the address and an
    /// account signs in only once its address is confirmed. `false` keeps the original sign-up
    /// (201 with the user, 409 `email_taken`), which tells anyone which addresses have accounts.
    pub required: bool,
    /// `VERIFICATION_TOKEN_TTL` (a day): how long an emailed link and code work.
    pub token_ttl: Duration,
    /// `VERIFICATION_RESEND_INTERVAL` (60 s): at most one confirmation email per address per
    /// interval, whatever sent it.
    pub resend_interval: Duration,
    /// `UNVERIFIED_ACCOUNT_TTL` (7 days): an account left unconfirmed this long is deleted by the
    /// janitor, so a squatted address frees itself.
    pub unverified_account_ttl: Duration,
    /// `VERIFY_URL`: the emailed link is `<base>#<token>`.
    pub url: LinkBase,
    /// `VERIFICATION_CODE_KEY` (or `VERIFICATION_CODE_KEY_ARN`): the codes are stored as HMACs
    /// under it. Only the functions that make or check codes are given it.
    pub code_key: Option<SecretString>,
}

impl VerificationSettings {
    pub(super) async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let required = env.flag("REQUIRE_EMAIL_VERIFICATION", true)?;
        let token_ttl = env.seconds("VERIFICATION_TOKEN_TTL", 86_400)?;
        let resend_interval = env.seconds("VERIFICATION_RESEND_INTERVAL", 60)?;
        let unverified_account_ttl = env.seconds("UNVERIFIED_ACCOUNT_TTL", 604_800)?;
        let url = env.text_or("VERIFY_URL", "http://localhost:5001/verify-email");
        let key = env.secret("VERIFICATION_CODE_KEY");
        let key_arn = env.text("VERIFICATION_CODE_KEY_ARN");

        let url = LinkBase::parse("VERIFY_URL", &url, "verify-email")?;
        let (variable, code_key) = match (key, key_arn) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "VERIFICATION_CODE_KEY_ARN",
                    "set VERIFICATION_CODE_KEY or VERIFICATION_CODE_KEY_ARN, not both",
                ));
            }
            (Some(key), None) => ("VERIFICATION_CODE_KEY", Some(key)),
            (None, Some(arn)) => (
                "VERIFICATION_CODE_KEY_ARN",
                Some(aws.secret_string(arn).await.map_err(|e| {
                    ConfigError::new("VERIFICATION_CODE_KEY_ARN", secret_problem(e))
                })?),
            ),
            (None, None) => ("VERIFICATION_CODE_KEY", None),
        };
        if code_key
            .as_ref()
            .is_some_and(|key| key.expose_secret().len() < MIN_KEY_BYTES)
        {
            return Err(ConfigError::new(
                variable,
                format!(
                    "must be at least {MIN_KEY_BYTES} bytes (generate one with `openssl rand -base64 48`)"
                ),
            ));
        }
        Ok(VerificationSettings {
            required,
            token_ttl,
            resend_interval,
            unverified_account_ttl,
            url,
            code_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::*;

    #[tokio::test]
    async fn verification_is_required_by_default_and_can_be_switched_off() {
        let defaults = load(&[DB, KEY]).await.unwrap().verification;
        assert!(defaults.required);
        assert_eq!(defaults.token_ttl, Duration::from_secs(86_400));
        assert_eq!(defaults.resend_interval, Duration::from_secs(60));
        assert_eq!(
            defaults.unverified_account_ttl,
            Duration::from_secs(604_800)
        );
        assert_eq!(
            defaults.url,
            LinkBase::Fixed("http://localhost:5001/verify-email".into())
        );
        assert!(defaults.code_key.is_none());
        for off in ["false", "FALSE", "0", "no"] {
            let settings = load(&[DB, KEY, ("REQUIRE_EMAIL_VERIFICATION", off)])
                .await
                .unwrap()
                .verification;
            assert!(!settings.required, "{off}");
        }
        let from_request = load(&[DB, KEY, ("VERIFY_URL", "from-request")])
            .await
            .unwrap()
            .verification;
        assert_eq!(
            from_request.url.base(Some("api.example.com")).as_deref(),
            Some("https://api.example.com/verify-email")
        );
    }

    #[tokio::test]
    async fn each_bad_verification_setting_is_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[DB, KEY, ("REQUIRE_EMAIL_VERIFICATION", "maybe")],
                "REQUIRE_EMAIL_VERIFICATION",
            ),
            (
                &[DB, KEY, ("VERIFICATION_TOKEN_TTL", "0")],
                "VERIFICATION_TOKEN_TTL",
            ),
            (
                &[DB, KEY, ("VERIFICATION_RESEND_INTERVAL", "soon")],
                "VERIFICATION_RESEND_INTERVAL",
            ),
            (
                &[DB, KEY, ("UNVERIFIED_ACCOUNT_TTL", "0")],
                "UNVERIFIED_ACCOUNT_TTL",
            ),
            (&[DB, KEY, ("VERIFY_URL", "mailto:x")], "VERIFY_URL"),
            (
                &[DB, KEY, ("VERIFICATION_CODE_KEY", "short")],
                "VERIFICATION_CODE_KEY",
            ),
        ];
        for (vars, variable) in cases {
            let error = load(vars).await.unwrap_err();
            assert_eq!(error.variable, *variable, "{error}");
            assert!(
                !error.to_string().contains("short"),
                "no key material: {error}"
            );
        }
    }
}
