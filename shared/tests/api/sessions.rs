//! `GET /api/sessions`, `DELETE /api/sessions/{id}` and the global logout.

use std::collections::HashMap;

use auth::Endpoint;
use lambda_http::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, TestResponse, bearer_request, from_client, raw_request};

const JANE: &str = "jane@example.com";

async fn sessions(app: &TestApp, access: &str) -> TestResponse {
    app.call(
        Endpoint::Sessions,
        bearer_request(Method::GET, "/api/sessions", access),
    )
    .await
}

async fn logout_with(app: &TestApp, access: &str, body: serde_json::Value) -> TestResponse {
    let mut request = raw_request(
        Method::POST,
        "/api/logout",
        Some("application/json"),
        body.to_string(),
    );
    request.headers_mut().insert(
        lambda_http::http::header::AUTHORIZATION,
        format!("Bearer {access}").parse().unwrap(),
    );
    app.call(Endpoint::Logout, request).await
}

/// Signs Jane in from `ip` with `agent`; returns (access token, session id).
async fn signed_in_from(app: &TestApp, ip: &str, agent: &str) -> (String, String) {
    let request = crate::helpers::json_request(
        Endpoint::Signin.path(),
        &json!({"email": JANE, "password": PASSWORD}),
    );
    let response = app
        .call(Endpoint::Signin, from_client(request, ip, agent))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let access = response.str("access_token");
    let (_, sid) = crate::helpers::jti_and_sid(&access);
    (access, sid.to_string())
}

#[tokio::test]
async fn sessions_lists_the_callers_live_sessions_marking_the_current_one() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    app.registered_user("Bob", "bob@example.com").await;
    let (laptop, laptop_id) = signed_in_from(&app, "203.0.113.5", "Laptop/1.0").await;
    let (phone, phone_id) = signed_in_from(&app, "2001:db8::1", "Phone/2.0").await;
    let (ended, _) = signed_in_from(&app, "203.0.113.6", "Old/0.1").await;
    assert_eq!(app.logout(&ended).await.status, StatusCode::OK);
    app.signin("bob@example.com", PASSWORD).await;

    let listed = sessions(&app, &laptop).await;

    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let list = listed.body["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "only Jane's live sessions: {}", listed.body);
    let by_id: HashMap<&str, &serde_json::Value> = list
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s))
        .collect();
    let laptop_row = by_id[laptop_id.as_str()];
    assert_eq!(laptop_row["current"], true);
    assert_eq!(laptop_row["ip"], "203.0.113.5");
    assert_eq!(laptop_row["user_agent"], "Laptop/1.0");
    let phone_row = by_id[phone_id.as_str()];
    assert_eq!(phone_row["current"], false);
    assert_eq!(phone_row["ip"], "2001:db8::1");
    let mut keys: Vec<&String> = laptop_row.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "current",
            "id",
            "ip",
            "last_used_at",
            "user_agent"
        ]
    );
    assert!(laptop_row["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        sessions(&app, &phone).await.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .count(),
        1
    );
}

#[tokio::test]
async fn ending_another_session_kills_its_tokens_and_only_them() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    let laptop = app.signin(JANE, PASSWORD).await;
    let phone = app.signin(JANE, PASSWORD).await;
    let (_, phone_id) = crate::helpers::jti_and_sid(&phone.str("access_token"));

    let ended = app
        .end_session(&laptop.str("access_token"), &phone_id.to_string())
        .await;

    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.body, json!({"message": "Session ended"}));
    app.dashboard(&phone.str("access_token"))
        .await
        .assert_invalid_token("the ended session's access token");
    app.refresh(&phone.str("refresh_token"))
        .await
        .assert_invalid_token("the ended session's refresh token");
    assert_eq!(
        app.dashboard(&laptop.str("access_token")).await.status,
        StatusCode::OK
    );
    app.end_session(&laptop.str("access_token"), &phone_id.to_string())
        .await
        .assert_error(404, "session_not_found");
}

#[tokio::test]
async fn another_users_unknown_or_malformed_session_ids_are_not_found_and_untouched() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    let bob = app.signed_in_user("bob@example.com").await;
    let (_, bob_session) = crate::helpers::jti_and_sid(&bob.str("access_token"));
    let jane = app.signin(JANE, PASSWORD).await.str("access_token");

    for id in [
        bob_session.to_string(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
    ] {
        app.end_session(&jane, &id)
            .await
            .assert_error(404, "session_not_found");
    }
    assert_eq!(
        app.dashboard(&bob.str("access_token")).await.status,
        StatusCode::OK,
        "Bob's session survived Jane's attempt"
    );
    app.end_session("not-a-token", &bob_session.to_string())
        .await
        .assert_invalid_token("no valid token, no deletion");
}

#[tokio::test]
async fn global_logout_ends_every_session_and_local_only_the_callers() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    let one = app.signin(JANE, PASSWORD).await;
    let two = app.signin(JANE, PASSWORD).await;
    let three = app.signin(JANE, PASSWORD).await;
    let bob = app.signed_in_user("bob@example.com").await;

    let local = logout_with(&app, &one.str("access_token"), json!({"scope": "local"})).await;
    assert_eq!(local.status, StatusCode::OK, "{}", local.body);
    assert_eq!(
        app.dashboard(&two.str("access_token")).await.status,
        StatusCode::OK
    );

    let global = logout_with(&app, &two.str("access_token"), json!({"scope": "global"})).await;

    assert_eq!(global.status, StatusCode::OK, "{}", global.body);
    for (name, pair) in [("two", &two), ("three", &three)] {
        app.dashboard(&pair.str("access_token"))
            .await
            .assert_invalid_token(name);
        app.refresh(&pair.str("refresh_token"))
            .await
            .assert_invalid_token(name);
    }
    assert_eq!(
        app.dashboard(&bob.str("access_token")).await.status,
        StatusCode::OK,
        "other users keep their sessions"
    );
    logout_with(&app, &three.str("access_token"), json!({"scope": "global"}))
        .await
        .assert_invalid_token("an ended session cannot end the others");
    logout_with(
        &app,
        &bob.str("access_token"),
        json!({"scope": "everything"}),
    )
    .await
    .assert_error(400, "invalid_json");
}
