//! Sign-in with a provider and the linked identities through the HTTP layer: the requests as
//! API Gateway delivers them (path and query parameters), through the same router the functions
//! use, against the real test provider (see `oidc.rs`).

use std::collections::HashMap;

use auth::Endpoint;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, TestResponse, bearer_request, raw_request};
use crate::oidc::{
    APP_CALLBACK, PROVIDER_CALLBACK, app_pkce, app_with_provider, pairs, person,
    sign_in_at_provider,
};

/// A GET of a provider route as API Gateway delivers it: `{provider}` and the query parsed.
fn provider_request(endpoint: Endpoint, provider: &str, query: &[(&str, &str)]) -> Request {
    let path = endpoint.path().replace("{provider}", provider);
    let query: HashMap<String, String> = query
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    raw_request(Method::GET, &path, None, Body::Empty)
        .with_path_parameters(HashMap::from([(
            "provider".to_owned(),
            provider.to_owned(),
        )]))
        .with_query_string_parameters(query)
}

/// The `Location` of a 302, asserting the status (and showing the body otherwise).
fn location(response: &Response<Body>) -> String {
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "a redirect: {:?}",
        response.body()
    );
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// `GET /api/oauth/local/authorize` for the app's callback and `challenge`: the provider's URL.
async fn authorize(app: &TestApp, challenge: &str) -> String {
    let response = app
        .call_raw(
            Endpoint::OauthAuthorize,
            provider_request(
                Endpoint::OauthAuthorize,
                "local",
                &[
                    ("redirect_to", APP_CALLBACK),
                    ("code_challenge", challenge),
                    ("code_challenge_method", "S256"),
                ],
            ),
        )
        .await;
    location(&response)
}

/// The whole journey over HTTP: authorize, sign in at the provider as `form` says, its
/// callback, and the app's token exchange; the token endpoint's answer.
async fn journey(app: &TestApp, form: Vec<(&'static str, String)>) -> TestResponse {
    let (verifier, challenge) = app_pkce();
    let at_provider = authorize(app, &challenge).await;
    let query = sign_in_at_provider(&at_provider, PROVIDER_CALLBACK, &form).await;
    let back = location(
        &app.call_raw(
            Endpoint::OauthCallback,
            provider_request(Endpoint::OauthCallback, "local", &pairs(&query)),
        )
        .await,
    );
    let code = back
        .strip_prefix(&format!("{APP_CALLBACK}?code="))
        .unwrap_or_else(|| panic!("back at the app with a code: {back}"));
    app.post_json(
        Endpoint::OauthToken,
        &json!({"code": code, "code_verifier": verifier}),
    )
    .await
}

/// `GET /api/identities` with `token`.
async fn identities(app: &TestApp, token: &str) -> TestResponse {
    app.call(
        Endpoint::Identities,
        bearer_request(Method::GET, "/api/identities", token),
    )
    .await
}

/// `DELETE /api/identities/{id}` with `token`.
async fn unlink(app: &TestApp, token: &str, id: &str) -> TestResponse {
    let request = bearer_request(Method::DELETE, &format!("/api/identities/{id}"), token)
        .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]));
    app.call(Endpoint::DeleteIdentity, request).await
}

