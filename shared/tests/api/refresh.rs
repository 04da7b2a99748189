//! `POST /api/refresh`: rotation, the reuse grace window, theft detection and every rejection.

use std::time::Duration;

use auth::Endpoint;
use futures::future::join_all;
use lambda_http::http::{Method, StatusCode, header};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, authorization_request, jti_and_sid, raw_request};

async fn session_state(app: &TestApp, session_id: Uuid) -> (bool, Option<String>) {
    let row = app
        .db
        .query_one(
            "SELECT revoked_at IS NOT NULL, revoked_reason FROM sessions WHERE id = $1",
            &[&session_id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn refresh_rotates_the_token_and_returns_a_working_pair() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let old_refresh = signin.str("refresh_token");

    let response = app.refresh(&old_refresh).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.sorted_keys(),
        [
            "access_token",
            "expires_in",
            "message",
            "refresh_token",
            "token_type"
        ]
    );
    assert_eq!(response.str("message"), "Token refreshed successfully");
    assert_eq!(response.str("token_type"), "Bearer");
    assert_eq!(response.body["expires_in"], 900);
    assert_eq!(response.headers[header::CACHE_CONTROL], "no-store");
    let new_refresh = response.str("refresh_token");
    let new_access = response.str("access_token");
    assert_ne!(new_refresh, old_refresh, "the refresh token rotates");
    assert_ne!(new_access, signin.str("access_token"));
    assert_eq!(
        jti_and_sid(&new_access).1,
        jti_and_sid(&signin.str("access_token")).1,
        "rotation stays in the same session"
    );
    let dashboard = app.dashboard(&new_access).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert_eq!(dashboard.body["user"], signin.body["user"]);
    let again = app.refresh(&new_refresh).await;
    assert_eq!(again.status, StatusCode::OK, "the new refresh token works");
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 3);
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL")
            .await,
        2,
        "each presented token is marked used"
    );
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 1);
}

#[tokio::test]
async fn the_old_token_within_the_grace_window_still_works_and_supersedes_the_first_rotation() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let old_refresh = signin.str("refresh_token");
    let (_, session_id) = jti_and_sid(&signin.str("access_token"));
    let rotated = app.refresh(&old_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);

    let replay = app.refresh(&old_refresh).await;

    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    assert_eq!(session_state(&app, session_id).await, (false, None));
    for (token, why) in [
        (rotated.str("access_token"), "first rotation's access token"),
        (replay.str("access_token"), "replay's access token"),
        (signin.str("access_token"), "sign-in's access token"),
    ] {
        let response = app.dashboard(&token).await;
        assert_eq!(response.status, StatusCode::OK, "{why}: {}", response.body);
    }
    assert_eq!(live_refresh_tokens(&app, session_id).await, 1);
    let next = app.refresh(&replay.str("refresh_token")).await;
    assert_eq!(
        next.status,
        StatusCode::OK,
        "the replay's refresh token works"
    );
}

/// A thief who replays a rotated token inside the grace window gets a branch of the session; the
/// branch it supersedes is the victim's, whose next refresh is then reuse: the whole session
/// ends, the thief's branch with it.
#[tokio::test]
async fn a_replay_inside_the_grace_window_cannot_fork_the_session() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let stolen = signin.str("refresh_token");
    let (_, session_id) = jti_and_sid(&signin.str("access_token"));
    let victim = app.refresh(&stolen).await;
    assert_eq!(victim.status, StatusCode::OK);
    let thief = app.refresh(&stolen).await;
    assert_eq!(thief.status, StatusCode::OK);

    app.refresh(&victim.str("refresh_token"))
        .await
        .assert_invalid_token("the superseded branch");

    assert_eq!(
        session_state(&app, session_id).await,
        (true, Some("refresh_token_reuse".to_owned()))
    );
    app.refresh(&thief.str("refresh_token"))
        .await
        .assert_invalid_token("the thief's branch ended with the session");
    app.dashboard(&thief.str("access_token"))
        .await
        .assert_invalid_token("the thief's access token");
}

