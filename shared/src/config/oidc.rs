//! Sign-in through OpenID Connect providers, configured per provider and never coded:
//! `OIDC_PROVIDERS` (comma-separated names), then for each NAME `OIDC_<NAME>_ISSUER`,
//! `OIDC_<NAME>_CLIENT_ID`, `OIDC_<NAME>_CLIENT_SECRET` (in AWS `OIDC_<NAME>_CLIENT_SECRET_ARN`)
//! and optionally `OIDC_<NAME>_SCOPES` and `OIDC_<NAME>_RESPONSE_MODE`;
//! `OAUTH_REDIRECT_ALLOWLIST`, the exact URLs an app may ask to be sent back to; and
//! `API_PUBLIC_URL`, the API's own base, where each provider sends its callback
//! (`<API_PUBLIC_URL>/api/oauth/<name>/callback`).

use secrecy::SecretString;

use super::{ConfigError, Environment, secret_problem};
use crate::aws::Aws;
use crate::domain::ProviderName;

/// Scopes asked for when a provider names none.
const DEFAULT_SCOPES: &str = "openid email profile";

/// One configured provider; its discovery happens when a function first needs it.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    pub name: ProviderName,
    /// The issuer exactly as the provider's discovery document states it (a trailing `/`
    /// included or not): discovery refuses any other.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Always with `openid`.
    pub scopes: Vec<String>,
    /// How the provider hands the code back.
    pub response_mode: ResponseMode,
}

/// How a provider sends the browser back to the callback (`OIDC_<NAME>_RESPONSE_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// A redirect with the code in the query (`GET …/callback?code=…`): the default.
    Query,
    /// A form the browser posts (`POST …/callback`, `application/x-www-form-urlencoded`), which
    /// Apple requires whenever the name or the address is asked for.
    FormPost,
}

/// Where the API is reached from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPublicUrl {
    /// A configured base such as `https://auth.example.com` (no trailing `/`).
    Fixed(String),
    /// `from-request`: `https://<the API's domain>`, the domain taken from the request context
    /// API Gateway fills in (as `RESET_URL`'s `from-request`).
    FromRequest,
}

/// The providers, the apps' allowed return addresses, and the API's public base.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub providers: Vec<OidcProvider>,
    pub redirect_allowlist: Vec<String>,
    pub api_public_url: ApiPublicUrl,
}

