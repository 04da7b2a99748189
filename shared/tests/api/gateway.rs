//! Real API Gateway HTTP API (v2) events, as Lambda delivers them, through the handlers: base64
//! bodies are decoded and `{token}` path parameters arrive.

use auth::Endpoint;
use lambda_http::http::{StatusCode, header};

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

    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'gw@example.com'")
            .await,
        1
    );
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

/// A forgot-password request as API Gateway delivers it, reaching the API at `domain`.
fn forgot_password_via_gateway(email: &str, domain: Option<&str>) -> lambda_http::Request {
    use lambda_http::RequestExt;
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.domain_name = domain.map(str::to_owned);
    crate::helpers::json_request("/api/forgot-password", &serde_json::json!({"email": email}))
        .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context))
}

#[tokio::test]
async fn from_request_reset_links_point_at_the_domain_api_gateway_reports() {
    let app = TestApp::spawn_with(&[("RESET_URL", "from-request")]).await;
    app.registered_user("Jane", "jane@example.com").await;
    let domain = "abc123.execute-api.eu-west-1.amazonaws.com";

    let response = app
        .call(
            Endpoint::ForgotPassword,
            forgot_password_via_gateway("jane@example.com", Some(domain)),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    let link_prefix = format!("https://{domain}/reset-password#");
    let token = app
        .reset_token_from_outbox_at("jane@example.com", &link_prefix)
        .await;
    assert_eq!(
        app.reset_password(&token, "a brand new password")
            .await
            .status,
        StatusCode::OK,
        "the link's token works"
    );
}

#[tokio::test]
async fn from_request_without_a_gateway_domain_refuses_rather_than_mail_a_bad_link() {
    let app = TestApp::spawn_with(&[("RESET_URL", "from-request")]).await;
    app.registered_user("Jane", "jane@example.com").await;

    let response = app
        .call(
            Endpoint::ForgotPassword,
            forgot_password_via_gateway("jane@example.com", None),
        )
        .await;

    response.assert_error(500, "internal_error");
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM reset_tokens").await, 0);
}

#[tokio::test]
async fn every_answer_over_https_carries_hsts_and_none_over_plain_http() {
    let app = TestApp::spawn().await;
    let over_https = |method: &str| {
        let mut event: serde_json::Value =
            serde_json::from_str(&event("signup_apigw_v2.json")).unwrap();
        event["requestContext"]["http"]["method"] = method.into();
        lambda_http::request::from_str(&event.to_string()).unwrap()
    };

    let created = app.call(Endpoint::Signup, over_https("POST")).await;
    let refused = app.call(Endpoint::Signup, over_https("GET")).await;
    let plain = app.signup("Plain", "plain@example.com", PASSWORD).await;

    for (response, why) in [(&created, "a success"), (&refused, "an error")] {
        assert_eq!(
            response.headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=63072000; includeSubDomains",
            "{why}: {}",
            response.body
        );
    }
    assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        !plain
            .headers
            .contains_key(header::STRICT_TRANSPORT_SECURITY),
        "no X-Forwarded-Proto: https (cargo lambda watch serves plain HTTP)"
    );
}
