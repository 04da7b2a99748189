//! Talking to OpenID Connect providers: an HTTP client that follows no
//! redirect and gives up quickly (the endpoints come from a provider's discovery document, so a
//! redirect could point anywhere: SSRF), and the ID-token check the callback relies on —
//! signature by an asymmetric key of the provider's JWKS only (never `none`, never an HMAC keyed
//! with our client secret), issuer, audience, expiry with a minute of leeway, our nonce, and
//! `at_hash` when present, which openidconnect leaves to its caller.
//! See docs/design/oidc-research.md for what each choice was verified against.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use openidconnect::core::{
    CoreClient, CoreClientAuthMethod, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
    CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthType, ClientId, ClientSecret, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, Nonce,
};
use secrecy::ExposeSecret;

use crate::config::{OidcProvider, OidcSettings};
use crate::domain::ProviderName;

/// How long a provider may take to accept a connection, and to answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock difference tolerated between a provider and us when checking `exp`.
const LEEWAY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The signature algorithms an ID token may use: asymmetric ones only. openidconnect would
/// otherwise take the provider's list, HS256 included, and check an HS256 token with our client
/// secret (verified: such a token passes), which anyone holding the secret could forge.
pub fn asymmetric_algs() -> Vec<CoreJwsSigningAlgorithm> {
    use CoreJwsSigningAlgorithm::*;
    vec![
        RsaSsaPkcs1V15Sha256,
        RsaSsaPkcs1V15Sha384,
        RsaSsaPkcs1V15Sha512,
        RsaSsaPssSha256,
        RsaSsaPssSha384,
        RsaSsaPssSha512,
        EcdsaP256Sha256,
        EcdsaP384Sha384,
        EdDsa,
    ]
}

/// The verifier a provider's client gives, restricted to [`asymmetric_algs`] and given
/// [`LEEWAY`] on expiry.
pub fn strict(verifier: CoreIdTokenVerifier<'_>) -> CoreIdTokenVerifier<'_> {
    verifier
        .set_allowed_algs(asymmetric_algs())
        .set_time_fn(|| chrono::Utc::now() - LEEWAY)
}

/// Why an ID token was refused: said in the log, answered `invalid_grant`.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token's claims do not verify: {0}")]
    Claims(#[from] openidconnect::ClaimsVerificationError),
    #[error("the ID token's at_hash does not match its access token")]
    AtHashMismatch,
    #[error("the ID token's at_hash cannot be computed: {0}")]
    AtHash(String),
}

/// What a verified ID token says about who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub subject: String,
    pub email: Option<String>,
    /// `email_verified` exactly `true`: anything else (absent, false) never links an account.
    pub email_verified: bool,
    pub name: Option<String>,
    /// The provider says the sign-in used more than one factor (`amr` containing `mfa`).
    pub mfa: bool,
}

/// Checks an ID token with `verifier` (see [`strict`]) against our `nonce`, and its `at_hash`
/// against the access token it came with, when it carries one.
pub fn verify_id_token(
    id_token: &CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: &Nonce,
    access_token: &AccessToken,
) -> Result<ProviderIdentity, IdTokenError> {
    let claims: &CoreIdTokenClaims = id_token.claims(verifier, nonce)?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| IdTokenError::AtHash(e.to_string()))?;
        let key = id_token
            .signing_key(verifier)
            .map_err(|e| IdTokenError::AtHash(e.to_string()))?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|e| IdTokenError::AtHash(e.to_string()))?;
        if actual != *expected {
            return Err(IdTokenError::AtHashMismatch);
        }
    }
    Ok(ProviderIdentity {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email_verified() == Some(true),
        name: claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_owned()),
        mfa: claims
            .auth_method_refs()
            .is_some_and(|methods| methods.iter().any(|method| method.as_str() == "mfa")),
    })
}

/// An HTTP response or the reason there is none.
type Answer = Pin<Box<dyn Future<Output = Result<HttpResponse, std::io::Error>> + Send>>;

