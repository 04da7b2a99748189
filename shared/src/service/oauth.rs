//! Sign-in through an OpenID Connect provider, PKCE as Supabase Auth's:
//! the authorize redirect, which keeps the flow in PostgreSQL, and the provider's callback, which
//! takes it once, exchanges the code, checks the ID token, links the identity to an account and
//! hands the app a one-time code bound to its PKCE challenge; and that code's exchange, with the
//! app's verifier, for a session (or, for an account with TOTP on, the second step).

use std::time::Duration;

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};

use super::{App, Opening, SignedIn, SigninOutcome};
use crate::config::{ApiPublicUrl, OidcProvider, ResponseMode};
use crate::domain::{
    Aal, Assurance, AuthMethod, ClientInfo, CodeChallenge, Email, ProviderName, RedirectTarget,
    UserName,
};
use crate::emails;
use crate::error::ApiError;
use crate::oidc::{self, ProviderClient, Providers};
use crate::store::{
    self, ChallengeOpening, IdentitySummary, Linked, OAuthFlow, OAuthGrant, ProviderSubject,
    TakenCode, Unlinked,
};
use crate::tokens::{OpaqueToken, TokenHash};

/// How long a flow waits for the provider's callback.
const FLOW_TTL: Duration = Duration::from_secs(600);
/// How long the app has to exchange its one-time code.
const CODE_TTL: Duration = Duration::from_secs(60);

/// What the authorize request asks for, as its query carries it.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    pub provider: &'a str,
    pub redirect_to: &'a str,
    pub code_challenge: &'a str,
    pub code_challenge_method: &'a str,
}

/// The provider's callback, as its query carries it.
#[derive(Debug, Default)]
pub struct Callback<'a> {
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    /// The provider's own error (`access_denied` when the user said no).
    pub error: Option<&'a str>,
    /// A name the provider sent beside the code rather than in the ID token (Apple's `user`
    /// form field, at the first sign-in only): used when the token has none.
    pub name_hint: Option<UserName>,
}

impl App {
    /// The configured providers whose discovery worked: discovered on first use, once per cold
    /// start.
    pub async fn providers(&self) -> &Providers {
        self.providers
            .get_or_init(|| Providers::discover(&self.config.oidc))
            .await
    }

    /// A provider by the name in a path: `unknown_provider` unless configured and discovered.
    async fn provider(&self, name: &str) -> Result<(&OidcProvider, &ProviderClient), ApiError> {
        let name = ProviderName::parse(name).ok_or(ApiError::UnknownProvider)?;
        let client = self
            .providers()
            .await
            .get(&name)
            .ok_or(ApiError::UnknownProvider)?;
        let settings = self
            .config
            .oidc
            .provider(&name)
            .ok_or(ApiError::UnknownProvider)?;
        Ok((settings, client))
    }

