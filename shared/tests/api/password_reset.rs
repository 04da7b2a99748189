//! `POST /api/forgot-password` and `POST /api/reset-password/{token}`: the emailed, single-use,
//! hashed reset token, and what a reset does to the account and its sessions.

use std::time::Duration;

use auth::Endpoint;
use futures::future::join_all;
use lambda_http::http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{PASSWORD, TestApp, TestResponse, reset_request};

const NEW_PASSWORD: &str = "a brand new passphrase";
const FORGOT_MESSAGE: &str = "If that account exists, a password reset email has been sent.";

/// Signs up `email` and asks for a reset; returns the token from the email.
async fn user_with_reset_token(app: &TestApp, email: &str) -> String {
    app.registered_user("Jane Doe", email).await;
    app.requested_reset_token(email).await
}

/// Signs up Jane and queues two reset emails for her; returns both tokens.
async fn user_with_two_reset_tokens(app: &TestApp) -> [String; 2] {
    app.registered_user("Jane", "jane@example.com").await;
    two_reset_tokens(app).await
}

/// Queues two reset emails for Jane; returns both tokens.
async fn two_reset_tokens(app: &TestApp) -> [String; 2] {
    [
        app.requested_reset_token("jane@example.com").await,
        app.requested_reset_token("jane@example.com").await,
    ]
}

/// Asserts one of two resets succeeded and the other was refused with `invalid_reset_token`.
#[track_caller]
fn assert_one_reset_wins(responses: &[TestResponse], context: &str) {
    let mut outcomes: Vec<(u16, Option<&str>)> = responses
        .iter()
        .map(|r| (r.status.as_u16(), r.body["error"].as_str()))
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [(200, None), (400, Some("invalid_reset_token"))],
        "{context}: {responses:#?}"
    );
}

#[tokio::test]
async fn known_and_unknown_emails_get_byte_identical_answers() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;

    let known = app.forgot_password("jane@example.com").await;
    let unknown = app.forgot_password("nobody@example.com").await;

    assert_eq!(known.status, StatusCode::OK, "{}", known.body);
    assert_eq!(known.body, json!({"message": FORGOT_MESSAGE}));
    assert_eq!(
        (known.status, known.body.to_string()),
        (unknown.status, unknown.body.to_string()),
        "the answer must not reveal which accounts exist"
    );
    assert_eq!(known.headers, unknown.headers);
}

#[tokio::test]
async fn a_known_email_queues_exactly_one_email_with_the_reset_link() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;

    let token = app.requested_reset_token("jane@example.com").await;

    let rows = app
        .db
        .query(
            "SELECT recipient, subject, body_text, sent_at IS NOT NULL AS sent, attempts FROM email_outbox WHERE subject = 'Reset your password'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "exactly one email");
    let row = &rows[0];
    assert_eq!(row.get::<_, String>("recipient"), "jane@example.com");
    assert_eq!(row.get::<_, String>("subject"), auth::emails::RESET_SUBJECT);
    assert!(
        row.get::<_, bool>("sent"),
        "delivered by the log transport right after the commit"
    );
    assert_eq!(row.get::<_, i32>("attempts"), 1);
    let body: String = row.get("body_text");
    assert!(
        body.contains(&format!("http://localhost:5001/reset-password#{token}")),
        "{body}"
    );
    assert_eq!(token.len(), 43, "{token}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{token}"
    );
    assert!(
        body.contains("30 minutes"),
        "the email states the TTL: {body}"
    );
    assert_eq!(app.count("SELECT count(*) FROM reset_tokens").await, 1);
}

#[tokio::test]
async fn an_unknown_email_queues_nothing_and_stores_no_token() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;

    let response = app.forgot_password("nobody@example.com").await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM reset_tokens").await, 0);
}

#[tokio::test]
async fn only_the_sha256_of_the_reset_token_is_stored() {
    let app = TestApp::spawn().await;
    let token = user_with_reset_token(&app, "jane@example.com").await;

    let row = app
        .db
        .query_one("SELECT token_hash, t::text FROM reset_tokens t", &[])
        .await
        .unwrap();

    let stored: Vec<u8> = row.get(0);
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, token.as_bytes());
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    let whole_row: String = row.get(1);
    assert!(!whole_row.contains(&token), "{whole_row}");
    let hex_plaintext: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!whole_row.contains(&hex_plaintext), "{whole_row}");
}

#[tokio::test]
async fn forgot_password_matches_the_email_in_any_case_and_padding() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;

    let response = app.forgot_password("  JANE@Example.COM ").await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE recipient = 'jane@example.com' AND subject = 'Reset your password'")
            .await,
        1
    );
    let token = app.reset_token_from_outbox("jane@example.com").await;
    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn forgot_password_rejects_invalid_input_and_queues_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), 400, "missing_field", "email absent"),
        (json!({"email": null}), 400, "missing_field", "email null"),
        (json!({"email": " "}), 400, "missing_field", "email blank"),
        (
            json!({"email": "not-an-email"}),
            400,
            "invalid_email",
            "no @",
        ),
        (
            json!({"email": "jane@localhost"}),
            400,
            "invalid_email",
            "single-label domain",
        ),
        (
            json!({"email": 7}),
            400,
            "invalid_json",
            "email is a number",
        ),
    ];
    for (body, status, code, why) in cases {
        let response = app.post_json(Endpoint::ForgotPassword, &body).await;
        response.assert_error_because(status, code, why);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'")
            .await,
        0
    );
}

