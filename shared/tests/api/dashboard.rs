//! `GET /api/dashboard`: access-token authentication, and every way a token is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::Endpoint;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TEST_SECRET, TestApp, authorization_request, jwt_part, raw_request};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs `claims` with HS256 and the given `typ` header and secret.
fn forge(claims: &Value, typ: Option<&str>, secret: &str) -> String {
    let header = Header {
        typ: typ.map(str::to_owned),
        ..Header::new(Algorithm::HS256)
    };
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The claims of a genuine access token with some fields replaced.
fn with_claims(genuine: &str, overrides: Value) -> Value {
    let mut claims = jwt_part(genuine, 1);
    for (name, value) in overrides.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

#[tokio::test]
async fn a_valid_access_token_gets_the_welcome_and_the_user() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;

    let response = app.dashboard(&signin.str("access_token")).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.body,
        json!({"message": "Welcome Jane Doe!", "user": signin.body["user"]})
    );
    assert_eq!(response.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn the_scheme_is_case_insensitive_and_the_token_may_be_padded() {
    let app = TestApp::spawn().await;
    let access = app.signed_in_access_token("jane@example.com").await;

    let response = app
        .call(
            Endpoint::Dashboard,
            authorization_request(Method::GET, "/api/dashboard", &format!("bearer  {access} ")),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
}

#[tokio::test]
async fn no_bearer_token_is_missing_token_with_a_challenge() {
    let app = TestApp::spawn().await;
    let access = app.signed_in_access_token("jane@example.com").await;
    let cases = [
        (
            raw_request(Method::GET, "/api/dashboard", None, ""),
            "no header",
        ),
        (
            authorization_request(Method::GET, "/api/dashboard", "Basic x"),
            "Basic scheme",
        ),
        (
            authorization_request(Method::GET, "/api/dashboard", &format!("Token {access}")),
            "other scheme with a valid token",
        ),
        (
            authorization_request(Method::GET, "/api/dashboard", &access),
            "token without scheme",
        ),
        (
            authorization_request(Method::GET, "/api/dashboard", "Bearer "),
            "empty token",
        ),
    ];
    for (request, why) in cases {
        let response = app.call(Endpoint::Dashboard, request).await;
        response.assert_error_because(401, "missing_token", why);
        response.assert_bearer_challenge(why);
    }
}

#[tokio::test]
async fn anything_but_a_genuine_access_token_is_invalid_token() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let genuine = signin.str("access_token");
    let other_user = app.registered_user("Eve", "eve@example.com").await;
    let cases = [
        ("garbage".to_owned(), "garbage"),
        ("a.b.c".to_owned(), "three parts of nothing"),
        (signin.str("refresh_token"), "the refresh token"),
        (
            forge(&jwt_part(&genuine, 1), Some("JWT"), TEST_SECRET),
            "same claims, typ JWT",
        ),
        (
            forge(&jwt_part(&genuine, 1), None, TEST_SECRET),
            "same claims, no typ",
        ),
        (
            forge(
                &jwt_part(&genuine, 1),
                Some("at+jwt"),
                "another-secret-that-is-at-least-32-bytes",
            ),
            "same claims, other key",
        ),
        (
            forge(
                &with_claims(&genuine, json!({"iss": "someone-else"})),
                Some("at+jwt"),
                TEST_SECRET,
            ),
            "other issuer",
        ),
        (
            forge(
                &with_claims(&genuine, json!({"aud": "someone-else"})),
                Some("at+jwt"),
                TEST_SECRET,
            ),
            "other audience",
        ),
        (
            forge(
                &with_claims(&genuine, json!({"sid": Uuid::new_v4()})),
                Some("at+jwt"),
                TEST_SECRET,
            ),
            "well signed, unknown session",
        ),
        (
            forge(
                &with_claims(&genuine, json!({"sub": other_user["id"]})),
                Some("at+jwt"),
                TEST_SECRET,
            ),
            "well signed, session of another user",
        ),
        (
            forge(
                &with_claims(&genuine, json!({"nbf": now() + 600})),
                Some("at+jwt"),
                TEST_SECRET,
            ),
            "not valid yet",
        ),
        (
            {
                let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
                let tampered = with_claims(&genuine, json!({"sub": other_user["id"]}));
                parts[1] = base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    tampered.to_string(),
                );
                parts.join(".")
            },
            "claims changed under the original signature",
        ),
        (
            format!(
                "{}.{}.",
                base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    r#"{"alg":"none","typ":"at+jwt"}"#
                ),
                genuine.split('.').nth(1).unwrap()
            ),
            "alg none",
        ),
    ];
    for (token, why) in cases {
        let response = app.dashboard(&token).await;
        response.assert_invalid_token(why);
    }
    assert_eq!(
        app.dashboard(&genuine).await.status,
        StatusCode::OK,
        "the genuine token still works"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_token_expired() {
    // exp = iat + 1 s, and 5 s of leeway: the token is refused from iat + 7 s.
    let app = TestApp::spawn_with(&[("ACCESS_TOKEN_TTL", "1")]).await;
    let signin = app.signed_in_user("jane@example.com").await;
    let access = signin.str("access_token");
    assert_eq!(signin.body["expires_in"], 1);
    assert_eq!(
        app.dashboard(&access).await.status,
        StatusCode::OK,
        "valid before it expires"
    );
    tokio::time::sleep(Duration::from_millis(7500)).await;

    let response = app.dashboard(&access).await;

    response.assert_error(401, "token_expired");
    let challenge = response.assert_bearer_challenge("expired access token");
    assert!(challenge.contains("expired"), "{challenge}");
    let refreshed = app.refresh(&signin.str("refresh_token")).await;
    assert_eq!(
        refreshed.status,
        StatusCode::OK,
        "the refresh token outlives the access token"
    );
    assert_eq!(
        app.dashboard(&refreshed.str("access_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_past_exp_plus_leeway_is_token_expired_and_within_leeway_is_accepted() {
    let app = TestApp::spawn().await;
    let genuine = app.signed_in_access_token("jane@example.com").await;
    let cases = [
        (now() - 60, 401, "a minute ago"),
        (now() - 10, 401, "ten seconds ago, beyond the 5 s leeway"),
        (now() - 2, 200, "two seconds ago, within the leeway"),
    ];
    for (exp, status, why) in cases {
        let token = forge(
            &with_claims(
                &genuine,
                json!({"exp": exp, "iat": exp - 900, "nbf": exp - 900}),
            ),
            Some("at+jwt"),
            TEST_SECRET,
        );
        let response = app.dashboard(&token).await;
        assert_eq!(response.status.as_u16(), status, "{why}: {}", response.body);
        if status == 401 {
            response.assert_error(401, "token_expired");
        }
    }
}

#[tokio::test]
async fn a_token_whose_user_was_deleted_is_invalid_token() {
    let app = TestApp::spawn().await;
    let access = app.signed_in_access_token("jane@example.com").await;
    app.db.execute("DELETE FROM users", &[]).await.unwrap();

    let response = app.dashboard(&access).await;

    response.assert_error(401, "invalid_token");
}

#[tokio::test]
async fn an_access_token_dies_with_its_expired_session() {
    // The session lasts as long as its newest refresh token; the access token is only good while
    // its session is live, even though its own exp is 15 minutes away.
    let app = TestApp::spawn_with(&[("REFRESH_TOKEN_TTL", "1")]).await;
    let access = app.signed_in_access_token("jane@example.com").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let response = app.dashboard(&access).await;

    response.assert_error(401, "invalid_token");
}