    /// Where the provider sends the browser back: `<API_PUBLIC_URL>/api/oauth/<name>/callback`.
    fn callback_url(
        &self,
        provider: &ProviderName,
        api_domain: Option<&str>,
    ) -> Result<RedirectUrl, ApiError> {
        let base = match &self.config.oidc.api_public_url {
            ApiPublicUrl::Fixed(base) => base.clone(),
            ApiPublicUrl::FromRequest => format!(
                "https://{}",
                api_domain.ok_or_else(|| anyhow::anyhow!(
                    "API_PUBLIC_URL is from-request, and the request has no domain"
                ))?
            ),
        };
        RedirectUrl::new(format!("{base}/api/oauth/{}/callback", provider.as_str()))
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("the callback URL: {e}")))
    }

    /// `GET /api/oauth/{provider}/authorize`: the provider's authorization URL, with our own
    /// `state`, `nonce` and PKCE; the flow is kept for ten minutes. `redirect_to` is checked
    /// first and an off-list one is answered, never redirected to.
    pub async fn oauth_authorize(
        &self,
        request: &AuthorizeRequest<'_>,
        api_domain: Option<&str>,
    ) -> Result<String, ApiError> {
        let redirect_to =
            RedirectTarget::allowed(request.redirect_to, &self.config.oidc.redirect_allowlist)
                .ok_or(ApiError::InvalidRedirect)?;
        let (settings, client) = self.provider(request.provider).await?;
        let code_challenge =
            CodeChallenge::parse(request.code_challenge, request.code_challenge_method)
                .ok_or(ApiError::InvalidCodeChallenge)?;
        let callback = self.callback_url(&settings.name, api_domain)?;

        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let state = OpaqueToken::generate()?.plaintext;
        let state_for_url = state.expose_secret().to_owned();
        let mut authorize = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url),
                Nonce::new_random,
            )
            .add_scopes(
                settings
                    .scopes
                    .iter()
                    .filter(|scope| *scope != "openid")
                    .map(|scope| Scope::new(scope.clone())),
            )
            .set_pkce_challenge(pkce_challenge)
            .set_redirect_uri(std::borrow::Cow::Owned(callback));
        if settings.response_mode == ResponseMode::FormPost {
            authorize = authorize.add_extra_param("response_mode", "form_post");
        }
        let (url, _, nonce) = authorize.url();
        let db = self.pool.get().await?;
        store::begin_oauth_flow(
            &db,
            &OAuthFlow {
                state,
                provider: settings.name.clone(),
                pkce_verifier: SecretString::from(pkce_verifier.secret().to_owned()),
                nonce: SecretString::from(nonce.secret().to_owned()),
                redirect_to,
                code_challenge,
            },
            FLOW_TTL,
        )
        .await?;
        Ok(url.to_string())
    }

    /// `GET /api/oauth/{provider}/callback`: where to send the browser — the app's `redirect_to`
    /// with `code=<one-time code>`, or with `error=<code>` once the flow is known. An unknown,
    /// used or expired `state` is `invalid_oauth_state` (there is nowhere to send it).
    pub async fn oauth_callback(
        &self,
        provider: &str,
        callback: &Callback<'_>,
        api_domain: Option<&str>,
        info: &ClientInfo,
    ) -> Result<String, ApiError> {
        let db = self.pool.get().await?;
        // Ours are 43 base64url characters: anything else is no flow of ours (and a NUL byte
        // would not even reach the database as text).
        let state = callback
            .state
            .filter(|state| {
                state.len() == 43
                    && state
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or(ApiError::InvalidOAuthState)?;
        let flow = store::take_oauth_flow(&db, state)
            .await?
            .ok_or(ApiError::InvalidOAuthState)?;
        drop(db);
        let back = |query: &str| {
            let separator = if flow.redirect_to.as_str().contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{separator}{query}", flow.redirect_to.as_str())
        };
        if flow.provider.as_str() != provider {
            return Ok(back("error=invalid_oauth_state"));
        }
        if let Some(error) = callback.error {
            tracing::info!(provider, error, "the provider refused the sign-in");
            return Ok(back("error=access_denied"));
        }
        match self
            .complete_with_provider(&flow, callback, api_domain, info)
            .await
        {
            Ok(code) => Ok(back(&format!("code={}", code.expose_secret()))),
            Err(ApiError::EmailNotVerified) => Ok(back("error=email_not_verified")),
            Err(ApiError::InvalidGrant) => Ok(back("error=invalid_grant")),
            Err(other) => Err(other),
        }
    }

    /// The callback's work once its flow is taken: the code exchanged (with our PKCE verifier),
    /// the ID token checked (see [`oidc::verify_id_token`]), the identity linked, and the app's
    /// one-time code made. A provider that refuses the code or a token that fails a check is
    /// `invalid_grant` (the cause logged).
    async fn complete_with_provider(
        &self,
        flow: &OAuthFlow,
        callback: &Callback<'_>,
        api_domain: Option<&str>,
        info: &ClientInfo,
    ) -> Result<SecretString, ApiError> {
        let (settings, client) = self.provider(flow.provider.as_str()).await?;
        let code = callback.code.ok_or(ApiError::InvalidGrant)?;
        let http = oidc::http_client();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(
                flow.pkce_verifier.expose_secret().to_owned(),
            ))
            .set_redirect_uri(std::borrow::Cow::Owned(
                self.callback_url(&settings.name, api_domain)?,
            ))
            .request_async(&http)
            .await
            .map_err(|error| {
                tracing::warn!(provider = settings.name.as_str(), error = %error, "code exchange refused");
                ApiError::InvalidGrant
            })?;
        let id_token = tokens.id_token().ok_or_else(|| {
            tracing::warn!(
                provider = settings.name.as_str(),
                "no ID token in the answer"
            );
            ApiError::InvalidGrant
        })?;
        let identity = oidc::verify_id_token(
            id_token,
            &oidc::strict(client.id_token_verifier()),
            &Nonce::new(flow.nonce.expose_secret().to_owned()),
            tokens.access_token(),
        )
        .map_err(|error| {
            tracing::warn!(provider = settings.name.as_str(), error = %error, "ID token refused");
            ApiError::InvalidGrant
        })?;
        let email = identity
            .email
            .as_deref()
            .and_then(|email| Email::parse(email).ok());
        let name = identity
            .name
            .as_deref()
            .and_then(|name| UserName::parse(name).ok())
            .or_else(|| callback.name_hint.clone())
            .or_else(|| {
                email
                    .as_ref()
                    .and_then(|email| UserName::parse(email.as_str().split('@').next()?).ok())
            })
            .map_or_else(|| UserName::parse("User"), Ok)?;
        let who = ProviderSubject {
            provider: &settings.name,
            subject: &identity.subject,
            email: email.as_ref(),
            email_verified: identity.email_verified,
            name: &name,
        };
        let db = self.pool.get().await?;
        let notice = emails::identity_linked(settings.name.as_str());
        let (user, queued) = match store::link_identity(&db, &who, info, &notice).await? {
            // A concurrent callback for the same identity or address: once more, it is known.
            (Linked::Raced, _) => store::link_identity(&db, &who, info, &notice).await?,
            linked => linked,
        };
        self.deliver_in_request(&db, queued.as_slice()).await;
        let user = match user {
            Linked::Known(user) | Linked::LinkedExisting(user) | Linked::Created(user) => user,
            Linked::EmailNotVerified => return Err(ApiError::EmailNotVerified),
            Linked::Raced => {
                return Err(ApiError::ServiceUnavailable(anyhow::anyhow!(
                    "linking raced twice"
                )));
            }
        };
        let code = OpaqueToken::generate()?;
        store::issue_oauth_code(
            &db,
            &code.hash,
            &OAuthGrant {
                user,
                provider: settings.name.clone(),
                code_challenge: flow.code_challenge.clone(),
                provider_mfa: identity.mfa,
            },
            CODE_TTL,
        )
        .await?;
        Ok(code.plaintext)
    }

    /// `POST /api/oauth/token`: the one-time code and the app's PKCE verifier, for the sign-in
    /// answer. The code is taken first (once, whatever follows), then its challenge checked:
    /// unknown, used, expired or a wrong verifier are all `invalid_grant`. An account with TOTP
    /// on gets the second step unless the provider asserted a second factor of its own.
    pub async fn oauth_token(
        &self,
        code: &SecretString,
        code_verifier: &str,
        client: &ClientInfo,
    ) -> Result<SigninOutcome, ApiError> {
        let db = self.pool.get().await?;
        let TakenCode { grant, user } = store::take_oauth_code(&db, &TokenHash::of(code))
            .await?
            .ok_or(ApiError::InvalidGrant)?;
        if !grant.code_challenge.is_verified_by(code_verifier) {
            return Err(ApiError::InvalidGrant);
        }
        let user = user.ok_or(ApiError::InvalidGrant)?;
        let email = Email::parse(&user.email)
            .map_err(|_| anyhow::anyhow!("a stored address that does not parse"))?;
        let idp = grant.provider.as_str();
        if user.mfa_enabled && !grant.provider_mfa {
            let challenge = OpaqueToken::generate()?;
            store::challenge_second_factor(
                &db,
                &ChallengeOpening {
                    user: user.id,
                    token: &challenge.hash,
                    ttl: super::MFA_TOKEN_TTL,
                    email: email.digest(),
                    scopes: &Default::default(),
                    replaces_device: None,
                    rehash: None,
                    first_factor: AuthMethod::Oidc,
                    idp: Some(idp),
                    client,
                },
            )
            .await?;
            return Ok(SigninOutcome::SecondFactor {
                mfa_token: challenge.plaintext,
            });
        }
        // A provider that asserted its own second factor (`amr` with `mfa`) signed in with two.
        let assurance = Assurance {
            aal: if grant.provider_mfa {
                Aal::Aal2
            } else {
                Aal::Aal1
            },
            amr: vec![AuthMethod::Oidc],
            idp: Some(idp.to_owned()),
        };
        let (tokens, device_token) = self
            .open_session_for(
                &db,
                &user,
                Opening {
                    email: &email,
                    assurance,
                    scopes: &Default::default(),
                    replaces_device: None,
                    rehash: None,
                    passkey_use: None,
                },
                client,
            )
            .await?;
        Ok(SigninOutcome::SignedIn(SignedIn {
            user,
            tokens,
            device_token,
        }))
    }

    /// `GET /api/identities`: the bearer's linked identities, oldest first.
    pub async fn identities(&self, token: &SecretString) -> Result<Vec<IdentitySummary>, ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let db = self.pool.get().await?;
        store::list_identities(&db, user.id).await
    }

    /// `DELETE /api/identities/{id}`: unlinks one of the bearer's identities, unless it is the
    /// account's last way to sign in. Another account's identity and an unknown id are both
    /// `identity_not_found`, so ids cannot be probed.
    pub async fn unlink_identity(
        &self,
        token: &SecretString,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), ApiError> {
        let (_, user) = self.authenticate(token).await?;
        let mut db = self.pool.get().await?;
        let transaction = db.transaction().await?;
        let unlinked = store::unlink_identity(&transaction, user.id, id, client).await?;
        transaction.commit().await?;
        match unlinked {
            Unlinked::Unlinked => Ok(()),
            Unlinked::NotFound => Err(ApiError::IdentityNotFound),
            Unlinked::LastSignInMethod => Err(ApiError::LastSignInMethod),
        }
    }
}
