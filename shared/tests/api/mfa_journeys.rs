//! TOTP and recovery codes through the endpoints, as a client uses them: enrol, confirm, sign in
//! in two steps, replay, wrong codes and the lock, recovery codes, new codes, `aal2` checks, and
//! turning TOTP off.

use auth::Endpoint;
use lambda_http::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, TestResponse, jwt_part, totp_code};

const JANE: &str = "jane@example.com";

/// The code an authenticator app shows for `secret` (base32) `steps` time steps from now.
fn code(secret: &str, steps: i64) -> String {
    totp_code(secret, steps)
}

/// Time passes for the account's TOTP: the steps accepted so far are in the past, so the codes
/// of the next minute pass again (instead of waiting for them in the test).
async fn a_while_later(app: &TestApp) {
    app.db
        .execute("UPDATE mfa_totp SET last_step = last_step - 10", &[])
        .await
        .unwrap();
}

/// Jane with TOTP on: her secret, recovery codes and the confirming session's response.
struct Enrolled {
    secret: String,
    recovery_codes: Vec<String>,
    confirmed: TestResponse,
}

async fn jane_with_totp(app: &TestApp) -> Enrolled {
    let token = app.signed_in_access_token(JANE).await;
    let enrolled = app
        .call_endpoint(Endpoint::MfaEnroll, Some(&token), Value::Null)
        .await;
    enrolled.assert_status(StatusCode::CREATED);
    assert_eq!(
        enrolled.sorted_keys(),
        ["otpauth_uri", "qr_svg", "secret"],
        "{}",
        enrolled.body
    );
    let secret = enrolled.str("secret");
    let confirmed = app
        .call_endpoint(
            Endpoint::MfaConfirm,
            Some(&token),
            json!({"code": code(&secret, 0)}),
        )
        .await;
    confirmed.assert_status(StatusCode::OK);
    let recovery_codes = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    Enrolled {
        secret,
        recovery_codes,
        confirmed,
    }
}

/// The right password: the second step's `mfa_token`.
async fn password_step(app: &TestApp) -> String {
    let response = app.signin(JANE, PASSWORD).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(
        response.body,
        json!({
            "message": "Second factor required",
            "mfa_required": true,
            "mfa_token": response.body["mfa_token"],
            "methods": ["totp", "recovery_code"],
        }),
        "no access or refresh token before the second factor"
    );
    let token = response.str("mfa_token");
    assert!(token.len() >= 43, "256 bits: {token}");
    token
}

async fn verify(app: &TestApp, mfa_token: &str, field: &str, code: &str) -> TestResponse {
    app.call_endpoint(
        Endpoint::MfaVerify,
        None,
        json!({"mfa_token": mfa_token, field: code}),
    )
    .await
}

