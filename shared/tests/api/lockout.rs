//! The sign-in lockout against an attacker who does not know the password: guesses lock out the
//! guesser's network, not the owner's; many networks together meet an account-wide limit, which
//! the owner's device token passes; parallel correct sign-ins lock nothing; a completed reset
//! clears every streak.

use std::time::Duration;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use lambda_http::http::StatusCode;

use crate::helpers::{PASSWORD, TestApp, TestResponse};

const JANE: &str = "jane@example.com";
const WRONG: &str = "not the right password";
const OWNER_IP: &str = "203.0.113.7";
const ATTACKER_IP: &str = "198.51.100.66";

#[track_caller]
fn device_token(response: &TestResponse) -> String {
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.str("device_token")
}

/// Sets every lock now in place on `email`'s streaks to last another ten minutes, as an attacker
/// who keeps guessing would.
async fn prolong_locks(app: &TestApp) {
    app.db
        .execute(
            "UPDATE signin_failures SET locked_until = now() + interval '10 minutes'
             WHERE locked_until IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_attacker_elsewhere_locks_out_only_their_own_network() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    for _ in 0..5 {
        app.signin_from(ATTACKER_IP, JANE, WRONG)
            .await
            .assert_error(401, "invalid_credentials");
    }
    prolong_locks(&app).await;
    app.signin_from(ATTACKER_IP, JANE, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");

    let owner = app.signin_from(OWNER_IP, JANE, PASSWORD).await;

    owner.assert_status(StatusCode::OK);
    app.signin_from(ATTACKER_IP, JANE, PASSWORD)
        .await
        .assert_error_because(
            429,
            "too_many_attempts",
            "the owner's success clears the owner's streaks, not the attacker's",
        );
    // IPv6 clients are one network per /64: hopping within it escapes nothing.
    for n in 1..=5 {
        app.signin_from(&format!("2001:db8:1:2::{n}"), JANE, WRONG)
            .await
            .assert_error(401, "invalid_credentials");
    }
    app.signin_from("2001:db8:1:2:ffff::9", JANE, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    app.signin_from("2001:db8:1:3::1", JANE, PASSWORD)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn many_networks_meet_the_account_wide_limit_which_the_owners_device_token_passes() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    app.registered_user("John", "john@example.com").await;
    let device = device_token(&app.signin_from(OWNER_IP, JANE, PASSWORD).await);
    let johns_device = device_token(
        &app.signin_from(OWNER_IP, "john@example.com", PASSWORD)
            .await,
    );

    // A botnet: twenty networks, five guesses each (each network's allowance).
    futures::future::join_all((0..20).map(|network| {
        let app = &app;
        async move {
            for _ in 0..5 {
                app.signin_from(&format!("192.0.2.{network}"), JANE, WRONG)
                    .await
                    .assert_error(401, "invalid_credentials");
            }
        }
    }))
    .await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM signin_failures
             WHERE scope = 'account' AND failures = 100 AND locked_until IS NOT NULL"
        )
        .await,
        1,
        "the hundredth failure locks the account for every untrusted client"
    );
    prolong_locks(&app).await;

    app.signin_from("198.51.100.200", JANE, PASSWORD)
        .await
        .assert_error_because(429, "too_many_attempts", "a new network, no device token");
    for (token, why) in [
        (johns_device.as_str(), "another account's device token"),
        ("not-a-device-token", "junk"),
    ] {
        app.signin_on_device(OWNER_IP, JANE, PASSWORD, Some(token))
            .await
            .assert_error_because(429, "too_many_attempts", why);
    }
    let owner = app
        .signin_on_device("198.51.100.200", JANE, PASSWORD, Some(&device))
        .await;
    let next = device_token(&owner);

    assert_ne!(next, device, "a device token is replaced when used");
    app.signin_on_device(OWNER_IP, JANE, PASSWORD, Some(&device))
        .await
        .assert_error_because(429, "too_many_attempts", "the replaced device token");
    app.signin_on_device(OWNER_IP, JANE, PASSWORD, Some(&next))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_trusted_device_has_its_own_streak_and_spends_nobody_elses() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    let device = device_token(&app.signin_from(OWNER_IP, JANE, PASSWORD).await);
    for _ in 0..5 {
        app.signin_on_device(OWNER_IP, JANE, WRONG, Some(&device))
            .await
            .assert_error(401, "invalid_credentials");
    }

    app.signin_on_device(OWNER_IP, JANE, PASSWORD, Some(&device))
        .await
        .assert_error_because(429, "too_many_attempts", "five failures on the device");
    assert_eq!(
        app.count("SELECT count(*) FROM signin_failures WHERE scope NOT LIKE 'device:%'")
            .await,
        0,
        "nothing counted against the network or the account"
    );
    app.signin_from(OWNER_IP, JANE, PASSWORD)
        .await
        .assert_status(StatusCode::OK);
}

/// An Argon2id hash of the test password that takes a while to verify, so that sign-ins started
/// together are all in flight at once.
fn slow_hash() -> String {
    let params = Params::new(19 * 1024, 40, 1, None).unwrap();
    let salt = SaltString::encode_b64(b"a fixed test salt").unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn parallel_correct_sign_ins_lock_nothing() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    app.db
        .execute("UPDATE users SET password_hash = $1", &[&slow_hash()])
        .await
        .unwrap();

    let together =
        futures::future::join_all((0..5).map(|_| app.signin_from(OWNER_IP, JANE, PASSWORD)));
    let meanwhile = async {
        // The five are admitted within milliseconds, and verify for far longer.
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.signin_from("198.51.100.1", JANE, PASSWORD).await
    };
    let (together, meanwhile) = tokio::join!(together, meanwhile);

    for response in &together {
        response.assert_status(StatusCode::OK);
    }
    meanwhile.assert_status(StatusCode::OK);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM signin_failures WHERE locked_until IS NOT NULL OR failures > 0"
        )
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events WHERE kind IN ('lockout', 'signin_failed')")
            .await,
        0
    );
}

#[tokio::test]
async fn a_completed_reset_clears_every_streak_of_the_address() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    for _ in 0..5 {
        app.signin_from(OWNER_IP, JANE, WRONG).await;
        app.signin_from(ATTACKER_IP, JANE, WRONG).await;
    }
    prolong_locks(&app).await;
    app.signin_from(OWNER_IP, JANE, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");

    let token = app.requested_reset_token(JANE).await;
    app.reset_password(&token, "a brand new passphrase")
        .await
        .assert_status(StatusCode::OK);

    assert_eq!(app.count("SELECT count(*) FROM signin_failures").await, 0);
    app.signin_from(OWNER_IP, JANE, "a brand new passphrase")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_address_under_the_account_wide_lock_answers_like_a_known_one() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", JANE).await;
    let nobody = "nobody@example.com";
    for address in [JANE, nobody] {
        app.db
            .execute(
                "INSERT INTO signin_failures (email_hash, scope, failures, locked_until, expires_at)
                 VALUES ($1, 'account', 100, now() + interval '10 minutes', now() + interval '1 day')",
                &[&auth::domain::Email::parse(address).unwrap().digest().0.as_slice()],
            )
            .await
            .unwrap();
    }

    let known = app.signin_from(OWNER_IP, JANE, PASSWORD).await;
    let unknown = app.signin_from(OWNER_IP, nobody, PASSWORD).await;

    known.assert_error(429, "too_many_attempts");
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert!(
        known.headers.contains_key("retry-after") && unknown.headers.contains_key("retry-after")
    );
}
