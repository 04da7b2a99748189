//! Throttling held in PostgreSQL: the per-email sign-in lockout, per-IP budgets and the
//! per-address reset-email budget, across separate instances, for known and unknown emails alike.

use std::time::Duration;

use auth::Endpoint;
use lambda_http::http::{StatusCode, header};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, TestResponse, from_client, json_request};

const JANE: &str = "jane@example.com";
const WRONG: &str = "not the right password";

#[track_caller]
fn retry_after(response: &TestResponse) -> u64 {
    response
        .headers
        .get(header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("no Retry-After: {}", response.body))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Sets the failure streak of `email` from clients without an address (the tests' default
/// network) as if `failures` failed attempts had just happened, the lock (if any) already over.
async fn arrange_streak(app: &TestApp, email: &str, failures: i32) {
    let digest = auth::domain::Email::parse(email).unwrap().digest();
    app.db
        .execute(
            "INSERT INTO signin_failures (email_hash, scope, failures, locked_until, expires_at)
             VALUES ($1, 'net:unknown', $2, now() - interval '1 second', now() + interval '1 day')
             ON CONFLICT (email_hash, scope) DO UPDATE
             SET failures = $2, locked_until = now() - interval '1 second'",
            &[&digest.0.as_slice(), &failures],
        )
        .await
        .unwrap();
}

async fn end_lock(app: &TestApp) {
    app.db
        .execute(
            "UPDATE signin_failures SET locked_until = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn five_failures_lock_the_network_out_even_against_the_right_password() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    for attempt in 1..=5 {
        app.signin(JANE, WRONG).await.assert_error_because(
            401,
            "invalid_credentials",
            &format!("attempt {attempt}"),
        );
    }

    let refused = app.signin(JANE, PASSWORD).await;

    refused.assert_error(429, "too_many_attempts");
    assert_eq!(
        retry_after(&refused),
        1,
        "2^(5-5) seconds after the fifth failure"
    );
    let lockouts = app
        .count("SELECT count(*) FROM auth_events WHERE kind = 'lockout'")
        .await;
    assert_eq!(lockouts, 1, "the fifth failure started a lockout");
}

#[tokio::test]
async fn the_wait_doubles_with_each_further_failure_up_to_fifteen_minutes() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    for (streak, expected_wait) in [(5, 2), (6, 4), (9, 32), (14, 900), (40, 900)] {
        arrange_streak(&app, JANE, streak).await;
        app.signin(JANE, WRONG)
            .await
            .assert_error(401, "invalid_credentials");

        let refused = app.signin(JANE, WRONG).await;

        refused.assert_error(429, "too_many_attempts");
        let wait = retry_after(&refused);
        assert!(
            (expected_wait - 1..=expected_wait).contains(&wait),
            "failure {}: waited {wait}, expected {expected_wait}",
            streak + 1
        );
    }
}

#[tokio::test]
async fn a_refused_attempt_does_not_run_argon2() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    for _ in 0..5 {
        app.signin(JANE, WRONG).await;
    }
    // A valid Argon2id hash whose verification would take minutes (t = 2^20 passes): if a
    // locked-out attempt verified anything, this test would time out instead of answering.
    app.db
        .execute(
            "UPDATE users SET password_hash =
             '$argon2id$v=19$m=19456,t=1048576,p=1$c29tZS1kdW1teS1zYWx0$5QRXZbbJf1c8bKx4Y6uTQx1HGhcbzuBUZ0Nj4Fz3r9o'",
            &[],
        )
        .await
        .unwrap();

    let refused = tokio::time::timeout(Duration::from_secs(20), app.signin(JANE, PASSWORD))
        .await
        .expect("a refused attempt answers without hashing");

    refused.assert_error(429, "too_many_attempts");
}

