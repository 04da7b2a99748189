//! Password reset: `RESET_TOKEN_TTL` and `RESET_URL`, the base of the emailed link.

use std::time::Duration;

use super::{ConfigError, Environment};

/// How long a reset token lives, and where the emailed link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetSettings {
    /// `RESET_TOKEN_TTL` (30 minutes).
    pub token_ttl: Duration,
    /// `RESET_URL`: the link is `<base>/<token>`.
    pub url: ResetUrl,
}

/// Where the emailed reset link points (`RESET_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetUrl {
    /// A configured base such as `https://auth.example.com/reset-password`.
    Fixed(String),
    /// `from-request`: `https://<the API's domain>/reset-password`, the domain taken from the
    /// request context API Gateway fills in (never from a client header). For stacks whose API
    /// URL cannot be known before the function exists (the SAM template's default).
    FromRequest,
}

impl ResetUrl {
    /// The link base for a request that reached the API at `api_domain` (when known).
    pub fn base(&self, api_domain: Option<&str>) -> Option<String> {
        match self {
            ResetUrl::Fixed(base) => Some(base.clone()),
            ResetUrl::FromRequest => {
                api_domain.map(|domain| format!("https://{domain}/reset-password"))
            }
        }
    }
}

impl ResetSettings {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let token_ttl = env.seconds("RESET_TOKEN_TTL", 1800)?;
        let url = env.text_or("RESET_URL", "http://localhost:5001/reset-password");
        let url = match url.trim_end_matches('/') {
            "from-request" => ResetUrl::FromRequest,
            url if url.starts_with("https://") || url.starts_with("http://") => {
                ResetUrl::Fixed(url.to_owned())
            }
            _ => {
                return Err(ConfigError::new(
                    "RESET_URL",
                    "must be an http:// or https:// URL, or from-request",
                ));
            }
        };
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
            ResetUrl::Fixed("https://auth.example.com/reset-password".into())
        );
        let from_request = load(&[DB, ("RESET_URL", "from-request")]).await.unwrap();
        assert_eq!(from_request.reset.url, ResetUrl::FromRequest);
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