/// The client openidconnect's discovery, JWKS and token requests go through: ureq (rustls with
/// ring, as everywhere here) on tokio's blocking pool, following no redirect (a 3xx comes back as
/// it is and fails the step), connecting within 2 s and answering within 5 s; a status of 400 is
/// handed over as data (the token endpoint's `invalid_grant`).
pub fn http_client() -> impl Fn(HttpRequest) -> Answer + Send + Sync + Clone + 'static {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into();
    let agent = Arc::new(agent);
    move |request: HttpRequest| {
        let agent = Arc::clone(&agent);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut response = agent.run(request).map_err(std::io::Error::other)?;
                let body = response
                    .body_mut()
                    .read_to_vec()
                    .map_err(std::io::Error::other)?;
                let mut answer = HttpResponse::new(body);
                *answer.status_mut() = response.status();
                *answer.headers_mut() = response.headers().clone();
                Ok(answer)
            })
            .await
            .map_err(std::io::Error::other)?
        })
    }
}

/// A provider's client as its discovery made it: authorization endpoint set, token and userinfo
/// endpoints as the document says; `Send + Sync + Clone`, kept for the life of the function. The
/// redirect URI is set per request (it may follow the request's domain).
pub type ProviderClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The configured providers whose discovery succeeded, by name.
#[derive(Debug, Clone, Default)]
pub struct Providers(BTreeMap<ProviderName, ProviderClient>);

impl Providers {
    /// Discovers every configured provider; one whose discovery fails is logged and left out,
    /// and the others keep working.
    pub async fn discover(settings: &OidcSettings) -> Providers {
        let http = http_client();
        let mut discovered = BTreeMap::new();
        for provider in &settings.providers {
            match discover(provider, &http).await {
                Ok(client) => {
                    discovered.insert(provider.name.clone(), client);
                }
                Err(error) => tracing::error!(
                    provider = provider.name.as_str(),
                    issuer = provider.issuer,
                    error = format!("{error:#}"),
                    "OpenID provider left out: its discovery failed"
                ),
            }
        }
        Providers(discovered)
    }

    pub fn get(&self, name: &ProviderName) -> Option<&ProviderClient> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &ProviderName> {
        self.0.keys()
    }
}

/// One provider's discovery document and keys. Done by hand rather than by openidconnect's
/// `discover_async`, which fetches the keys from whatever `jwks_uri` the document names: here
/// every endpoint it names is checked first (https, or plain http only for an issuer that is
/// itself http on loopback, as the test provider is), and the issuer must be exactly ours.
async fn discover(
    provider: &OidcProvider,
    http: &(impl Fn(HttpRequest) -> Answer + Send + Sync),
) -> anyhow::Result<ProviderClient> {
    use anyhow::{Context, bail};
    let issuer = url::Url::parse(&provider.issuer).context("the issuer is not a URL")?;
    let document = format!(
        "{}/.well-known/openid-configuration",
        provider.issuer.trim_end_matches('/')
    );
    let request = openidconnect::http::Request::get(&document)
        .header("accept", "application/json")
        .body(Vec::new())?;
    let response = http(request)
        .await
        .context("fetching the discovery document")?;
    if response.status() != 200 {
        bail!("the discovery document answered {}", response.status());
    }
    let metadata: CoreProviderMetadata =
        serde_json::from_slice(response.body()).context("reading the discovery document")?;
    if metadata.issuer().as_str() != provider.issuer {
        bail!(
            "the document's issuer is {}, not the configured one",
            metadata.issuer().as_str()
        );
    }
    let loopback_http = issuer.scheme() == "http"
        && matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let endpoints = [
        Some(metadata.authorization_endpoint().url()),
        metadata.token_endpoint().map(|url| url.url()),
        Some(metadata.jwks_uri().url()),
        metadata.userinfo_endpoint().map(|url| url.url()),
    ];
    for endpoint in endpoints.into_iter().flatten() {
        let allowed = endpoint.scheme() == "https"
            || (loopback_http && endpoint.scheme() == "http" && endpoint.host() == issuer.host());
        if !allowed {
            bail!("the document names an endpoint that is not https: {endpoint}");
        }
    }
    // How the client secret goes to the token endpoint: HTTP Basic unless the provider does not
    // take it (no list means Basic, RFC 8414); Apple, for one, takes it in the form only.
    let auth_type = match metadata.token_endpoint_auth_methods_supported() {
        None => AuthType::BasicAuth,
        Some(methods) if methods.contains(&CoreClientAuthMethod::ClientSecretBasic) => {
            AuthType::BasicAuth
        }
        Some(methods) if methods.contains(&CoreClientAuthMethod::ClientSecretPost) => {
            AuthType::RequestBody
        }
        Some(_) => {
            bail!("the token endpoint takes neither client_secret_basic nor client_secret_post")
        }
    };
    let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), http)
        .await
        .context("fetching the provider's keys")?;
    let metadata = metadata.set_jwks(jwks);
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(
            provider.client_secret.expose_secret().to_owned(),
        )),
    )
    .set_auth_type(auth_type))
}

