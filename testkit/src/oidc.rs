//! An app's side of a provider sign-in, for the tests and make dev's path: its PKCE pair, and
//! what a browser does at the test provider (`local/oidc-provider.mjs`) between our authorize
//! redirect and our callback.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use sha2::Digest as _;

/// A fresh PKCE pair as an app makes it (RFC 7636): a verifier of 64 characters and its S256
/// challenge.
pub fn app_pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// What a browser does at the provider, by hand: follows the authorize URL to the login form,
/// posts who signs in (`form`: `login`, `email`, `email_verified`, `name`, `amr`), and follows
/// the provider's redirects (cookies kept) until one leads back to `callback`; returns that
/// callback's query.
pub fn sign_in_at_provider(
    authorize_url: &str,
    callback: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<HashMap<String, String>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let origin = {
        let url = url::Url::parse(authorize_url).context("the authorize URL")?;
        url.origin().ascii_serialization()
    };
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut next = authorize_url.to_owned();
    let mut posted = false;
    for _ in 0..10 {
        if next.starts_with(callback) {
            let url = url::Url::parse(&next).context("the callback URL")?;
            return Ok(url.query_pairs().into_owned().collect());
        }
        let cookie_header = cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut response = if next.contains("/interaction/") && !posted {
            posted = true;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            agent
                .post(&next)
                .header("Cookie", &cookie_header)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(body.as_bytes())
        } else {
            agent.get(&next).header("Cookie", &cookie_header).call()
        }
        .with_context(|| format!("requesting {next}"))?;
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str()?.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let location = response
            .headers()
            .get("location")
            .map(|location| location.to_str().map(str::to_owned))
            .transpose()?;
        let Some(location) = location else {
            bail!(
                "{} at {next}: {}",
                response.status(),
                response.body_mut().read_to_string().unwrap_or_default()
            );
        };
        next = if location.starts_with('/') {
            format!("{origin}{location}")
        } else {
            location
        };
    }
    bail!("the provider never sent the browser back to {callback}")
}