async fn emails_to_jane(app: &TestApp, subject: &str) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM email_outbox WHERE recipient = $1 AND subject = $2",
            &[&JANE, &subject],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_totp_sign_in_takes_the_password_then_a_code_never_seen_before() {
    let app = TestApp::spawn().await;
    let Enrolled {
        secret, confirmed, ..
    } = jane_with_totp(&app).await;
    assert_eq!(
        confirmed.str("message"),
        "Two-factor authentication enabled"
    );
    assert_eq!(jwt_part(&confirmed.str("access_token"), 1)["aal"], "aal2");

    let mfa_token = password_step(&app).await;
    // The confirmation spent this step's code: it is never accepted again.
    verify(&app, &mfa_token, "code", &code(&secret, 0))
        .await
        .assert_error(401, "invalid_mfa_code");
    let signed_in = verify(&app, &mfa_token, "code", &code(&secret, 1)).await;

    signed_in.assert_status(StatusCode::OK);
    assert_eq!(
        signed_in.sorted_keys(),
        [
            "access_token",
            "device_token",
            "expires_in",
            "message",
            "refresh_token",
            "token_type",
            "user"
        ]
    );
    let claims = jwt_part(&signed_in.str("access_token"), 1);
    assert_eq!(
        (claims["aal"].clone(), claims["amr"].clone()),
        (json!("aal2"), json!(["pwd", "otp"]))
    );
    assert_eq!(signed_in.body["user"]["mfa_enabled"], true);
    let dashboard = app.dashboard(&signed_in.str("access_token")).await;
    assert_eq!(dashboard.body["user"]["mfa_enabled"], true);
    let refreshed = app.refresh(&signed_in.str("refresh_token")).await;
    assert_eq!(
        jwt_part(&refreshed.str("access_token"), 1)["amr"],
        json!(["pwd", "otp"])
    );
    // The challenge is single use, and the code too, even with a new challenge.
    verify(&app, &mfa_token, "code", &code(&secret, 1))
        .await
        .assert_error(401, "invalid_mfa_token");
    let again = password_step(&app).await;
    verify(&app, &again, "code", &code(&secret, 1))
        .await
        .assert_error(401, "invalid_mfa_code");
    // A wrong password says nothing about the second factor.
    app.signin(JANE, "not the password at all")
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn an_mfa_token_dies_when_it_expires_or_after_five_wrong_codes() {
    let app = TestApp::spawn().await;
    let Enrolled { secret, .. } = jane_with_totp(&app).await;
    let wrong = if code(&secret, 1) == "000000" {
        "111111"
    } else {
        "000000"
    };

    let guessed = password_step(&app).await;
    for _ in 0..5 {
        verify(&app, &guessed, "code", wrong)
            .await
            .assert_error(401, "invalid_mfa_code");
    }
    verify(&app, &guessed, "code", &code(&secret, 1))
        .await
        .assert_error(401, "invalid_mfa_token");

    let late = password_step(&app).await;
    app.db
        .execute(
            "UPDATE mfa_challenges SET expires_at = now() - interval '1 second'
             WHERE used_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    verify(&app, &late, "code", &code(&secret, 1))
        .await
        .assert_error(401, "invalid_mfa_token");
    verify(&app, "made-up", "code", &code(&secret, 1))
        .await
        .assert_error(401, "invalid_mfa_token");
    // Malformed requests: a clear error, no challenge spent.
    let live = password_step(&app).await;
    app.call_endpoint(Endpoint::MfaVerify, None, json!({"mfa_token": live}))
        .await
        .assert_error(400, "missing_field");
    app.call_endpoint(
        Endpoint::MfaVerify,
        None,
        json!({"mfa_token": live, "code": "123456", "recovery_code": "AAAA-BBBB-CCCC"}),
    )
    .await
    .assert_error(400, "invalid_json");
    verify(&app, &live, "code", &code(&secret, 1))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn ten_wrong_codes_lock_the_second_factor_across_instances_and_email_the_owner() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let Enrolled { secret, .. } = jane_with_totp(&app).await;
    let wrong = if code(&secret, 1) == "000000" {
        "111111"
    } else {
        "000000"
    };

    // Two challenges on two instances, five wrong codes each: the tenth locks.
    for instance in [&app, &second] {
        let mfa_token = password_step(instance).await;
        for _ in 0..5 {
            verify(instance, &mfa_token, "code", wrong)
                .await
                .assert_error(401, "invalid_mfa_code");
        }
    }
    assert_eq!(
        emails_to_jane(&app, auth::emails::MFA_LOCKED_SUBJECT).await,
        1
    );

    let mfa_token = password_step(&second).await;
    let locked = verify(&app, &mfa_token, "code", &code(&secret, 1)).await;
    locked.assert_error(429, "too_many_attempts");
    let retry: u64 = locked.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
    // Even a right recovery code waits.
    verify(&second, &mfa_token, "recovery_code", "AAAA-BBBB-CCCC")
        .await
        .assert_error(429, "too_many_attempts");

    app.db
        .execute(
            "UPDATE mfa_failures SET locked_until = now(), window_ends = now()",
            &[],
        )
        .await
        .unwrap();
    verify(&app, &mfa_token, "code", &code(&secret, 1))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_sign_ins_at_once_with_one_code_exactly_one_gets_in() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let Enrolled { secret, .. } = jane_with_totp(&app).await;

    for round in 0..5 {
        a_while_later(&app).await;
        let (one, other) = (password_step(&app).await, password_step(&second).await);
        let code = code(&secret, 1);
        let (a, b) = tokio::join!(
            verify(&app, &one, "code", &code),
            verify(&second, &other, "code", &code)
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 401], "round {round}: {} {}", a.body, b.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_sign_ins_at_once_with_one_recovery_code_exactly_one_gets_in() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let Enrolled { recovery_codes, .. } = jane_with_totp(&app).await;

    for (round, code) in recovery_codes.iter().enumerate() {
        let (one, other) = (password_step(&app).await, password_step(&second).await);
        let (a, b) = tokio::join!(
            verify(&app, &one, "recovery_code", code),
            verify(&second, &other, "recovery_code", code)
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 401], "round {round}: {} {}", a.body, b.body);
        // The loser's wrong code counts towards the lock: not what this test is about.
        app.db
            .execute("DELETE FROM mfa_failures", &[])
            .await
            .unwrap();
    }
    assert_eq!(
        app.count("SELECT count(*) FROM mfa_recovery_codes WHERE used_at IS NULL")
            .await,
        0,
        "each code used once"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM sessions WHERE 'recovery_code' = ANY (amr) AND revoked_at IS NULL"
        )
        .await,
        10,
        "one session per code"
    );
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_in_any_case_and_tells_the_owner() {
    let app = TestApp::spawn().await;
    let Enrolled {
        recovery_codes,
        confirmed,
        ..
    } = jane_with_totp(&app).await;
    assert_eq!(recovery_codes.len(), 10);
    assert!(
        recovery_codes
            .iter()
            .all(|c| c.len() == 14 && c.chars().nth(4) == Some('-')),
        "{recovery_codes:?}"
    );
    let typed = recovery_codes[3].replace('-', " ").to_lowercase();

    let mfa_token = password_step(&app).await;
    let signed_in = verify(&app, &mfa_token, "recovery_code", &typed).await;

    signed_in.assert_status(StatusCode::OK);
    assert_eq!(
        jwt_part(&signed_in.str("access_token"), 1)["amr"],
        json!(["pwd", "recovery_code"])
    );
    assert_eq!(
        emails_to_jane(&app, auth::emails::RECOVERY_CODE_USED_SUBJECT).await,
        1
    );
    let body: String = app
        .db
        .query_one(
            "SELECT body_text FROM email_outbox WHERE subject = $1",
            &[&auth::emails::RECOVERY_CODE_USED_SUBJECT],
        )
        .await
        .unwrap()
        .get(0);
    assert!(body.contains("9 unused recovery codes remain"), "{body}");
    let again = password_step(&app).await;
    verify(&app, &again, "recovery_code", &recovery_codes[3])
        .await
        .assert_error(401, "invalid_mfa_code");
    let status = app
        .call_endpoint(
            Endpoint::MfaStatus,
            Some(&confirmed.str("access_token")),
            Value::Null,
        )
        .await;
    assert_eq!(
        status.body,
        json!({"totp": {"enabled": true}, "recovery_codes_left": 9, "passkeys": 0})
    );
}

#[tokio::test]
async fn new_recovery_codes_and_turning_totp_off_need_an_aal2_session() {
    let app = TestApp::spawn().await;
    let plain = app.signed_in_access_token("john@example.com").await;
    app.call_endpoint(Endpoint::MfaRecoveryCodes, Some(&plain), Value::Null)
        .await
        .assert_error(403, "aal2_required");
    app.call_endpoint(
        Endpoint::MfaDisable,
        Some(&plain),
        json!({"code": "123456"}),
    )
    .await
    .assert_error(403, "aal2_required");
    let status = app
        .call_endpoint(Endpoint::MfaStatus, Some(&plain), Value::Null)
        .await;
    assert_eq!(
        status.body,
        json!({"totp": {"enabled": false}, "recovery_codes_left": 0, "passkeys": 0})
    );

    let Enrolled {
        secret,
        recovery_codes,
        confirmed,
    } = jane_with_totp(&app).await;
    let aal2 = confirmed.str("access_token");
    // A session whose tokens say aal1 is refused, whatever the account has on.
    app.db
        .execute(
            "UPDATE sessions SET aal = 'aal1', amr = ARRAY['pwd'] WHERE revoked_at IS NULL
             AND user_id = (SELECT id FROM users WHERE email = $1)",
            &[&JANE],
        )
        .await
        .unwrap();
    let aal1 = app.refresh(&confirmed.str("refresh_token")).await;
    let aal1 = aal1.str("access_token");
    app.call_endpoint(Endpoint::MfaRecoveryCodes, Some(&aal1), Value::Null)
        .await
        .assert_error(403, "aal2_required");
    app.call_endpoint(
        Endpoint::MfaDisable,
        Some(&aal1),
        json!({"code": code(&secret, 1)}),
    )
    .await
    .assert_error(403, "aal2_required");

    // New codes: the old set dies.
    let mfa_token = password_step(&app).await;
    let signed_in = verify(&app, &mfa_token, "code", &code(&secret, 1)).await;
    let aal2_again = signed_in.str("access_token");
    let fresh = app
        .call_endpoint(Endpoint::MfaRecoveryCodes, Some(&aal2_again), Value::Null)
        .await;
    fresh.assert_status(StatusCode::OK);
    let fresh: Vec<String> = fresh.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    let old = password_step(&app).await;
    verify(&app, &old, "recovery_code", &recovery_codes[0])
        .await
        .assert_error(401, "invalid_mfa_code");
    verify(&app, &old, "recovery_code", &fresh[0])
        .await
        .assert_status(StatusCode::OK);
    assert!(!aal2.is_empty());
}

#[tokio::test]
async fn turning_totp_off_takes_a_current_code_and_tells_the_owner() {
    let app = TestApp::spawn().await;
    let Enrolled {
        secret, confirmed, ..
    } = jane_with_totp(&app).await;
    let token = confirmed.str("access_token");
    let wrong = if code(&secret, 1) == "000000" {
        "111111"
    } else {
        "000000"
    };

    app.call_endpoint(Endpoint::MfaDisable, Some(&token), json!({"code": wrong}))
        .await
        .assert_error(400, "invalid_mfa_code");
    // The code that confirmed was spent: a replay is wrong here too.
    app.call_endpoint(
        Endpoint::MfaDisable,
        Some(&token),
        json!({"code": code(&secret, 0)}),
    )
    .await
    .assert_error(400, "invalid_mfa_code");
    app.call_endpoint(Endpoint::MfaDisable, Some(&token), json!({"code": "12345"}))
        .await
        .assert_error(400, "invalid_mfa_code");
    let disabled = app
        .call_endpoint(
            Endpoint::MfaDisable,
            Some(&token),
            json!({"code": code(&secret, 1)}),
        )
        .await;

    disabled.assert_status(StatusCode::OK);
    assert_eq!(
        disabled.body,
        json!({"message": "Two-factor authentication disabled"})
    );
    assert_eq!(
        emails_to_jane(&app, auth::emails::MFA_DISABLED_SUBJECT).await,
        1
    );
    let signed_in = app.signin(JANE, PASSWORD).await;
    signed_in.assert_status(StatusCode::OK);
    assert_eq!(signed_in.body["user"]["mfa_enabled"], false);
    assert_eq!(
        app.count("SELECT count(*) FROM mfa_recovery_codes").await,
        0
    );
    app.call_endpoint(
        Endpoint::MfaDisable,
        Some(&token),
        json!({"code": code(&secret, 1)}),
    )
    .await
    .assert_error(409, "mfa_not_enabled");
    app.call_endpoint(Endpoint::MfaRecoveryCodes, Some(&token), Value::Null)
        .await
        .assert_error(409, "mfa_not_enabled");
    let events: Vec<String> = app
        .db
        .query(
            "SELECT kind FROM auth_events WHERE kind LIKE 'mfa%' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        events,
        [
            "mfa_enrolled",
            "mfa_enabled",
            "mfa_failed",
            "mfa_failed",
            "mfa_disabled"
        ]
    );
}
