//! `POST /api/logout`: ending one session, its access and refresh tokens, and nothing else.

use std::time::{Duration, UNIX_EPOCH};

use auth::Endpoint;
use lambda_http::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, bearer_request, jti_and_sid, jwt_part, raw_request};

#[tokio::test]
async fn logout_revokes_the_access_token_and_the_sessions_refresh_token() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let access = signin.str("access_token");

    let response = app.logout(&access).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.body,
        json!({"message": "Logout successful. Tokens revoked."})
    );
    let cases = [
        (app.dashboard(&access).await, "access token at dashboard"),
        (app.logout(&access).await, "access token at logout again"),
        (
            app.refresh(&signin.str("refresh_token")).await,
            "refresh token at refresh",
        ),
    ];
    for (after, why) in cases {
        after.assert_error_because(401, "invalid_token", why);
    }
}

#[tokio::test]
async fn logout_records_the_revoked_jti_and_the_session_reason() {
    let app = TestApp::spawn().await;
    let access = app.signed_in_access_token("jane@example.com").await;
    let (jti, sid) = jti_and_sid(&access);
    let exp = jwt_part(&access, 1)["exp"].as_u64().unwrap();

    assert_eq!(app.logout(&access).await.status, StatusCode::OK);

    let revoked = app
        .db
        .query_one(
            "SELECT session_id, expires_at FROM revoked_tokens WHERE jti = $1",
            &[&jti],
        )
        .await
        .expect("the access token's jti is recorded");
    assert_eq!(revoked.get::<_, uuid::Uuid>("session_id"), sid);
    let expires_at: std::time::SystemTime = revoked.get("expires_at");
    assert_eq!(
        expires_at.duration_since(UNIX_EPOCH).unwrap(),
        Duration::from_secs(exp),
        "kept until the token would have expired anyway"
    );
    assert_eq!(app.count("SELECT count(*) FROM revoked_tokens").await, 1);
    let session = app
        .db
        .query_one(
            "SELECT revoked_at IS NOT NULL AS revoked, revoked_reason FROM sessions WHERE id = $1",
            &[&sid],
        )
        .await
        .unwrap();
    assert!(session.get::<_, bool>("revoked"));
    assert_eq!(
        session
            .get::<_, Option<String>>("revoked_reason")
            .as_deref(),
        Some("logout")
    );
}

#[tokio::test]
async fn other_sessions_of_the_same_user_keep_working() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_in_user("jane@example.com").await;
    let phone = app.signin("jane@example.com", PASSWORD).await;
    assert_eq!(phone.status, StatusCode::OK);

    assert_eq!(
        app.logout(&laptop.str("access_token")).await.status,
        StatusCode::OK
    );

    let dashboard = app.dashboard(&phone.str("access_token")).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    let refreshed = app.refresh(&phone.str("refresh_token")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.logout(&refreshed.str("access_token")).await.status,
        StatusCode::OK,
        "the other session can log out on its own"
    );
}

#[tokio::test]
async fn logging_out_with_a_rotated_access_token_ends_every_token_of_the_session() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let rotated = app.refresh(&signin.str("refresh_token")).await;
    assert_eq!(rotated.status, StatusCode::OK);

    assert_eq!(
        app.logout(&rotated.str("access_token")).await.status,
        StatusCode::OK
    );

    app.dashboard(&signin.str("access_token"))
        .await
        .assert_error(401, "invalid_token");
    app.logout(&signin.str("access_token"))
        .await
        .assert_error(401, "invalid_token");
    app.refresh(&rotated.str("refresh_token"))
        .await
        .assert_error(401, "invalid_token");
    app.refresh(&signin.str("refresh_token"))
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn logout_without_a_valid_access_token_revokes_nothing() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let cases = [
        (
            raw_request(Method::POST, "/api/logout", None, ""),
            401,
            "missing_token",
            "no Authorization header",
        ),
        (
            bearer_request(Method::POST, "/api/logout", "garbage"),
            401,
            "invalid_token",
            "garbage",
        ),
        (
            bearer_request(Method::POST, "/api/logout", &signin.str("refresh_token")),
            401,
            "invalid_token",
            "a refresh token",
        ),
    ];
    for (request, status, code, why) in cases {
        let response = app.call(Endpoint::Logout, request).await;
        response.assert_error_because(status, code, why);
        response.assert_bearer_challenge(why);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM revoked_tokens").await, 0);
    assert_eq!(
        app.dashboard(&signin.str("access_token")).await.status,
        StatusCode::OK
    );
}
