//! Proven addresses: a sign-up that answers alike whatever the address, confirmation by link or
//! code (single use, superseded by a newer email, dead after five wrong codes), sign-in refused
//! until confirmed, resending, and unconfirmed accounts pruned.

use std::time::{Duration, Instant};

use auth::Endpoint;
use futures::future::join_all;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, TestResponse, from_client, json_request};

const JANE: &str = "jane@example.com";
const SIGNUP_ANSWER: &str = "Check your email to finish signing up.";

async fn signup(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.signup("Jane", email, password).await
}

/// The subjects of the emails queued for an address, oldest first.
async fn subjects(app: &TestApp, email: &str) -> Vec<String> {
    app.db
        .query(
            "SELECT subject FROM email_outbox WHERE recipient = $1 ORDER BY id",
            &[&email],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn resend(app: &TestApp, email: &str) -> TestResponse {
    app.post_json(Endpoint::ResendVerification, &json!({ "email": email }))
        .await
}

#[tokio::test]
async fn signup_answers_alike_for_a_new_a_confirmed_and_an_unconfirmed_address() {
    let app = TestApp::spawn_with(&[("VERIFICATION_RESEND_INTERVAL", "3600")]).await;
    app.registered_user("Confirmed", "confirmed@example.com")
        .await;
    signup(&app, "pending@example.com", PASSWORD)
        .await
        .assert_status(StatusCode::ACCEPTED);

    let answers = [
        signup(&app, "new@example.com", PASSWORD).await,
        signup(&app, "confirmed@example.com", "another good passphrase").await,
        signup(&app, "pending@example.com", "another good passphrase").await,
    ];

    for answer in &answers {
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        assert_eq!(answer.body, json!({ "message": SIGNUP_ANSWER }));
        assert_eq!(answer.headers, answers[0].headers, "headers alike");
    }
    let hashes: Vec<String> = app
        .db
        .query(
            "SELECT password_hash FROM users WHERE email IN ('confirmed@example.com', 'pending@example.com')
             ORDER BY email",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for hash in &hashes {
        assert!(
            !auth::hashing::verify(
                auth::domain::Password::parse("another good passphrase").unwrap(),
                Some(auth::hashing::PasswordHashString::from_stored(hash.clone()))
            )
            .await
            .unwrap(),
            "no password was overwritten"
        );
    }
    assert_eq!(
        subjects(&app, "new@example.com").await,
        ["Confirm your email address"]
    );
    assert_eq!(
        subjects(&app, "confirmed@example.com").await,
        [
            "Confirm your email address",
            "Someone tried to create an account with your address"
        ],
        "the owner is told, and the account is untouched"
    );
    assert_eq!(
        subjects(&app, "pending@example.com").await,
        ["Confirm your email address"],
        "within the resend interval, no second confirmation"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email_verified_at IS NULL")
            .await,
        2,
        "new and pending are unconfirmed"
    );
}

#[tokio::test]
async fn the_owner_is_told_at_most_once_per_window_and_a_pending_address_gets_a_new_confirmation_after_the_interval()
 {
    let app = TestApp::spawn_with(&[("VERIFICATION_RESEND_INTERVAL", "1")]).await;
    app.registered_user("Confirmed", "confirmed@example.com")
        .await;
    signup(&app, "pending@example.com", PASSWORD).await;
    let first_link = app
        .verification_token_from_outbox("pending@example.com")
        .await;

    for _ in 0..3 {
        signup(&app, "confirmed@example.com", PASSWORD).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    signup(&app, "pending@example.com", PASSWORD).await;

    assert_eq!(
        subjects(&app, "confirmed@example.com")
            .await
            .iter()
            .filter(|s| s.starts_with("Someone tried"))
            .count(),
        1
    );
    assert_eq!(subjects(&app, "pending@example.com").await.len(), 2);
    app.verify_email(&json!({ "token": first_link }))
        .await
        .assert_error(400, "invalid_verification_token");
}

#[tokio::test]
async fn the_confirmation_email_holds_a_link_with_the_token_in_its_fragment_and_one_code() {
    let app = TestApp::spawn().await;
    signup(&app, JANE, PASSWORD).await;

    let body: String = app
        .db
        .query_one("SELECT body_text FROM email_outbox", &[])
        .await
        .unwrap()
        .get(0);
    let token = app.verification_token_from_outbox(JANE).await;
    let code = app.verification_code_from_outbox(JANE).await;

    assert!(
        body.contains(&format!("http://localhost:5001/verify-email#{token}")),
        "{body}"
    );
    assert!(token.len() >= 43, "256 bits at least: {token}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()) && code.len() == 6);
    let (stored_token, stored_code): (Vec<u8>, Vec<u8>) = {
        let row = app
            .db
            .query_one("SELECT token_hash, code_hash FROM email_verifications", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(stored_token.len(), 32);
    assert_eq!(stored_code.len(), 32);
    let everything = app
        .db
        .query_one(
            "SELECT (SELECT string_agg(t::text, ' ') FROM email_verifications t)",
            &[],
        )
        .await
        .unwrap()
        .get::<_, String>(0);
    assert!(
        !everything.contains(&token) && !everything.contains(&code),
        "neither the token nor the code is stored in clear"
    );
}

#[tokio::test]
async fn sign_in_is_refused_until_the_address_is_confirmed_by_link_or_code() {
    for by_code in [false, true] {
        let app = TestApp::spawn().await;
        signup(&app, JANE, PASSWORD).await;

        let before = app.signin(JANE, PASSWORD).await;
        let wrong = app.signin(JANE, "a wrong password").await;
        let proof = if by_code {
            json!({"email": "Jane@Example.com", "code": app.verification_code_from_outbox(JANE).await})
        } else {
            json!({"token": app.verification_token_from_outbox(JANE).await})
        };
        let confirmed = app.verify_email(&proof).await;
        let after = app.signin(JANE, PASSWORD).await;

        before.assert_error(403, "email_not_verified");
        wrong.assert_error(401, "invalid_credentials");
        confirmed.assert_status(StatusCode::OK);
        assert_eq!(
            confirmed.body,
            json!({"message": "Email address confirmed"})
        );
        after.assert_status(StatusCode::OK);
        assert_eq!(
            after.body["user"]["email_verified"], true,
            "by code: {by_code}"
        );
        let claims = crate::helpers::jwt_part(&after.str("access_token"), 1);
        assert_eq!(claims["email_verified"], true);
        let dashboard = app.dashboard(&after.str("access_token")).await;
        assert_eq!(dashboard.body["user"]["email_verified"], true);
        app.verify_email(&proof)
            .await
            .assert_error(400, "invalid_verification_token");
        assert_eq!(
            app.count("SELECT count(*) FROM signin_failures").await,
            0,
            "the right password, even refused, clears the failure streak"
        );
    }
}

#[tokio::test]
async fn expired_unknown_and_malformed_proofs_are_all_the_same_error() {
    let app = TestApp::spawn().await;
    signup(&app, JANE, PASSWORD).await;
    let token = app.verification_token_from_outbox(JANE).await;
    let code = app.verification_code_from_outbox(JANE).await;
    app.db
        .execute(
            "UPDATE email_verifications SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();

    let cases: [(Value, &str); 6] = [
        (json!({"token": token}), "an expired token"),
        (json!({"email": JANE, "code": code}), "an expired code"),
        (json!({"token": "x".repeat(43)}), "an unknown token"),
        (
            json!({"email": JANE, "code": "12345"}),
            "a code of five digits",
        ),
        (
            json!({"email": JANE, "code": "abcdef"}),
            "a code of letters",
        ),
        (
            json!({"email": "nobody@example.com", "code": "123456"}),
            "an address without confirmation",
        ),
    ];
    for (body, why) in cases {
        app.verify_email(&body)
            .await
            .assert_error_because(400, "invalid_verification_token", why);
    }
    app.verify_email(&json!({"email": JANE}))
        .await
        .assert_error(400, "missing_field");
    app.verify_email(&json!({"email": "not an address", "code": "123456"}))
        .await
        .assert_error(400, "invalid_email");
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code_but_not_the_link() {
    let app = TestApp::spawn().await;
    signup(&app, JANE, PASSWORD).await;
    let code = app.verification_code_from_outbox(JANE).await;
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);

    for _ in 0..5 {
        app.verify_email(&json!({"email": JANE, "code": wrong}))
            .await
            .assert_error(400, "invalid_verification_token");
    }
    let right_code_too_late = app
        .verify_email(&json!({"email": JANE, "code": code}))
        .await;
    let token = app.verification_token_from_outbox(JANE).await;
    let link = app.verify_email(&json!({"token": token})).await;

    right_code_too_late.assert_error(400, "invalid_verification_token");
    link.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_confirmations_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    signup(&app, JANE, PASSWORD).await;
    let token = app.verification_token_from_outbox(JANE).await;
    let code = app.verification_code_from_outbox(JANE).await;
    let proofs = [
        json!({"token": token}),
        json!({"token": token}),
        json!({"email": JANE, "code": code}),
        json!({"email": JANE, "code": code}),
    ];

    let answers = join_all(proofs.iter().map(|proof| app.verify_email(proof))).await;

    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events WHERE kind = 'email_verified'")
            .await,
        1
    );
}

#[tokio::test]
async fn resend_answers_alike_and_sends_only_to_an_unconfirmed_account_once_per_interval() {
    let app = TestApp::spawn_with(&[("VERIFICATION_RESEND_INTERVAL", "1")]).await;
    app.registered_user("Confirmed", "confirmed@example.com")
        .await;
    signup(&app, "pending@example.com", PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let answers = [
        resend(&app, "pending@example.com").await,
        resend(&app, "pending@example.com").await,
        resend(&app, "confirmed@example.com").await,
        resend(&app, "nobody@example.com").await,
    ];

    for answer in &answers {
        answer.assert_status(StatusCode::OK);
        assert_eq!(answer.body, answers[0].body);
    }
    assert_eq!(
        answers[0].str("message"),
        "If that address has an unconfirmed account, a new confirmation email has been sent."
    );
    assert_eq!(
        subjects(&app, "pending@example.com").await.len(),
        2,
        "the sign-up's and one resend: the second came within the interval"
    );
    assert_eq!(
        subjects(&app, "confirmed@example.com").await.len(),
        1,
        "only the confirmation of its sign-up"
    );
    assert_eq!(subjects(&app, "nobody@example.com").await.len(), 0);
}

#[tokio::test]
async fn resend_has_a_per_ip_budget() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_SIGNUP", "2")]).await;
    let resend_from = |ip: &'static str| {
        let app = &app;
        async move {
            let request = from_client(
                json_request(Endpoint::ResendVerification.path(), &json!({"email": JANE})),
                ip,
                "agent",
            );
            app.call(Endpoint::ResendVerification, request).await
        }
    };
    for _ in 0..2 {
        resend_from("203.0.113.7")
            .await
            .assert_status(StatusCode::OK);
    }
    resend_from("203.0.113.7")
        .await
        .assert_error(429, "rate_limited");
    resend_from("203.0.113.8")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_completed_password_reset_confirms_the_address() {
    let app = TestApp::spawn().await;
    signup(&app, JANE, PASSWORD).await;
    let token = app.requested_reset_token(JANE).await;

    app.reset_password(&token, "a brand new passphrase")
        .await
        .assert_status(StatusCode::OK);
    let signin = app.signin(JANE, "a brand new passphrase").await;

    signin.assert_status(StatusCode::OK);
    assert_eq!(signin.body["user"]["email_verified"], true);
    assert_eq!(
        app.count("SELECT count(*) FROM email_verifications").await,
        0,
        "the pending confirmation is moot"
    );
}

#[tokio::test]
async fn unconfirmed_accounts_are_deleted_after_their_ttl_and_the_address_is_free_again() {
    let app = TestApp::spawn().await;
    app.registered_user("Confirmed", "confirmed@example.com")
        .await;
    signup(&app, "squatted@example.com", PASSWORD).await;
    signup(&app, "recent@example.com", PASSWORD).await;
    app.db
        .batch_execute(
            "UPDATE users SET created_at = now() - interval '8 days'
             WHERE email IN ('squatted@example.com', 'confirmed@example.com')",
        )
        .await
        .unwrap();

    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!(report.unconfirmed_accounts, 1, "{report:?}");
    let left: Vec<String> = app
        .db
        .query("SELECT email FROM users ORDER BY email", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(left, ["confirmed@example.com", "recent@example.com"]);
    signup(&app, "squatted@example.com", PASSWORD)
        .await
        .assert_status(StatusCode::ACCEPTED);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'squatted@example.com'")
            .await,
        1,
        "the address is free for a new account"
    );
}

#[tokio::test]
async fn accounts_made_without_verification_are_never_pruned() {
    let app = TestApp::spawn_with(crate::helpers::UNVERIFIED).await;
    app.registered_user("Old", "old@example.com").await;
    app.db
        .batch_execute("UPDATE users SET created_at = now() - interval '30 days'")
        .await
        .unwrap();

    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!(report.unconfirmed_accounts, 0);
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The three sign-up cases take comparable time (each one Argon2 hash and the same statements),
/// so timing tells no more than the answer does. Medians of interleaved runs, as the sign-in
/// enumeration test measures.
#[tokio::test]
async fn the_three_signup_cases_take_comparable_time() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_SIGNUP", "10000")]).await;
    app.registered_user("Confirmed", "confirmed@example.com")
        .await;
    signup(&app, "pending@example.com", PASSWORD).await;
    let mut fresh = 0;
    let timed = |email: String| {
        let app = &app;
        async move {
            let started = Instant::now();
            let answer = signup(app, &email, PASSWORD).await;
            let elapsed = started.elapsed();
            answer.assert_status(StatusCode::ACCEPTED);
            elapsed
        }
    };
    let (mut new, mut confirmed, mut pending) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..16 {
        fresh += 1;
        let sample_new = timed(format!("new-{fresh}@example.com")).await;
        let sample_confirmed = timed("confirmed@example.com".to_owned()).await;
        let sample_pending = timed("pending@example.com".to_owned()).await;
        if round > 0 {
            new.push(sample_new);
            confirmed.push(sample_confirmed);
            pending.push(sample_pending);
        }
    }

    let (new, confirmed, pending) = (median(new), median(confirmed), median(pending));
    for (other, what) in [
        (confirmed, "a confirmed address"),
        (pending, "an unconfirmed one"),
    ] {
        let ratio = other.as_secs_f64() / new.as_secs_f64();
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{what} {other:?} vs a new address {new:?}: ratio {ratio:.2}"
        );
    }
}
