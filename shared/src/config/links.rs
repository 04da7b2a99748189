//! Where emailed links point: a configured base URL, or the domain the request reached the API at
//! (`from-request`), shared by `RESET_URL` and `VERIFY_URL`.

use super::ConfigError;

/// The base of an emailed link; the token follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkBase {
    /// A configured base such as `https://auth.example.com/reset-password`.
    Fixed(String),
    /// `from-request`: `https://<the API's domain>/<page>`, the domain taken from the request
    /// context API Gateway fills in (never from a client header). For stacks whose API URL cannot
    /// be known before the function exists (the SAM template's default).
    FromRequest { page: &'static str },
}

impl LinkBase {
    /// `value` of the variable `name`: `from-request` or an http(s) URL (a trailing `/` dropped).
    pub(super) fn parse(
        name: &str,
        value: &str,
        page: &'static str,
    ) -> Result<LinkBase, ConfigError> {
        match value.trim_end_matches('/') {
            "from-request" => Ok(LinkBase::FromRequest { page }),
            url if url.starts_with("https://") || url.starts_with("http://") => {
                Ok(LinkBase::Fixed(url.to_owned()))
            }
            _ => Err(ConfigError::new(
                name,
                "must be an http:// or https:// URL, or from-request",
            )),
        }
    }

    /// The link base for a request that reached the API at `api_domain` (when known).
    pub fn base(&self, api_domain: Option<&str>) -> Option<String> {
        match self {
            LinkBase::Fixed(base) => Some(base.clone()),
            LinkBase::FromRequest { page } => {
                api_domain.map(|domain| format!("https://{domain}/{page}"))
            }
        }
    }
}