impl OidcSettings {
    pub(super) async fn load(env: &Environment, aws: &Aws) -> Result<Self, ConfigError> {
        let listed = provider_names(env)?;
        let allowlist = env.text("OAUTH_REDIRECT_ALLOWLIST").unwrap_or_default();
        let api_public_url = env.text_or("API_PUBLIC_URL", "http://localhost:5001");

        let mut providers = Vec::with_capacity(listed.len());
        for name in listed {
            providers.push(provider(env, aws, name).await?);
        }
        let redirect_allowlist = allowlist
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| match url::Url::parse(url) {
                Ok(parsed) if returnable(&parsed) => Ok(url.to_owned()),
                _ => Err(ConfigError::new(
                    "OAUTH_REDIRECT_ALLOWLIST",
                    format!(
                        "{url:?} is not an absolute URL without a fragment: an http(s) URL with a \
                         host, or an app's own scheme (myapp://callback)"
                    ),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !providers.is_empty() && redirect_allowlist.is_empty() {
            return Err(ConfigError::new(
                "OAUTH_REDIRECT_ALLOWLIST",
                "is empty while OIDC_PROVIDERS names providers: no app could be sent back",
            ));
        }
        let api_public_url = match api_public_url.trim_end_matches('/') {
            "from-request" => ApiPublicUrl::FromRequest,
            url if url.starts_with("https://") || url.starts_with("http://") => {
                ApiPublicUrl::Fixed(url.to_owned())
            }
            _ => {
                return Err(ConfigError::new(
                    "API_PUBLIC_URL",
                    "must be an http:// or https:// URL, or from-request",
                ));
            }
        };
        Ok(OidcSettings {
            providers,
            redirect_allowlist,
            api_public_url,
        })
    }

    /// The configured provider of that name.
    pub fn provider(&self, name: &ProviderName) -> Option<&OidcProvider> {
        self.providers
            .iter()
            .find(|provider| &provider.name == name)
    }
}

/// `OIDC_PROVIDERS`: the providers' names, in order, each once (empty when unset). The sign-in
/// page reads it alone, for its "Continue with …" buttons.
pub fn provider_names(env: &Environment) -> Result<Vec<ProviderName>, ConfigError> {
    let names = env.text("OIDC_PROVIDERS").unwrap_or_default();
    let mut listed: Vec<ProviderName> = Vec::new();
    for raw in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let name = ProviderName::parse(raw).ok_or_else(|| {
            ConfigError::new(
                "OIDC_PROVIDERS",
                format!(
                    "{raw:?} is not a provider name: 1 to 32 characters of a-z, 0-9 and _, \
                     starting with a letter"
                ),
            )
        })?;
        if listed.contains(&name) {
            return Err(ConfigError::new(
                "OIDC_PROVIDERS",
                format!("{raw} is listed twice"),
            ));
        }
        listed.push(name);
    }
    Ok(listed)
}

/// Whether an app may be sent back to `url`: an http(s) URL with a host, or a mobile app's own
/// scheme, never one that runs or embeds content in the browser, and without a fragment (the
/// one-time code goes in the query).
fn returnable(url: &url::Url) -> bool {
    let scheme_ok = match url.scheme() {
        "http" | "https" => url.host().is_some(),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "filesystem" => false,
        _ => true,
    };
    scheme_ok && url.fragment().is_none()
}

/// One provider's settings, its secret read from Secrets Manager when named by ARN.
async fn provider(
    env: &Environment,
    aws: &Aws,
    name: ProviderName,
) -> Result<OidcProvider, ConfigError> {
    let prefix = name.variable_prefix();
    let variable = |suffix: &str| format!("{prefix}{suffix}");
    let required = |suffix: &str| {
        let variable = variable(suffix);
        env.per_provider(&variable)
            .map(str::to_owned)
            .ok_or_else(|| {
                ConfigError::new(&variable, format!("is required for {}", name.as_str()))
            })
    };
    let issuer = required("ISSUER")?;
    if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
        return Err(ConfigError::new(
            &variable("ISSUER"),
            "must be an http:// or https:// URL",
        ));
    }
    let client_id = required("CLIENT_ID")?;
    let client_secret = match (
        env.per_provider(&variable("CLIENT_SECRET")),
        env.per_provider(&variable("CLIENT_SECRET_ARN")),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                &variable("CLIENT_SECRET_ARN"),
                format!(
                    "set {} or {}, not both",
                    variable("CLIENT_SECRET"),
                    variable("CLIENT_SECRET_ARN")
                ),
            ));
        }
        (Some(secret), None) => SecretString::from(secret.to_owned()),
        (None, Some(arn)) => aws
            .secret_string(arn)
            .await
            .map_err(|e| ConfigError::new(&variable("CLIENT_SECRET_ARN"), secret_problem(e)))?,
        (None, None) => {
            return Err(ConfigError::new(
                &variable("CLIENT_SECRET"),
                format!(
                    "is required for {} (or {})",
                    name.as_str(),
                    variable("CLIENT_SECRET_ARN")
                ),
            ));
        }
    };
    let mut scopes: Vec<String> = env
        .per_provider(&variable("SCOPES"))
        .unwrap_or(DEFAULT_SCOPES)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|scope| scope == "openid") {
        scopes.insert(0, "openid".to_owned());
    }
    let response_mode = match env.per_provider(&variable("RESPONSE_MODE")) {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => {
            return Err(ConfigError::new(
                &variable("RESPONSE_MODE"),
                "must be query or form_post",
            ));
        }
    };
    Ok(OidcProvider {
        name,
        issuer,
        client_id,
        client_secret,
        scopes,
        response_mode,
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::tests::{DB, KEY};
    use super::*;

    /// The OIDC part of a whole configuration read from `pairs` (with a database and a key).
    async fn load(pairs: &[(&str, &str)]) -> Result<OidcSettings, ConfigError> {
        let mut all = vec![DB, KEY];
        all.extend_from_slice(pairs);
        super::super::tests::load(&all)
            .await
            .map(|config| config.oidc)
    }

    const GOOGLE: [(&str, &str); 4] = [
        ("OIDC_PROVIDERS", "google"),
        ("OIDC_GOOGLE_ISSUER", "https://accounts.google.com"),
        ("OIDC_GOOGLE_CLIENT_ID", "123.apps.googleusercontent.com"),
        ("OIDC_GOOGLE_CLIENT_SECRET", "shh"),
    ];
    const APP: (&str, &str) = (
        "OAUTH_REDIRECT_ALLOWLIST",
        "https://app.example.com/auth/callback, myapp://callback",
    );

    #[tokio::test]
    async fn no_providers_is_a_valid_configuration() {
        let settings = load(&[]).await.unwrap();
        assert!(settings.providers.is_empty());
        assert_eq!(
            settings.api_public_url,
            ApiPublicUrl::Fixed("http://localhost:5001".to_owned())
        );
    }

    #[tokio::test]
    async fn a_provider_is_read_from_its_own_variables() {
        let mut pairs = GOOGLE.to_vec();
        pairs.push((
            "OAUTH_REDIRECT_ALLOWLIST",
            "https://app.example.com/auth/callback",
        ));
        pairs.push(("API_PUBLIC_URL", "from-request"));
        let settings = load(&pairs).await.unwrap();
        let google = settings
            .provider(&ProviderName::parse("google").unwrap())
            .unwrap();
        assert_eq!(google.issuer, "https://accounts.google.com");
        assert_eq!(google.client_secret.expose_secret(), "shh");
        assert_eq!(google.scopes, ["openid", "email", "profile"]);
        assert_eq!(settings.api_public_url, ApiPublicUrl::FromRequest);
        assert_eq!(
            settings.redirect_allowlist,
            ["https://app.example.com/auth/callback"]
        );
    }

    #[tokio::test]
    async fn scopes_always_include_openid() {
        let mut pairs = GOOGLE.to_vec();
        pairs.push(APP);
        pairs.push(("OIDC_GOOGLE_SCOPES", "email"));
        let settings = load(&pairs).await.unwrap();
        assert_eq!(settings.providers[0].scopes, ["openid", "email"]);
    }

    #[tokio::test]
    async fn the_response_mode_is_query_unless_form_post_is_asked_for() {
        let mut pairs = GOOGLE.to_vec();
        pairs.push(APP);
        let settings = load(&pairs).await.unwrap();
        assert_eq!(settings.providers[0].response_mode, ResponseMode::Query);
        pairs.push(("OIDC_GOOGLE_RESPONSE_MODE", "form_post"));
        let settings = load(&pairs).await.unwrap();
        assert_eq!(settings.providers[0].response_mode, ResponseMode::FormPost);
        pairs.pop();
        pairs.push(("OIDC_GOOGLE_RESPONSE_MODE", "fragment"));
        let error = load(&pairs).await.unwrap_err();
        assert_eq!(error.variable, "OIDC_GOOGLE_RESPONSE_MODE");
    }

    #[tokio::test]
    async fn each_mistake_names_its_variable() {
        let cases: [(&[(&str, &str)], &str); 9] = [
            (&[("OIDC_PROVIDERS", "Google")], "OIDC_PROVIDERS"),
            (&[("OIDC_PROVIDERS", "google,google")], "OIDC_PROVIDERS"),
            (&[("OIDC_PROVIDERS", "google"), APP], "OIDC_GOOGLE_ISSUER"),
            (&GOOGLE[..3], "OIDC_GOOGLE_CLIENT_SECRET"),
            (&GOOGLE, "OAUTH_REDIRECT_ALLOWLIST"),
            (
                &[APP, ("API_PUBLIC_URL", "localhost:5001")],
                "API_PUBLIC_URL",
            ),
            (
                &[("OAUTH_REDIRECT_ALLOWLIST", "/relative/path")],
                "OAUTH_REDIRECT_ALLOWLIST",
            ),
            (
                &[("OAUTH_REDIRECT_ALLOWLIST", "javascript:alert(1)")],
                "OAUTH_REDIRECT_ALLOWLIST",
            ),
            (
                &[("OAUTH_REDIRECT_ALLOWLIST", "https://app.example.com/#/cb")],
                "OAUTH_REDIRECT_ALLOWLIST",
            ),
        ];
        for (pairs, variable) in cases {
            let mut all = pairs.to_vec();
            if pairs.len() == 3 {
                all.push(APP);
            }
            let error = load(&all).await.unwrap_err();
            assert_eq!(error.variable, variable, "{pairs:?}: {error}");
        }
    }
}