/// An authorize request that must be refused: provider, query, status, code, why.
type AuthorizeCase<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_redirects_to_the_provider_and_answers_each_error_as_json() {
    let (app, provider) = app_with_provider().await;
    let (_, challenge) = app_pkce();

    let url = authorize(&app, &challenge).await;
    assert!(
        url.starts_with(&provider.issuer()),
        "at the provider: {url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    let evil = "https://evil.example.com/cb";
    let cases: &[AuthorizeCase] = &[
        (
            "local",
            &[
                ("redirect_to", evil),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            400,
            "invalid_redirect",
            "an off-list redirect_to is answered, never followed",
        ),
        (
            "nobody",
            &[
                ("redirect_to", evil),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            400,
            "invalid_redirect",
            "redirect_to is checked first, before the provider",
        ),
        (
            "nobody",
            &[
                ("redirect_to", APP_CALLBACK),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            404,
            "unknown_provider",
            "an unconfigured provider",
        ),
        (
            "local",
            &[
                ("redirect_to", APP_CALLBACK),
                ("code_challenge", &challenge),
                ("code_challenge_method", "plain"),
            ],
            400,
            "invalid_code_challenge",
            "plain PKCE",
        ),
        (
            "local",
            &[
                ("redirect_to", APP_CALLBACK),
                ("code_challenge_method", "S256"),
            ],
            400,
            "invalid_code_challenge",
            "no challenge",
        ),
        (
            "local",
            &[
                ("redirect_to", APP_CALLBACK),
                ("code_challenge", &challenge),
            ],
            400,
            "invalid_code_challenge",
            "no challenge method",
        ),
        (
            "local",
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            400,
            "missing_field",
            "no redirect_to",
        ),
        ("local", &[], 400, "missing_field", "no query at all"),
    ];
    for (provider, query, status, code, why) in cases {
        let response = app
            .call(
                Endpoint::OauthAuthorize,
                provider_request(Endpoint::OauthAuthorize, provider, query),
            )
            .await;
        assert!(
            !response.headers.contains_key(header::LOCATION),
            "{why}: never a redirect"
        );
        response.assert_error_because(*status, code, why);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_with_an_unknown_state_is_answered_not_redirected() {
    let (app, _provider) = app_with_provider().await;
    for (query, why) in [
        (
            &[("code", "x"), ("state", "forged-state")][..],
            "a forged state",
        ),
        (&[("code", "x")][..], "no state"),
        (
            &[("error", "access_denied")][..],
            "an error without a state",
        ),
    ] {
        app.call(
            Endpoint::OauthCallback,
            provider_request(Endpoint::OauthCallback, "local", query),
        )
        .await
        .assert_error_because(400, "invalid_oauth_state", why);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_refuses_a_bad_code_and_a_missing_field() {
    let (app, _provider) = app_with_provider().await;
    let (verifier, _) = app_pkce();
    app.post_json(
        Endpoint::OauthToken,
        &json!({"code": "never-issued", "code_verifier": verifier}),
    )
    .await
    .assert_error(400, "invalid_grant");
    app.post_json(Endpoint::OauthToken, &json!({"code": "never-issued"}))
        .await
        .assert_error(400, "missing_field");
    app.call(
        Endpoint::OauthToken,
        raw_request(Method::POST, "/api/oauth/token", None, "{}"),
    )
    .await
    .assert_error(415, "unsupported_media_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_signs_in_lists_the_identity_and_keeps_the_last_way_in() {
    let (app, _provider) = app_with_provider().await;

    let signed_in = journey(&app, person("alice", "alice@example.com", true)).await;

    signed_in.assert_status(StatusCode::OK);
    assert_eq!(signed_in.body["message"], "Sign-in successful");
    assert_eq!(signed_in.body["token_type"], "Bearer");
    assert_eq!(signed_in.body["user"]["email"], "alice@example.com");
    for field in ["access_token", "refresh_token", "device_token"] {
        assert!(!signed_in.str(field).is_empty(), "{field}");
    }
    let token = signed_in.str("access_token");
    app.dashboard(&token).await.assert_status(StatusCode::OK);

    let listed = identities(&app, &token).await;
    listed.assert_status(StatusCode::OK);
    let list = listed.body["identities"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", listed.body);
    let identity = &list[0];
    let keys = crate::helpers::sorted_keys(identity);
    assert_eq!(keys, ["created_at", "email", "id", "provider"]);
    assert_eq!(identity["provider"], "local");
    assert_eq!(identity["email"], "alice@example.com");
    let created_at = identity["created_at"].as_str().unwrap();
    assert!(
        created_at.len() == 20 && created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T',
        "RFC 3339 in UTC, as the sessions list: {created_at}"
    );

    // A passwordless account made by the provider: its identity is its only way in.
    let id = identity["id"].as_str().unwrap();
    unlink(&app, &token, id)
        .await
        .assert_error(409, "last_sign_in_method");
    assert_eq!(app.count("SELECT count(*) FROM oauth_identities").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events WHERE kind = 'identity_unlinked'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_a_password_unlinks_its_identity_and_no_one_else_can() {
    let (app, _provider) = app_with_provider().await;
    app.registered_user("Alice", "alice@example.com").await;
    let signed_in = journey(&app, person("alice", "alice@example.com", true)).await;
    signed_in.assert_status(StatusCode::OK);
    let token = signed_in.str("access_token");
    let listed = identities(&app, &token).await;
    let id = listed.body["identities"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Someone else, signed in with a password: another's identity is no identity of theirs.
    let bob = app.signed_in_access_token("bob@example.com").await;
    unlink(&app, &bob, &id).await.assert_error_because(
        404,
        "identity_not_found",
        "another account's identity",
    );
    unlink(&app, &bob, &uuid::Uuid::new_v4().to_string())
        .await
        .assert_error_because(404, "identity_not_found", "an unknown id");
    unlink(&app, &bob, "not-a-uuid").await.assert_error_because(
        404,
        "identity_not_found",
        "no UUID",
    );
    assert_eq!(identities(&app, &bob).await.body, json!({"identities": []}));

    let unlinked = unlink(&app, &token, &id).await;
    unlinked.assert_status(StatusCode::OK);
    assert_eq!(unlinked.body, json!({"message": "Identity unlinked"}));
    assert_eq!(
        identities(&app, &token).await.body,
        json!({"identities": []})
    );
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events WHERE kind = 'identity_unlinked'")
            .await,
        1
    );
    unlink(&app, &token, &id).await.assert_error_because(
        404,
        "identity_not_found",
        "already unlinked",
    );
    // The password still signs in.
    app.signin("alice@example.com", PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    // And the identities routes want a token.
    app.call(
        Endpoint::Identities,
        raw_request(Method::GET, "/api/identities", None, Body::Empty),
    )
    .await
    .assert_error(401, "missing_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passwordless_account_unlinks_down_to_its_last_identity_or_passkey() {
    let (app, _provider) = app_with_provider().await;
    // Two subjects asserting one verified address: one passwordless account, two identities.
    let token = journey(&app, person("alice", "alice@example.com", true))
        .await
        .str("access_token");
    journey(&app, person("alice-again", "alice@example.com", true))
        .await
        .assert_status(StatusCode::OK);
    let listed = identities(&app, &token).await;
    let ids: Vec<String> = listed.body["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|identity| identity["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{}", listed.body);

    unlink(&app, &token, &ids[0])
        .await
        .assert_status(StatusCode::OK);
    unlink(&app, &token, &ids[1]).await.assert_error_because(
        409,
        "last_sign_in_method",
        "the other identity is gone",
    );

    // A passkey is a way in too.
    app.db
        .execute(
            "INSERT INTO passkeys (user_id, credential_id, passkey, name)
             SELECT id, '\\x01', '{}', 'Phone' FROM users WHERE email = 'alice@example.com'",
            &[],
        )
        .await
        .unwrap();
    unlink(&app, &token, &ids[1])
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events WHERE kind = 'identity_unlinked'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_totp_gets_the_second_step_body_of_a_password_sign_in() {
    let (app, _provider) = app_with_provider().await;
    let alice = app.registered_user("Alice", "alice@example.com").await;
    // TOTP on, as the store keeps it.
    app.db
        .execute(
            "INSERT INTO mfa_totp (user_id, secret_key_id, secret_sealed, confirmed_at)
             VALUES ($1, 'test', '\\x00', now())",
            &[&alice["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let by_password = app.signin("alice@example.com", PASSWORD).await;

    let by_provider = journey(&app, person("alice-sub", "alice@example.com", true)).await;

    by_provider.assert_status(StatusCode::OK);
    assert_eq!(by_provider.sorted_keys(), by_password.sorted_keys());
    for field in ["message", "mfa_required", "methods"] {
        assert_eq!(by_provider.body[field], by_password.body[field], "{field}");
    }
    assert!(!by_provider.str("mfa_token").is_empty());
    assert!(
        by_provider.body.get("access_token").is_none(),
        "no tokens yet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_posts_a_form_signs_in_through_the_post_callback_once() {
    let (app, _provider) =
        crate::oidc::app_with_provider_set(&[], &[("OIDC_LOCAL_RESPONSE_MODE", "form_post")]).await;
    let (verifier, challenge) = app_pkce();
    let at_provider = authorize(&app, &challenge).await;
    assert!(
        at_provider.contains("response_mode=form_post"),
        "the provider is asked to post: {at_provider}"
    );
    let form = person("poster", "poster@example.com", true);
    let fields = sign_in_at_provider(&at_provider, PROVIDER_CALLBACK, &form).await;
    assert!(
        fields.contains_key("code") && fields.contains_key("state"),
        "{fields:?}"
    );
    // What the provider's page has the browser post.
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .finish();
    let post = || {
        raw_request(
            Method::POST,
            "/api/oauth/local/callback",
            Some("application/x-www-form-urlencoded"),
            body.clone(),
        )
        .with_path_parameters(HashMap::from([("provider".to_owned(), "local".to_owned())]))
    };
    let response = app.call_raw(Endpoint::OauthCallbackForm, post()).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        response.body()
    );
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let back = response.headers()[header::LOCATION].to_str().unwrap();
    let code = back
        .strip_prefix(&format!("{APP_CALLBACK}?code="))
        .unwrap_or_else(|| panic!("back at the app with a code: {back}"));
    let signed_in = app
        .post_json(
            Endpoint::OauthToken,
            &json!({"code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(signed_in.body["user"]["email"], "poster@example.com");

    // The same post again: its flow is spent.
    let replayed = app.call_raw(Endpoint::OauthCallbackForm, post()).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    assert!(!replayed.headers().contains_key(header::LOCATION));
}
