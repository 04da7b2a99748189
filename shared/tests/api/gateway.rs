//! Real API Gateway HTTP API (v2) events, as Lambda delivers them, through the handlers: base64
//! bodies are decoded and `{token}` path parameters arrive.

use auth::Endpoint;
use lambda_http::http::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

fn event(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/api/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test]
async fn a_base64_encoded_signup_event_creates_the_user() {
    let app = TestApp::spawn().await;
    let request = lambda_http::request::from_str(&event("signup_apigw_v2.json")).unwrap();

    let response = app.call(Endpoint::Signup, request).await;

    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(response.body["user"]["email"], "gw@example.com");
}

#[tokio::test]
async fn the_reset_token_arrives_as_a_path_parameter() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.signup("Jane", "jane@example.com", PASSWORD)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.forgot_password("jane@example.com").await.status,
        StatusCode::OK
    );
    let token = app.reset_token_from_outbox("jane@example.com").await;
    let request = lambda_http::request::from_str(
        &event("reset_password_apigw_v2.json").replace("TOKEN_PLACEHOLDER", &token),
    )
    .unwrap();

    let response = app.call(Endpoint::ResetPassword, request).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        app.signin("jane@example.com", "a brand new password")
            .await
            .status,
        StatusCode::OK
    );
}
