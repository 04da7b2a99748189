//! The signed-in user's own account: `POST /api/change-password`, `POST /api/change-email`,
//! `DELETE /api/account`, each proven by the current password under the sign-in lockout.

use auth::Endpoint;
use futures::future::join_all;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, TestResponse};

const JANE: &str = "jane@example.com";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// A request with the access token and a JSON body.
fn authorized(method: Method, endpoint: Endpoint, token: &str, body: &Value) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(endpoint.path())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> TestResponse {
    let body = json!({"current_password": current, "new_password": new});
    app.call(
        Endpoint::ChangePassword,
        authorized(Method::POST, Endpoint::ChangePassword, token, &body),
    )
    .await
}

async fn change_email(app: &TestApp, token: &str, password: &str, new: &str) -> TestResponse {
    let body = json!({"password": password, "new_email": new});
    app.call(
        Endpoint::ChangeEmail,
        authorized(Method::POST, Endpoint::ChangeEmail, token, &body),
    )
    .await
}

async fn delete_account(app: &TestApp, token: &str, password: &str) -> TestResponse {
    let body = json!({ "password": password });
    app.call(
        Endpoint::DeleteAccount,
        authorized(Method::DELETE, Endpoint::DeleteAccount, token, &body),
    )
    .await
}

/// The newest email queued for an address: `(subject, body)`.
async fn newest_email(app: &TestApp, to: &str) -> (String, String) {
    let row = app
        .db
        .query_one(
            "SELECT subject, body_text FROM email_outbox WHERE recipient = $1
             ORDER BY id DESC LIMIT 1",
            &[&to],
        )
        .await
        .unwrap_or_else(|e| panic!("no email to {to}: {e}"));
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_password_change_keeps_this_session_ends_the_others_and_tells_the_address() {
    let app = TestApp::spawn().await;
    let this = app.signed_in_user(JANE).await;
    let other = app.signin(JANE, PASSWORD).await;

    let changed = change_password(&app, &this.str("access_token"), PASSWORD, NEW_PASSWORD).await;

    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.body, json!({"message": "Password changed"}));
    app.dashboard(&this.str("access_token"))
        .await
        .assert_status(StatusCode::OK);
    app.dashboard(&other.str("access_token"))
        .await
        .assert_invalid_token("another session of the account");
    app.refresh(&other.str("refresh_token"))
        .await
        .assert_invalid_token("another session's refresh token");
    app.signin(JANE, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    app.signin(JANE, NEW_PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        newest_email(&app, JANE).await.0,
        "Your password was changed"
    );
}

#[tokio::test]
async fn a_wrong_current_password_is_401_and_counts_toward_the_lockout() {
    let app = TestApp::spawn().await;
    let token = app.signed_in_access_token(JANE).await;

    let answers = [
        change_password(&app, &token, "a wrong password", NEW_PASSWORD).await,
        change_password(&app, &token, "short", NEW_PASSWORD).await,
    ];

    for answer in answers {
        answer.assert_error(401, "invalid_credentials");
    }
    assert_eq!(
        app.count("SELECT failures::bigint FROM signin_failures WHERE scope = 'net:unknown'")
            .await,
        1,
        "the wrong password counted; the one no account can have was refused unhashed"
    );
    for _ in 0..4 {
        change_password(&app, &token, "a wrong password", NEW_PASSWORD).await;
    }
    // The fifth failure locks the client's network out of the address (for a second): the right
    // password is refused too.
    change_password(&app, &token, PASSWORD, NEW_PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    assert_eq!(
        app.count(
            "SELECT count(*) FROM signin_failures
             WHERE scope = 'net:unknown' AND failures = 5 AND locked_until IS NOT NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_new_password_obeys_the_signup_rules_and_nothing_changes_otherwise() {
    let app = TestApp::spawn().await;
    let token = app.signed_in_access_token(JANE).await;

    let cases = [
        ("short", "too short"),
        ("password123", "a common password"),
        ("jane's own password", "holds the address's name"),
    ];
    for (new, why) in cases {
        change_password(&app, &token, PASSWORD, new)
            .await
            .assert_error_because(400, "invalid_password", why);
    }
    app.signin(JANE, PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        app.count("SELECT count(*) FROM signin_failures").await,
        0,
        "a refused new password spends no attempt"
    );
}

#[tokio::test]
async fn an_address_change_waits_for_the_new_address_and_tells_the_old_one() {
    let app = TestApp::spawn().await;
    let this = app.signed_in_user(JANE).await;
    let other = app.signin(JANE, PASSWORD).await;
    let token = this.str("access_token");

    let asked = change_email(&app, &token, PASSWORD, "Jane.New@Example.com").await;

    asked.assert_status(StatusCode::ACCEPTED);
    assert_eq!(
        asked.body,
        json!({"message": "Check the new address to confirm the change."})
    );
    let (subject, body) = newest_email(&app, JANE).await;
    assert_eq!(
        subject,
        "A change of your account's email address was requested"
    );
    assert!(body.contains("j***@e***.com"), "masked: {body}");
    assert!(!body.contains("jane.new"), "{body}");
    assert_eq!(
        app.dashboard(&token).await.body["user"]["email"],
        JANE,
        "the old address until the new one is confirmed"
    );

    let confirmation = app
        .verification_token_from_outbox("jane.new@example.com")
        .await;
    app.verify_email(&json!({ "token": confirmation }))
        .await
        .assert_status(StatusCode::OK);

    let dashboard = app.dashboard(&token).await;
    assert_eq!(dashboard.body["user"]["email"], "jane.new@example.com");
    assert_eq!(dashboard.body["user"]["email_verified"], true);
    app.dashboard(&other.str("access_token"))
        .await
        .assert_invalid_token("another session ends on confirmation");
    app.signin("jane.new@example.com", PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    app.signin(JANE, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn moving_to_a_taken_address_answers_the_same_and_tells_its_owner_instead() {
    let app = TestApp::spawn().await;
    app.registered_user("John", "john@example.com").await;
    let token = app.signed_in_access_token(JANE).await;

    let asked = change_email(&app, &token, PASSWORD, "john@example.com").await;

    asked.assert_status(StatusCode::ACCEPTED);
    assert_eq!(
        newest_email(&app, "john@example.com").await.0,
        "Someone tried to create an account with your address"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM email_verifications").await,
        0,
        "no confirmation for an address that is taken"
    );
}

#[tokio::test]
async fn wrong_passwords_and_bad_addresses_change_nothing() {
    let app = TestApp::spawn().await;
    let token = app.signed_in_access_token(JANE).await;

    change_email(&app, &token, "a wrong password", "new@example.com")
        .await
        .assert_error(401, "invalid_credentials");
    change_email(&app, &token, PASSWORD, "not an address")
        .await
        .assert_error(400, "invalid_email");
    change_email(&app, "not-a-token", PASSWORD, "new@example.com")
        .await
        .assert_invalid_token("no valid access token");

    assert_eq!(
        app.count("SELECT count(*) FROM email_verifications").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_accounts_moving_to_one_address_leave_one_consistent_account() {
    let app = TestApp::spawn().await;
    let jane = app.signed_in_access_token(JANE).await;
    let john = app.signed_in_access_token("john@example.com").await;
    change_email(&app, &jane, PASSWORD, "shared@example.com")
        .await
        .assert_status(StatusCode::ACCEPTED);
    let jane_link = app
        .verification_token_from_outbox("shared@example.com")
        .await;
    change_email(&app, &john, PASSWORD, "shared@example.com")
        .await
        .assert_status(StatusCode::ACCEPTED);
    let john_link = app
        .verification_token_from_outbox("shared@example.com")
        .await;

    let proofs = [json!({ "token": jane_link }), json!({ "token": john_link })];
    let answers = join_all(proofs.iter().map(|proof| app.verify_email(proof))).await;

    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(
        {
            let mut sorted = statuses.clone();
            sorted.sort_unstable();
            sorted
        },
        [200, 400],
        "{answers:?}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'shared@example.com'")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM users WHERE email IN ('jane@example.com', 'john@example.com')"
        )
        .await,
        1,
        "the other account kept its address"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM email_verifications").await,
        0,
        "the losing change can never complete, so it is gone"
    );
}

#[tokio::test]
async fn deleting_the_account_removes_everything_that_points_at_it() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user(JANE).await;
    let token = signin.str("access_token");
    let user_id = signin.body["user"]["id"].as_str().unwrap().to_owned();
    app.requested_reset_token(JANE).await;
    change_email(&app, &token, PASSWORD, "jane.next@example.com").await;

    delete_account(&app, &token, "a wrong password")
        .await
        .assert_error(401, "invalid_credentials");
    let deleted = delete_account(&app, &token, PASSWORD).await;

    deleted.assert_status(StatusCode::OK);
    assert_eq!(deleted.body, json!({"message": "Account deleted"}));
    app.dashboard(&token)
        .await
        .assert_invalid_token("the token that asked");
    app.refresh(&signin.str("refresh_token"))
        .await
        .assert_invalid_token("its refresh token");
    let id = uuid::Uuid::parse_str(&user_id).unwrap();
    for table in [
        "users WHERE id = $1",
        "sessions WHERE user_id = $1",
        "reset_tokens WHERE user_id = $1",
        "email_verifications WHERE user_id = $1",
        "refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)",
    ] {
        let count: i64 = app
            .db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 0, "{table}");
    }
    assert_eq!(app.count("SELECT count(*) FROM signin_failures").await, 0);
    let event = app
        .db
        .query_one(
            "SELECT user_id, email_hash IS NULL FROM auth_events WHERE kind = 'account_deleted'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(event.get::<_, uuid::Uuid>(0), id);
    assert!(event.get::<_, bool>(1), "the event holds no address");
    let emails: Vec<String> = app
        .db
        .query(
            "SELECT subject FROM email_outbox WHERE recipient = $1",
            &[&JANE],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        emails,
        ["Your account was deleted"],
        "only the goodbye is left"
    );
    app.signup("Jane", JANE, PASSWORD)
        .await
        .assert_status(StatusCode::ACCEPTED);
}
