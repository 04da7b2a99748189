//! The append-only `auth_events` log: what each flow records, and that nothing secret is in it.

use auth::Endpoint;
use lambda_http::http::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, from_client, json_request};

const JANE: &str = "jane@example.com";

async fn kinds(app: &TestApp) -> Vec<String> {
    app.db
        .query("SELECT kind FROM auth_events ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn every_security_event_of_a_flow_is_recorded_in_order() {
    let app = TestApp::spawn().await;
    let signup = from_client(
        json_request(
            Endpoint::Signup.path(),
            &json!({"name": "Jane", "email": JANE, "password": PASSWORD}),
        ),
        "203.0.113.5",
        "Laptop/1.0",
    );
    assert_eq!(
        app.call(Endpoint::Signup, signup).await.status,
        StatusCode::ACCEPTED
    );
    let confirmation = app.verification_token_from_outbox(JANE).await;
    app.verify_email(&json!({ "token": confirmation }))
        .await
        .assert_status(StatusCode::OK);
    for _ in 0..5 {
        app.signin(JANE, "a wrong password").await;
    }
    app.db
        .execute("UPDATE signin_failures SET locked_until = now()", &[])
        .await
        .unwrap();
    let pair = app.signin(JANE, PASSWORD).await;
    let refreshed = app.refresh(&pair.str("refresh_token")).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    app.db
        .execute("UPDATE refresh_tokens SET used_at = now() - interval '1 hour' WHERE used_at IS NOT NULL", &[])
        .await
        .unwrap();
    app.refresh(&pair.str("refresh_token"))
        .await
        .assert_invalid_token("reused after the grace window");
    let second = app.signin(JANE, PASSWORD).await;
    assert_eq!(
        app.logout(&second.str("access_token")).await.status,
        StatusCode::OK
    );
    let token = app.requested_reset_token(JANE).await;
    app.forgot_password("nobody@example.com").await;
    assert_eq!(
        app.reset_password(&token, "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );

    assert_eq!(
        kinds(&app).await,
        [
            "signup",
            "verification_sent",
            "email_verified",
            "signin_failed",
            "signin_failed",
            "signin_failed",
            "signin_failed",
            "signin_failed",
            "lockout",
            "signin_succeeded",
            "refresh",
            "refresh_token_reused",
            "signin_succeeded",
            "logout",
            "password_reset_requested",
            "password_reset_requested",
            "password_reset_completed",
        ]
    );
    let first = app
        .db
        .query_one(
            "SELECT host(ip), user_agent, user_id IS NOT NULL, email_hash IS NULL
             FROM auth_events ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            first.get::<_, String>(0),
            first.get::<_, String>(1),
            first.get::<_, bool>(2),
            first.get::<_, bool>(3)
        ),
        ("203.0.113.5".into(), "Laptop/1.0".into(), true, true)
    );
    let unknown = app
        .db
        .query_one(
            "SELECT user_id IS NULL, octet_length(email_hash) FROM auth_events
             WHERE kind = 'password_reset_requested' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (unknown.get::<_, bool>(0), unknown.get::<_, i32>(1)),
        (true, 32),
        "an unknown email is recorded only as its digest"
    );

    // Nothing secret: no password, token or hash anywhere in the log.
    let everything: String = app
        .db
        .query_one(
            "SELECT string_agg(row_to_json(e)::text, ' ') FROM auth_events e",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let hashes: Vec<String> = app
        .db
        .query(
            "SELECT password_hash FROM users UNION ALL SELECT encode(token_hash, 'hex') FROM refresh_tokens
             UNION ALL SELECT encode(token_hash, 'hex') FROM reset_tokens",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for secret in [
        PASSWORD.to_owned(),
        "a brand new passphrase".to_owned(),
        "a wrong password".to_owned(),
        JANE.to_owned(),
        token,
        pair.str("access_token"),
        pair.str("refresh_token"),
    ]
    .iter()
    .chain(&hashes)
    {
        assert!(
            !everything.contains(secret.as_str()),
            "{secret} is in the audit log"
        );
    }
}

#[tokio::test]
async fn the_audit_log_cannot_be_changed_or_emptied() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    for statement in [
        "UPDATE auth_events SET kind = 'signin_succeeded'",
        "DELETE FROM auth_events",
        "TRUNCATE auth_events",
    ] {
        let error = app.db.batch_execute(statement).await.unwrap_err();
        assert!(
            error.to_string().contains("append-only")
                || error
                    .as_db_error()
                    .is_some_and(|e| e.message().contains("append-only")),
            "{statement}: {error}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events").await,
        3,
        "signup, verification_sent, email_verified"
    );
}