/// Refresh tokens of the session that a refresh would accept as fresh.
async fn live_refresh_tokens(app: &TestApp, session_id: Uuid) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE s.id = $1 AND t.used_at IS NULL AND t.expires_at > now()
               AND t.token_hash = coalesce(s.refresh_token_hash, t.token_hash)",
            &[&session_id],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn refreshes_never_carry_a_session_past_its_absolute_lifetime() {
    let app = TestApp::spawn_with(&[("SESSION_MAX_LIFETIME", "3600")]).await;
    let signin = app.signed_in_user("jane@example.com").await;
    let (_, session_id) = jti_and_sid(&signin.str("access_token"));
    let expiry = |column: &'static str| {
        let app = &app;
        async move {
            let row = app
                .db
                .query_one(
                    &format!(
                        "SELECT extract(epoch FROM {column} - created_at)::float8 FROM sessions WHERE id = $1"
                    ),
                    &[&session_id],
                )
                .await
                .unwrap();
            row.get::<_, f64>(0)
        }
    };
    assert!((3599.0..3601.0).contains(&expiry("max_expires_at").await));
    assert!(
        expiry("expires_at").await <= 3601.0,
        "the week-long refresh TTL is capped by the hour-long lifetime"
    );
    let refreshed = app.refresh(&signin.str("refresh_token")).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert!(expiry("expires_at").await <= 3601.0);

    // Fifty-nine minutes later (the clock moved by moving the session back), a refresh works
    // but extends nothing; once the hour is up, the session is over.
    app.db
        .execute(
            "UPDATE sessions SET created_at = created_at - interval '59 minutes',
                                 expires_at = expires_at - interval '59 minutes',
                                 max_expires_at = max_expires_at - interval '59 minutes'
             WHERE id = $1",
            &[&session_id],
        )
        .await
        .unwrap();
    let late = app.refresh(&refreshed.str("refresh_token")).await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    assert!(expiry("expires_at").await <= 3601.0);
    app.db
        .execute(
            "UPDATE sessions SET created_at = created_at - interval '2 minutes',
                                 expires_at = expires_at - interval '2 minutes',
                                 max_expires_at = max_expires_at - interval '2 minutes'
             WHERE id = $1",
            &[&session_id],
        )
        .await
        .unwrap();
    app.refresh(&late.str("refresh_token"))
        .await
        .assert_invalid_token("past the session's absolute lifetime");
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_session() {
    let app = TestApp::spawn_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let signin = app.signed_in_user("jane@example.com").await;
    let other_session = app.signin("jane@example.com", PASSWORD).await;
    let stolen = signin.str("refresh_token");
    let (_, session_id) = jti_and_sid(&signin.str("access_token"));
    let rotated = app.refresh(&stolen).await;
    assert_eq!(rotated.status, StatusCode::OK);

    let reuse = app.refresh(&stolen).await;

    reuse.assert_invalid_token("reused token");
    assert_eq!(
        session_state(&app, session_id).await,
        (true, Some("refresh_token_reuse".to_owned()))
    );
    app.refresh(&rotated.str("refresh_token"))
        .await
        .assert_invalid_token("newest refresh token of the revoked session");
    app.dashboard(&rotated.str("access_token"))
        .await
        .assert_invalid_token("current access token of the revoked session");
    app.dashboard(&signin.str("access_token"))
        .await
        .assert_invalid_token("first access token of the revoked session");
    assert_eq!(
        app.dashboard(&other_session.str("access_token"))
            .await
            .status,
        StatusCode::OK,
        "the user's other session is not affected"
    );
    assert_eq!(
        app.refresh(&other_session.str("refresh_token"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reuse_is_honoured_inside_the_window_and_punished_once_it_has_passed() {
    let app = TestApp::spawn_with(&[("REFRESH_REUSE_GRACE", "1")]).await;
    let signin = app.signed_in_user("jane@example.com").await;
    let old_refresh = signin.str("refresh_token");
    let (_, session_id) = jti_and_sid(&signin.str("access_token"));
    let rotated = app.refresh(&old_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let late_reuse = app.refresh(&old_refresh).await;

    late_reuse.assert_invalid_token("reuse 1.5 s after rotation with a 1 s grace");
    assert_eq!(
        session_state(&app, session_id).await,
        (true, Some("refresh_token_reuse".to_owned()))
    );
    app.refresh(&rotated.str("refresh_token"))
        .await
        .assert_invalid_token("newest refresh token");
    app.dashboard(&rotated.str("access_token"))
        .await
        .assert_invalid_token("newest access token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshes_of_one_token_all_succeed_within_the_grace_window() {
    // Twenty transactions queue on one row lock: on a loaded machine the last waits longer than
    // the production timeouts would allow. What is tested here is the rotation, not the timeouts.
    let app = TestApp::over(
        crate::helpers::fresh_database_with(auth::config::DbTimeouts {
            connect: std::time::Duration::from_secs(30),
            statement: std::time::Duration::from_secs(60),
        })
        .await,
    )
    .await;
    let signin = app.signed_in_user("jane@example.com").await;
    let refresh = signin.str("refresh_token");
    let (_, session_id) = jti_and_sid(&signin.str("access_token"));

    let responses = join_all((0..20).map(|_| app.refresh(&refresh))).await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses, [200; 20], "{responses:#?}");
    let mut new_tokens: Vec<String> = responses.iter().map(|r| r.str("refresh_token")).collect();
    new_tokens.sort();
    new_tokens.dedup();
    assert_eq!(new_tokens.len(), 20, "every refresh issued its own token");
    assert_eq!(session_state(&app, session_id).await, (false, None));
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 21);
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL")
            .await,
        1,
        "only the presented token is marked used"
    );
    assert_eq!(
        live_refresh_tokens(&app, session_id).await,
        1,
        "one live refresh token: the last rotation's"
    );
    for response in &responses {
        assert_eq!(
            app.dashboard(&response.str("access_token")).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn a_missing_or_non_bearer_authorization_is_missing_token_with_a_challenge() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            raw_request(Method::POST, "/api/refresh", None, ""),
            "no header",
        ),
        (
            authorization_request(Method::POST, "/api/refresh", "Basic abc"),
            "Basic scheme",
        ),
        (
            authorization_request(Method::POST, "/api/refresh", "Bearer"),
            "no token",
        ),
        (
            authorization_request(Method::POST, "/api/refresh", "Bearer    "),
            "blank token",
        ),
        (
            authorization_request(Method::POST, "/api/refresh", "abc"),
            "no scheme",
        ),
    ];
    for (request, why) in cases {
        let response = app.call(Endpoint::Refresh, request).await;
        response.assert_error_because(401, "missing_token", why);
        response.assert_bearer_challenge(why);
    }
}

#[tokio::test]
async fn tokens_that_are_not_live_refresh_tokens_are_invalid_token() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let cases = [
        (signin.str("access_token"), "an access token"),
        ("not-a-token".to_owned(), "a random string"),
        (
            "A".repeat(43),
            "a well-formed 43-character token that was never issued",
        ),
        (
            format!("{}x", signin.str("refresh_token")),
            "the refresh token with a character appended",
        ),
    ];
    for (token, why) in cases {
        app.refresh(&token).await.assert_invalid_token(why);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_tokens").await,
        1,
        "nothing was issued"
    );
    assert_eq!(
        app.refresh(&signin.str("refresh_token")).await.status,
        StatusCode::OK,
        "the genuine token was not disturbed"
    );
}

#[tokio::test]
async fn the_refresh_token_of_a_logged_out_session_is_invalid() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    assert_eq!(
        app.logout(&signin.str("access_token")).await.status,
        StatusCode::OK
    );

    let response = app.refresh(&signin.str("refresh_token")).await;

    response.assert_invalid_token("refresh after logout");
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 1);
}

#[tokio::test]
async fn an_expired_refresh_token_is_invalid() {
    let app = TestApp::spawn_with(&[("REFRESH_TOKEN_TTL", "1")]).await;
    let signin = app.signed_in_user("jane@example.com").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let response = app.refresh(&signin.str("refresh_token")).await;

    response.assert_invalid_token("expired refresh token");
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_tokens").await,
        1,
        "nothing was issued"
    );
}

#[tokio::test]
async fn a_refresh_keeps_the_sessions_assurance() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let (_, session_id) = jti_and_sid(&signin.str("access_token"));
    // As a confirmed second factor leaves it.
    app.db
        .execute(
            "UPDATE sessions SET aal = 'aal2', amr = ARRAY['pwd', 'otp'] WHERE id = $1",
            &[&session_id],
        )
        .await
        .unwrap();

    let refreshed = app.refresh(&signin.str("refresh_token")).await;

    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let claims = crate::helpers::jwt_part(&refreshed.str("access_token"), 1);
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
}