#[tokio::test]
async fn a_success_clears_the_streak() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    for _ in 0..4 {
        app.signin(JANE, WRONG).await;
    }
    assert_eq!(app.signin(JANE, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) FROM signin_failures").await, 0);

    for attempt in 1..=4 {
        app.signin(JANE, WRONG).await.assert_error_because(
            401,
            "invalid_credentials",
            &format!("attempt {attempt}"),
        );
    }
    assert_eq!(app.signin(JANE, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_emails_are_throttled_exactly_like_known_ones() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    let nobody = "nobody@example.com";
    for attempt in 1..=7 {
        let known = app.signin(JANE, WRONG).await;
        let unknown = app.signin(nobody, WRONG).await;

        assert_eq!(
            (
                known.status,
                &known.body,
                known.headers.get(header::RETRY_AFTER)
            ),
            (
                unknown.status,
                &unknown.body,
                unknown.headers.get(header::RETRY_AFTER)
            ),
            "attempt {attempt}"
        );
        if attempt == 6 {
            known.assert_error(429, "too_many_attempts");
            end_lock(&app).await;
        }
    }
}

#[tokio::test]
async fn the_lockout_holds_across_instances() {
    let first = TestApp::spawn().await;
    let second = first.second_instance().await;
    first.registered_user("Jane", JANE).await;
    for attempt in 0..5 {
        let instance = if attempt % 2 == 0 { &first } else { &second };
        instance
            .signin(JANE, WRONG)
            .await
            .assert_error(401, "invalid_credentials");
    }

    first
        .signin(JANE, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    second
        .signin(JANE, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
}

#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_lockout() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;

    let responses = futures::future::join_all((0..12).map(|_| app.signin(JANE, WRONG))).await;

    let verified = responses
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        verified <= 5,
        "only five guesses may be checked before the lock: {verified} were"
    );
    assert!(
        responses
            .iter()
            .all(|r| r.status == StatusCode::UNAUTHORIZED || r.error() == "too_many_attempts")
    );
}

#[tokio::test]
async fn each_client_ip_has_its_own_sign_in_budget_across_instances() {
    let first = TestApp::spawn_with(&[("RATE_LIMIT_SIGNIN", "4")]).await;
    let second = first.second_instance().await;
    first.registered_user("Jane", JANE).await;
    for request in 0..4 {
        let instance = if request % 2 == 0 { &first } else { &second };
        let email = format!("user{request}@example.com");
        instance
            .signin_from("203.0.113.7", &email, WRONG)
            .await
            .assert_error(401, "invalid_credentials");
    }

    let refused = second.signin_from("203.0.113.7", JANE, PASSWORD).await;

    refused.assert_error(429, "rate_limited");
    let wait = retry_after(&refused);
    assert!((1..=300).contains(&wait), "{wait}");
    let other_ip = first.signin_from("198.51.100.1", JANE, PASSWORD).await;
    assert_eq!(other_ip.status, StatusCode::OK, "{}", other_ip.body);
}

#[tokio::test]
async fn signup_and_forgot_password_have_per_ip_budgets() {
    let app = TestApp::spawn_with(&[
        ("RATE_LIMIT_SIGNUP", "2"),
        ("RATE_LIMIT_FORGOT_PASSWORD", "2"),
    ])
    .await;
    let signup = |n: u32| {
        from_client(
            json_request(
                Endpoint::Signup.path(),
                &json!({"name": "N", "email": format!("n{n}@example.com"), "password": PASSWORD}),
            ),
            "203.0.113.9",
            "agent",
        )
    };
    let forgot = |n: u32| {
        from_client(
            json_request(
                Endpoint::ForgotPassword.path(),
                &json!({"email": format!("n{n}@example.com")}),
            ),
            "203.0.113.9",
            "agent",
        )
    };
    for n in 0..2 {
        assert_eq!(
            app.call(Endpoint::Signup, signup(n)).await.status,
            StatusCode::ACCEPTED
        );
        assert_eq!(
            app.call(Endpoint::ForgotPassword, forgot(n)).await.status,
            StatusCode::OK
        );
    }

    app.call(Endpoint::Signup, signup(9))
        .await
        .assert_error(429, "rate_limited");
    app.call(Endpoint::ForgotPassword, forgot(0))
        .await
        .assert_error(429, "rate_limited");
    assert_eq!(
        app.count("SELECT count(*) FROM users").await,
        2,
        "no account past the budget"
    );
}

#[tokio::test]
async fn reset_emails_beyond_the_address_budget_answer_the_same_and_send_nothing() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    let first = app.forgot_password(JANE).await;
    for _ in 0..2 {
        app.forgot_password(JANE).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'")
            .await,
        3
    );

    let beyond = app.forgot_password(JANE).await;

    assert_eq!((beyond.status, &beyond.body), (first.status, &first.body));
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'")
            .await,
        3,
        "nothing sent"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM reset_tokens").await,
        3,
        "no token stored"
    );
}

#[tokio::test]
async fn the_janitor_prunes_ended_windows_and_forgotten_streaks_only() {
    let app = TestApp::spawn().await;
    app.signin("a@example.com", WRONG).await;
    app.signin("b@example.com", WRONG).await;
    app.db
        .batch_execute(
            "UPDATE rate_limits SET window_ends = now() - interval '1 second';
             UPDATE signin_failures SET expires_at = now() - interval '1 second'
             WHERE email_hash = (SELECT email_hash FROM signin_failures LIMIT 1)",
        )
        .await
        .unwrap();

    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!(
        report.throttles, 3,
        "one window, one address's two streaks (its network's and its account-wide one)"
    );
    assert_eq!(app.count("SELECT count(*) FROM rate_limits").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM signin_failures").await, 2);
}
