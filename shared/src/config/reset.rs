//! Password reset: `RESET_TOKEN_TTL` and `RESET_URL`, the base of the emailed link.

use std::time::Duration;

use super::{ConfigError, Environment, LinkBase};

/// How long a reset token lives, and where the emailed link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetSettings {
    /// `RESET_TOKEN_TTL` (30 minutes).
    pub token_ttl: Duration,
    /// `RESET_URL`: the link is `<base>/<token>`.
    pub url: LinkBase,
}

impl ResetSettings {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let token_ttl = env.seconds("RESET_TOKEN_TTL", 1800)?;
        let url = env.text_or("RESET_URL", "http://localhost:5001/reset-password");
        let url = LinkBase::parse("RESET_URL", &url, "reset-password")?;
        Ok(ResetSettings { token_ttl, url })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DB, KEY, load};
    use super::*;

    #[tokio::test]
    async fn the_link_base_is_fixed_or_taken_from_the_request() {
        let fixed = load(&[
            DB,
            KEY,
            ("RESET_URL", "https://auth.example.com/reset-password/"),
        ])
        .await
        .unwrap();
        assert_eq!(
            fixed.reset.url,
            LinkBase::Fixed("https://auth.example.com/reset-password".into())
        );
        let from_request = load(&[DB, ("RESET_URL", "from-request")]).await.unwrap();
        assert_eq!(
            from_request.reset.url,
            LinkBase::FromRequest {
                page: "reset-password"
            }
        );
        assert_eq!(
            from_request
                .reset
                .url
                .base(Some("abc.execute-api.eu-west-1.amazonaws.com"))
                .as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/reset-password")
        );
        assert_eq!(from_request.reset.url.base(None), None);
    }
}
