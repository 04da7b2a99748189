//! Sign-in through an OpenID provider in the benchmark (the test provider on loopback, as the
//! tests use it): the authorize redirect, the callback as a redirect and as a form post, and the
//! identities an account has linked, listed and unlinked.

use std::collections::HashMap;

use anyhow::ensure;
use auth::Endpoint;
use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::http::Method;
use testkit::requests::{from_client, raw_request, with_path_parameter};

use super::{Bench, Plan, Recording, bearer, token};

/// The provider's name in the bench's settings.
pub(super) const PROVIDER: &str = "local";
/// Where the app asks to be sent back (the bench's `OAUTH_REDIRECT_ALLOWLIST`).
pub(super) const APP_CALLBACK: &str = "https://app.example.com/cb";
/// Our callback as the provider knows it: a closed loopback port, since the bench plays the
/// browser and stops there (the bench's `API_PUBLIC_URL` is `http://127.0.0.1:9`).
pub(super) const PROVIDER_CALLBACK: &str = "http://127.0.0.1:9/api/oauth/local/callback";

/// What the provider round measures.
pub(super) struct ProviderRound {
    pub authorize: Recording,
    pub callback: Recording,
    pub callback_form: Recording,
}

impl Bench {
    /// Round after round, the same person signs in through the provider twice: once back by
    /// redirect (`GET` callback), once by form post. What happens at the provider (its login
    /// form) is not recorded; the callback's own call to the provider's token endpoint is, as in
    /// production.
    pub(super) async fn provider_round(&self, plan: Plan) -> anyhow::Result<ProviderRound> {
        let mut round = ProviderRound {
            authorize: Recording::new(Endpoint::OauthAuthorize, plan),
            callback: Recording::new(Endpoint::OauthCallback, plan),
            callback_form: Recording::new(Endpoint::OauthCallbackForm, plan),
        };
        let mut extra = Recording::setup(Endpoint::OauthAuthorize);
        for _ in 0..plan.total() {
            let query = self.at_provider(&mut round.authorize).await?;
            let back = self
                .call(&mut round.callback, callback_request(&query))
                .await?;
            sent_back_with_a_code(&back)?;
            let query = self.at_provider(&mut extra).await?;
            let back = self
                .call(&mut round.callback_form, callback_form_request(&query))
                .await?;
            sent_back_with_a_code(&back)?;
        }
        Ok(round)
    }

    /// Authorize (into `authorize`), then the provider's login form as a browser fills it in:
    /// the query the provider sends the browser back with.
    async fn at_provider(
        &self,
        authorize: &mut Recording,
    ) -> anyhow::Result<HashMap<String, String>> {
        let (_, challenge) = testkit::oidc::app_pkce();
        let sent = self.call(authorize, authorize_request(&challenge)).await?;
        let url = token(&sent, "location")?;
        tokio::task::spawn_blocking(move || {
            testkit::oidc::sign_in_at_provider(
                &url,
                PROVIDER_CALLBACK,
                &[
                    ("login", "bench-person"),
                    ("email", "person@example.com"),
                    ("email_verified", "true"),
                    ("name", "Bench Person"),
                    ("amr", "pwd"),
                ],
            )
        })
        .await?
    }

    /// `GET /api/identities` for an account with one linked identity, and `DELETE
    /// /api/identities/{id}` of others linked beforehand (the account keeps its password, so
    /// every unlink leaves it a way in).
    pub(super) async fn identities(
        &self,
        list: Plan,
        unlink: Plan,
    ) -> anyhow::Result<(Recording, Recording)> {
        let email = "linked@example.com";
        let (access, _) = self.signed_in(email).await?;
        let mut ids = Vec::with_capacity(unlink.total() + 1);
        for i in 0..=unlink.total() {
            let row = self
                .db
                .query_one(
                    "INSERT INTO oauth_identities (user_id, provider, subject, email)
                     SELECT id, 'bench', $1, email FROM users WHERE email = $2
                     RETURNING id::text",
                    &[&format!("subject-{i}"), &email],
                )
                .await?;
            ids.push(row.get::<_, String>(0));
        }
        let mut listed = Recording::new(Endpoint::Identities, list);
        for _ in 0..list.total() {
            let body = self
                .call(&mut listed, bearer(Endpoint::Identities, &access))
                .await?;
            ensure!(body["identities"].is_array(), "identities: {body}");
        }
        let mut unlinked = Recording::new(Endpoint::DeleteIdentity, unlink);
        for id in &ids[1..] {
            let request = with_path_parameter(bearer(Endpoint::DeleteIdentity, &access), "id", id);
            self.call(&mut unlinked, request).await?;
        }
        Ok((listed, unlinked))
    }
}

/// The redirect's target is the app's callback with a one-time code.
fn sent_back_with_a_code(back: &serde_json::Value) -> anyhow::Result<()> {
    let location = token(back, "location")?;
    ensure!(
        location.starts_with(&format!("{APP_CALLBACK}?code=")),
        "sent back to {location}"
    );
    Ok(())
}

fn on_route(request: Request) -> Request {
    from_client(
        with_path_parameter(request, "provider", PROVIDER),
        "198.51.100.7",
        "bench/1.0",
    )
}

fn authorize_request(challenge: &str) -> Request {
    let query = HashMap::from([
        ("redirect_to".to_owned(), APP_CALLBACK.to_owned()),
        ("code_challenge".to_owned(), challenge.to_owned()),
        ("code_challenge_method".to_owned(), "S256".to_owned()),
    ]);
    let path = format!("/api/oauth/{PROVIDER}/authorize");
    on_route(raw_request(Method::GET, &path, None, "")).with_query_string_parameters(query)
}

fn callback_request(query: &HashMap<String, String>) -> Request {
    let path = format!("/api/oauth/{PROVIDER}/callback");
    on_route(raw_request(Method::GET, &path, None, "")).with_query_string_parameters(query.clone())
}

fn callback_form_request(fields: &HashMap<String, String>) -> Request {
    let path = format!("/api/oauth/{PROVIDER}/callback");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    on_route(raw_request(
        Method::POST,
        &path,
        Some("application/x-www-form-urlencoded"),
        form,
    ))
}