#[cfg(test)]
mod tests {
    use openidconnect::core::{CoreJsonWebKeySet, CoreRsaPrivateSigningKey};
    use openidconnect::{
        Audience, AuthenticationMethodReference, ClientId, ClientSecret, EmptyAdditionalClaims,
        EndUserEmail, IssuerUrl, JsonWebKeyId, PrivateSigningKey, StandardClaims,
        SubjectIdentifier,
    };

    use super::*;

    const ISSUER: &str = "https://provider.example.com";
    const CLIENT: &str = "our-client";
    const SECRET: &str = "our-client-secret";
    const NONCE: &str = "n-0S6_WzA2Mj";
    const KEY_A: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testkit/keys/rsa-a.pem"
    ));
    const KEY_B: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testkit/keys/rsa-b.pem"
    ));

    fn key(pem: &str) -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new("k1".into()))).unwrap()
    }

    /// The verifier a provider's client gives when its discovery lists HS256 beside RS256 (as
    /// some do): its JWKS holds key A only.
    fn as_discovered() -> CoreIdTokenVerifier<'static> {
        CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(CLIENT.into()),
            ClientSecret::new(SECRET.into()),
            IssuerUrl::new(ISSUER.into()).unwrap(),
            CoreJsonWebKeySet::new(vec![key(KEY_A).as_verification_key()]),
        )
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::HmacSha256,
        ])
    }

    /// What the callback uses.
    fn verifier() -> CoreIdTokenVerifier<'static> {
        strict(as_discovered())
    }

    /// Claims as a provider would sign them, changed by `edit`.
    fn token(
        signer: &CoreRsaPrivateSigningKey,
        access: &AccessToken,
        edit: impl FnOnce(CoreIdTokenClaims) -> CoreIdTokenClaims,
    ) -> CoreIdToken {
        let now = chrono::Utc::now();
        let claims = CoreIdTokenClaims::new(
            IssuerUrl::new(ISSUER.into()).unwrap(),
            vec![Audience::new(CLIENT.into())],
            now + chrono::TimeDelta::minutes(5),
            now,
            StandardClaims::new(SubjectIdentifier::new("user-1".into()))
                .set_email(Some(EndUserEmail::new("pat@example.com".into())))
                .set_email_verified(Some(true)),
            EmptyAdditionalClaims {},
        )
        .set_nonce(Some(Nonce::new(NONCE.into())));
        CoreIdToken::new(
            edit(claims),
            signer,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Some(access),
            None,
        )
        .unwrap()
    }

    fn check(token: &CoreIdToken, access: &AccessToken) -> Result<ProviderIdentity, IdTokenError> {
        verify_id_token(token, &verifier(), &Nonce::new(NONCE.into()), access)
    }

    #[test]
    fn a_good_token_says_who_and_how() {
        let access = AccessToken::new("at-1".into());
        let good = token(&key(KEY_A), &access, |claims| {
            claims.set_auth_method_refs(Some(vec![
                AuthenticationMethodReference::new("pwd".into()),
                AuthenticationMethodReference::new("mfa".into()),
            ]))
        });
        let identity = check(&good, &access).unwrap();
        assert_eq!(
            identity,
            ProviderIdentity {
                subject: "user-1".into(),
                email: Some("pat@example.com".into()),
                email_verified: true,
                name: None,
                mfa: true,
            }
        );
    }

    #[test]
    fn an_email_verified_sent_as_a_string_counts_as_apple_means_it() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = chrono::Utc::now().timestamp();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#);
        for (sent, verified) in [("true", true), ("false", false)] {
            let claims = serde_json::json!({
                "iss": ISSUER, "aud": CLIENT, "sub": "apple-1", "iat": now, "exp": now + 300,
                "nonce": NONCE, "email": "pat@privaterelay.appleid.com", "email_verified": sent,
            });
            let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
            let signature = key(KEY_A)
                .sign(
                    &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                    signed.as_bytes(),
                )
                .unwrap();
            let jwt = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature));
            let token: CoreIdToken = jwt.parse().unwrap();
            let identity = check(&token, &AccessToken::new("at-1".into())).unwrap();
            assert_eq!(identity.email_verified, verified, "{sent:?}");
        }
    }

    #[test]
    fn every_forgery_and_mismatch_is_refused() {
        let access = AccessToken::new("at-1".into());
        let a = key(KEY_A);
        let now = chrono::Utc::now();
        let cases: Vec<(&str, CoreIdToken)> = vec![
            ("signed by another key", token(&key(KEY_B), &access, |c| c)),
            (
                "another issuer",
                token(&a, &access, |c| {
                    c.set_issuer(IssuerUrl::new("https://evil.example.com".into()).unwrap())
                }),
            ),
            (
                "another audience",
                token(&a, &access, |c| {
                    c.set_audiences(vec![Audience::new("someone-else".into())])
                }),
            ),
            (
                "another nonce",
                token(&a, &access, |c| c.set_nonce(Some(Nonce::new("x".into())))),
            ),
            ("no nonce", token(&a, &access, |c| c.set_nonce(None))),
            (
                "expired beyond the leeway",
                token(&a, &access, |c| {
                    c.set_expiration(now - chrono::TimeDelta::minutes(2))
                }),
            ),
        ];
        for (why, forged) in cases {
            assert!(check(&forged, &access).is_err(), "{why}");
        }
        // A token for another access token: its at_hash does not match.
        let other = token(&a, &AccessToken::new("at-2".into()), |c| c);
        assert!(matches!(
            check(&other, &access),
            Err(IdTokenError::AtHashMismatch)
        ));
        // Within the leeway, a token just expired still passes.
        let late = token(&a, &access, |c| {
            c.set_expiration(now - chrono::TimeDelta::seconds(30))
        });
        assert!(check(&late, &access).is_ok());
    }

    #[test]
    fn unsigned_and_symmetric_tokens_are_refused() {
        use base64::Engine as _;
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let now = chrono::Utc::now().timestamp();
        let payload = serde_json::json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "user-1", "nonce": NONCE,
            "iat": now, "exp": now + 300,
        });
        let access = AccessToken::new("at-1".into());
        // alg: none.
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none"})),
            b64(&payload)
        );
        let none: CoreIdToken = serde_json::from_value(serde_json::Value::String(none)).unwrap();
        assert!(check(&none, &access).is_err(), "alg none");
        // HS256 keyed with our own client secret: anyone holding it could forge this.
        let input = format!(
            "{}.{}",
            b64(&serde_json::json!({"alg": "HS256", "kid": "k1"})),
            b64(&payload)
        );
        let mac = openidconnect::core::CoreHmacKey::new(SECRET.as_bytes())
            .sign(&CoreJwsSigningAlgorithm::HmacSha256, input.as_bytes())
            .unwrap();
        let hs = format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
        );
        let hs: CoreIdToken = serde_json::from_value(serde_json::Value::String(hs)).unwrap();
        let nonce = Nonce::new(NONCE.into());
        assert!(
            hs.claims(&as_discovered(), &nonce).is_ok(),
            "as discovered, HS256 keyed with the client secret passes: the reason for strict()"
        );
        assert!(check(&hs, &access).is_err(), "HS256 with the client secret");
    }
}
