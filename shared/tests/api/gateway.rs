//! Real API Gateway HTTP API (v2) events, as Lambda delivers them, through the handlers: base64
//! bodies are decoded and `{token}` path parameters arrive.

use auth::Endpoint;
use lambda_http::http::StatusCode;

use crate::helpers::TestApp;

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
    app.registered_user("Jane", "jane@example.com").await;
    let token = app.requested_reset_token("jane@example.com").await;
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
