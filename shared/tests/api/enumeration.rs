//! Account enumeration, as tested properties: known and unknown emails get byte-identical answers
//! from sign-in and forgot-password, and a sign-in for an unknown email takes as long as a wrong
//! password for a known one.

use std::time::{Duration, Instant};

use auth::Endpoint;
use lambda_http::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, json_request};

const KNOWN: &str = "jane@example.com";
const UNKNOWN: &str = "nobody@example.com";

/// Status, headers and body bytes exactly as the client receives them.
async fn raw(app: &TestApp, endpoint: Endpoint, body: serde_json::Value) -> (u16, String, String) {
    let response = app
        .call_raw(endpoint, json_request(endpoint.path(), &body))
        .await;
    let status = response.status().as_u16();
    let mut headers: Vec<String> = response
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect();
    headers.sort();
    let body = match response.into_body() {
        lambda_http::Body::Text(text) => text,
        other => panic!("unexpected body {other:?}"),
    };
    (status, headers.join("\n"), body)
}

#[tokio::test]
async fn signin_and_forgot_password_answer_known_and_unknown_emails_byte_for_byte_alike() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", KNOWN).await;

    for password in ["a wrong password", "short"] {
        let known = raw(
            &app,
            Endpoint::Signin,
            json!({"email": KNOWN, "password": password}),
        )
        .await;
        let unknown = raw(
            &app,
            Endpoint::Signin,
            json!({"email": UNKNOWN, "password": password}),
        )
        .await;
        assert_eq!(known, unknown, "sign-in with {password:?}");
        assert_eq!(known.0, 401);
    }

    let known = raw(&app, Endpoint::ForgotPassword, json!({"email": KNOWN})).await;
    let unknown = raw(&app, Endpoint::ForgotPassword, json!({"email": UNKNOWN})).await;
    assert_eq!(known, unknown, "forgot-password");
    assert_eq!(known.0, 200);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'")
            .await,
        1,
        "only Jane got mail"
    );
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn an_unknown_email_takes_as_long_to_refuse_as_a_wrong_password() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_SIGNIN", "10000")]).await;
    app.registered_user("Jane", KNOWN).await;
    let attempt = |email: &'static str| {
        let app = &app;
        async move {
            // A fresh streak each time: this measures the verification, not the lockout.
            app.db
                .execute("DELETE FROM signin_failures", &[])
                .await
                .unwrap();
            let started = Instant::now();
            let response = app.signin(email, "a wrong password").await;
            let elapsed = started.elapsed();
            assert_eq!(response.status, StatusCode::UNAUTHORIZED);
            elapsed
        }
    };
    // Warm up the pool and the prepared statements, then interleave the two kinds of attempt so
    // that machine noise falls on both alike.
    attempt(KNOWN).await;
    attempt(UNKNOWN).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..31 {
        known.push(attempt(KNOWN).await);
        unknown.push(attempt(UNKNOWN).await);
    }

    let (known, unknown) = (median(known), median(unknown));

    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.5..=2.0).contains(&ratio),
        "unknown email {unknown:?} vs wrong password {known:?}: ratio {ratio:.2}"
    );
}