#[tokio::test]
async fn reset_changes_the_password() {
    let app = TestApp::spawn().await;
    let token = user_with_reset_token(&app, "jane@example.com").await;

    let response = app.reset_password(&token, NEW_PASSWORD).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.body,
        json!({"message": "Password reset successful"})
    );
    let with_new = app.signin("jane@example.com", NEW_PASSWORD).await;
    assert_eq!(with_new.status, StatusCode::OK, "{}", with_new.body);
    app.signin("jane@example.com", PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(
        app.count("SELECT count(*) FROM reset_tokens WHERE used_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_reset_token_works_only_once() {
    let app = TestApp::spawn().await;
    let token = user_with_reset_token(&app, "jane@example.com").await;
    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await.status,
        StatusCode::OK
    );

    let second = app.reset_password(&token, "yet another passphrase").await;

    second.assert_error(400, "invalid_reset_token");
    assert_eq!(
        app.signin("jane@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK,
        "the second attempt changed nothing"
    );
    app.signin("jane@example.com", "yet another passphrase")
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn unknown_and_empty_tokens_are_invalid_reset_token() {
    let app = TestApp::spawn().await;
    let token = user_with_reset_token(&app, "jane@example.com").await;
    let cases = [
        ("A".repeat(43), "well-formed but never issued"),
        ("nope".to_owned(), "short junk"),
        (
            format!("{token}x"),
            "the real token with a character appended",
        ),
        (token[..42].to_owned(), "the real token truncated"),
        (String::new(), "empty path parameter"),
    ];
    for (candidate, why) in cases {
        let response = app.reset_password(&candidate, NEW_PASSWORD).await;
        response.assert_error_because(400, "invalid_reset_token", why);
    }
    assert_eq!(
        app.signin("jane@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the password is unchanged"
    );
    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await.status,
        StatusCode::OK,
        "the real token was not consumed"
    );
}

#[tokio::test]
async fn an_expired_reset_token_is_invalid() {
    let app = TestApp::spawn_with(&[("RESET_TOKEN_TTL", "1")]).await;
    let token = user_with_reset_token(&app, "jane@example.com").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let response = app.reset_password(&token, NEW_PASSWORD).await;

    response.assert_error(400, "invalid_reset_token");
    assert_eq!(
        app.signin("jane@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn a_rejected_new_password_does_not_consume_the_token() {
    let app = TestApp::spawn().await;
    let token = user_with_reset_token(&app, "jane@example.com").await;
    let cases = [
        (
            json!({"password": "1234567"}),
            400,
            "invalid_password",
            "7 characters",
        ),
        (
            json!({"password": "a".repeat(257)}),
            400,
            "invalid_password",
            "257 characters",
        ),
        (json!({}), 400, "missing_field", "password absent"),
        (
            json!({"password": 12345678}),
            400,
            "invalid_json",
            "password is a number",
        ),
        (
            json!({"password": "Password123"}),
            400,
            "invalid_password",
            "a common password",
        ),
        (
            json!({"password": "JANE is back"}),
            400,
            "invalid_password",
            "contains the email's name",
        ),
    ];
    for (body, status, code, why) in cases {
        let response = app
            .call(Endpoint::ResetPassword, reset_request(&token, &body))
            .await;
        response.assert_error_because(status, code, why);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM reset_tokens WHERE used_at IS NULL")
            .await,
        1,
        "the token is still unused"
    );

    let valid = app.reset_password(&token, NEW_PASSWORD).await;

    assert_eq!(valid.status, StatusCode::OK, "{}", valid.body);
    assert_eq!(
        app.signin("jane@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_resets_with_one_token_succeed_exactly_once() {
    let app = TestApp::spawn().await;
    let token = user_with_reset_token(&app, "jane@example.com").await;
    let passwords = ["first concurrent password", "second concurrent password"];

    let responses = join_all(passwords.map(|p| app.reset_password(&token, p))).await;

    assert_one_reset_wins(&responses, "one token");
    let winner = passwords[responses
        .iter()
        .position(|r| r.status == StatusCode::OK)
        .unwrap()];
    let loser = passwords[responses
        .iter()
        .position(|r| r.status != StatusCode::OK)
        .unwrap()];
    assert_eq!(
        app.signin("jane@example.com", winner).await.status,
        StatusCode::OK,
        "the winner's password is set"
    );
    app.signin("jane@example.com", loser)
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_resets_with_two_tokens_of_one_user_never_fail_with_a_5xx() {
    // Each request consumes its own token, then invalidates the user's other unused tokens: two
    // requests doing that at once must not deadlock into a 500. Repeated to catch the race, with
    // room for 40 reset emails to one address.
    let app = TestApp::spawn_with(&[("RESET_EMAILS_PER_WINDOW", "100")]).await;
    app.registered_user("Jane", "jane@example.com").await;
    for round in 0..20 {
        let tokens = two_reset_tokens(&app).await;

        let responses = join_all(tokens.iter().map(|t| app.reset_password(t, NEW_PASSWORD))).await;

        assert_one_reset_wins(&responses, &format!("round {round}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resets_with_two_tokens_that_meet_at_the_password_update_do_not_deadlock() {
    // The same race as above, pinned: while another transaction briefly holds Jane's users row,
    // both resets consume their own token and queue up behind it. When it is released, each
    // still has to invalidate the other's (locked) token.
    let app = TestApp::spawn().await;
    let tokens = user_with_two_reset_tokens(&app).await;
    let (observer, connection) = app
        .app
        .config
        .database
        .url
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    app.db
        .batch_execute("BEGIN; SELECT 1 FROM users FOR UPDATE")
        .await
        .unwrap();
    let release = async {
        let waiting = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                       WHERE NOT l.granted AND a.datname = current_database()";
        for _ in 0..200 {
            let count: i64 = observer.query_one(waiting, &[]).await.unwrap().get(0);
            if count >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.db.batch_execute("ROLLBACK").await.unwrap();
    };

    let (responses, ()) = futures::join!(
        join_all(tokens.iter().map(|t| app.reset_password(t, NEW_PASSWORD))),
        release
    );

    assert_one_reset_wins(&responses, "pinned interleaving");
    assert_eq!(
        app.signin("jane@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_successful_reset_ends_every_session_of_the_user() {
    let app = TestApp::spawn().await;
    let laptop = app.signed_in_user("jane@example.com").await;
    let phone = app.signin("jane@example.com", PASSWORD).await;
    assert_eq!(phone.status, StatusCode::OK);
    app.registered_user("Bob", "bob@example.com").await;
    let bystander = app.signin("bob@example.com", PASSWORD).await;
    let token = app.requested_reset_token("jane@example.com").await;

    assert_eq!(
        app.reset_password(&token, NEW_PASSWORD).await.status,
        StatusCode::OK
    );

    for session in [&laptop, &phone] {
        app.dashboard(&session.str("access_token"))
            .await
            .assert_error(401, "invalid_token");
        app.refresh(&session.str("refresh_token"))
            .await
            .assert_error(401, "invalid_token");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE u.email = 'jane@example.com' AND s.revoked_reason = 'password_reset'"
        )
        .await,
        2
    );
    assert_eq!(
        app.dashboard(&bystander.str("access_token")).await.status,
        StatusCode::OK,
        "other users' sessions are untouched"
    );
    let fresh = app.signin("jane@example.com", NEW_PASSWORD).await;
    assert_eq!(
        app.dashboard(&fresh.str("access_token")).await.status,
        StatusCode::OK,
        "a session opened after the reset works"
    );
}

#[tokio::test]
async fn using_one_reset_token_invalidates_the_users_other_tokens() {
    let app = TestApp::spawn().await;
    let [first, second] = user_with_two_reset_tokens(&app).await;
    assert_ne!(first, second);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'")
            .await,
        2
    );

    assert_eq!(
        app.reset_password(&second, NEW_PASSWORD).await.status,
        StatusCode::OK
    );

    app.reset_password(&first, "an attacker's passphrase")
        .await
        .assert_error(400, "invalid_reset_token");
    assert_eq!(
        app.signin("jane@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_new_password_is_checked_against_the_token_owners_email() {
    let app = TestApp::spawn().await;
    app.registered_user("Bob", "bob@example.com").await;
    let token = user_with_reset_token(&app, "jane@example.com").await;
    let cases = [
        (
            "qwerty123",
            "Password is too common: it appears in lists of leaked passwords",
        ),
        (
            "Jane Doe 1999!",
            "Password must not contain the part of the email address before the @",
        ),
    ];
    for (password, message) in cases {
        let response = app.reset_password(&token, password).await;

        response.assert_error_because(400, "invalid_password", password);
        assert_eq!(response.str("message"), message);
    }
    assert_eq!(
        app.signin("jane@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the password is unchanged"
    );

    let response = app.reset_password(&token, "bobby is back").await;

    assert_eq!(
        response.status,
        StatusCode::OK,
        "another account's name is no concern of Jane's: {}",
        response.body
    );
    assert_eq!(
        app.signin("jane@example.com", "bobby is back").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_junk_token_is_refused_before_the_password_rules_that_need_its_account() {
    let app = TestApp::spawn().await;
    user_with_reset_token(&app, "jane@example.com").await;

    let response = app.reset_password(&"A".repeat(43), "password123").await;

    response.assert_error(400, "invalid_reset_token");
}
