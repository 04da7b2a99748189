//! `POST /api/introspect` (RFC 7662): client authentication first, then the token — active with
//! its claims only while it is good right now, `{"active":false}` and nothing more otherwise.

use auth::Endpoint;
use base64::Engine as _;
use lambda_http::http::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, TestResponse, raw_request};

const CLIENT: &str = "orders";
const SECRET: &str = "orders-secret-0123456789abcdef0123";

/// The introspection clients of the tests' apps (`INTROSPECTION_CLIENTS`).
pub(crate) fn clients() -> String {
    format!("{CLIENT}:{SECRET}, billing:billing-secret-0123456789abcdef01")
}

async fn app() -> TestApp {
    TestApp::spawn_with(&[("INTROSPECTION_CLIENTS", &clients())]).await
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn introspect(app: &TestApp, authorization: Option<&str>, body: &str) -> TestResponse {
    let mut request = raw_request(
        Method::POST,
        "/api/introspect",
        Some("application/x-www-form-urlencoded"),
        body.to_owned(),
    );
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, value.parse().unwrap());
    }
    app.call(Endpoint::Introspect, request).await
}

/// Introspects `token` as a configured client.
pub(crate) async fn as_client(app: &TestApp, token: &str) -> TestResponse {
    introspect(
        app,
        Some(&basic(CLIENT, SECRET)),
        &format!("token={token}&token_type_hint=access_token"),
    )
    .await
}

#[tokio::test]
async fn an_active_access_token_is_described_and_an_ended_one_is_just_inactive() {
    let app = app().await;
    let signed_in = app.signed_in_user("pat@example.com").await;
    let access = signed_in.str("access_token");

    let active = as_client(&app, &access).await;
    active.assert_status(StatusCode::OK);
    let body = &active.body;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], signed_in.body["user"]["id"]);
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["aal"], "aal1");
    assert_eq!(body["amr"], json!(["pwd"]));
    let keys = crate::helpers::sorted_keys(body);
    assert_eq!(
        keys,
        [
            "aal",
            "active",
            "amr",
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "sid",
            "sub",
            "token_type"
        ]
    );
    let (jti, sid) = crate::helpers::jti_and_sid(&access);
    assert_eq!(body["jti"], jti.to_string());
    assert_eq!(body["sid"], sid.to_string());

    app.logout(&access).await.assert_status(StatusCode::OK);
    let ended = as_client(&app, &access).await;
    ended.assert_status(StatusCode::OK);
    assert_eq!(ended.body, json!({"active": false}));

    for (token, why) in [
        (signed_in.str("refresh_token"), "a refresh token"),
        ("garbage".to_owned(), "garbage"),
        (crate::openapi::expired_copy_of(&access), "an expired token"),
    ] {
        let answer = as_client(&app, &token).await;
        assert_eq!(answer.status, StatusCode::OK, "{why}");
        assert_eq!(answer.body, json!({"active": false}), "{why}");
    }
}

#[tokio::test]
async fn only_a_configured_client_with_its_secret_may_ask() {
    let app = app().await;
    let access = app.signed_in_access_token("client@example.com").await;
    let body = format!("token={access}");
    for (authorization, why) in [
        (None, "no credentials"),
        (
            Some(basic(CLIENT, "orders-secret-0123456789abcdef0124")),
            "a wrong secret",
        ),
        (Some(basic("stranger", SECRET)), "an unknown client"),
        (Some(basic("billing", SECRET)), "another client's secret"),
        (Some(format!("Bearer {access}")), "a bearer token"),
        (Some("Basic !!!".to_owned()), "bad base64"),
    ] {
        let answer = introspect(&app, authorization.as_deref(), &body).await;
        answer.assert_error_because(401, "invalid_client", why);
        assert_eq!(
            answer.headers[header::WWW_AUTHENTICATE],
            r#"Basic realm="introspection""#,
            "{why}"
        );
    }
    // A configured client, and the body's own checks after it.
    introspect(
        &app,
        Some(&basic(CLIENT, SECRET)),
        "token_type_hint=access_token",
    )
    .await
    .assert_error_because(400, "missing_field", "no token");
    let mut json_body = raw_request(
        Method::POST,
        "/api/introspect",
        Some("application/json"),
        json!({"token": access}).to_string(),
    );
    json_body.headers_mut().insert(
        header::AUTHORIZATION,
        basic(CLIENT, SECRET).parse().unwrap(),
    );
    app.call(Endpoint::Introspect, json_body)
        .await
        .assert_error_because(415, "unsupported_media_type", "a JSON body");
    // With no client configured, nobody may ask.
    let closed = TestApp::spawn().await;
    introspect(&closed, Some(&basic(CLIENT, SECRET)), &body)
        .await
        .assert_error_because(401, "invalid_client", "no clients configured");
}
