//! The second factor's rules in PostgreSQL, across connections as across Lambda instances: a TOTP
//! step is accepted once, only forward, and ten wrong codes in 15 minutes lock the factor.

use auth::domain::{ClientInfo, TotpCode, UserId};
use auth::store::{self, MfaFailure};
use auth::tokens::{Authenticator, TotpSecret};
use secrecy::{ExposeSecret, SecretString};

use crate::helpers::TestApp;

/// Jane, with a TOTP confirmed (or only enrolled) as the store keeps it.
async fn jane_with_totp(app: &TestApp, confirmed: bool) -> UserId {
    let user = app.registered_user("Jane", "jane@example.com").await;
    let id: uuid::Uuid = user["id"].as_str().unwrap().parse().unwrap();
    app.db
        .execute(
            "INSERT INTO mfa_totp (user_id, secret_key_id, secret_sealed, confirmed_at)
             VALUES ($1, 'test', '\\x00', CASE WHEN $2 THEN now() END)",
            &[&id, &confirmed],
        )
        .await
        .unwrap();
    UserId::from_uuid(id)
}

#[tokio::test]
async fn a_step_is_accepted_once_and_only_forward() {
    let app = TestApp::spawn().await;
    let jane = jane_with_totp(&app, true).await;
    let db = app.app.pool.get().await.unwrap();

    let mut answers = Vec::new();
    for step in [100, 100, 99, 101, 101] {
        answers.push(store::accept_totp_step(&db, jane, step).await.unwrap());
    }

    assert_eq!(answers, [true, false, false, true, false]);
}

#[tokio::test]
async fn an_enrolment_not_yet_confirmed_accepts_nothing() {
    let app = TestApp::spawn().await;
    let jane = jane_with_totp(&app, false).await;
    let db = app.app.pool.get().await.unwrap();

    assert!(!store::accept_totp_step(&db, jane, 100).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_uses_of_one_code_exactly_one_passes() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let jane = jane_with_totp(&app, true).await;
    for round in 0..20u64 {
        let (a, b) = (
            app.app.pool.get().await.unwrap(),
            second.app.pool.get().await.unwrap(),
        );
        let step = 1_000 + round;

        let (first, other) = tokio::join!(
            store::accept_totp_step(&a, jane, step),
            store::accept_totp_step(&b, jane, step)
        );

        assert_eq!(
            [first.unwrap(), other.unwrap()]
                .iter()
                .filter(|x| **x)
                .count(),
            1,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn the_tenth_wrong_code_in_fifteen_minutes_locks_the_second_factor() {
    let app = TestApp::spawn().await;
    let jane = jane_with_totp(&app, true).await;
    let second = app.second_instance().await;

    let mut counted = Vec::new();
    for n in 0..11 {
        let instance = if n % 2 == 0 { &app } else { &second };
        let db = instance.app.pool.get().await.unwrap();
        counted.push(store::count_mfa_failure(&db, jane).await.unwrap());
    }

    assert!(counted[..9].iter().all(|f| !f.locks), "{counted:?}");
    assert_eq!(
        counted[9],
        MfaFailure {
            failures: 10,
            locks: true
        }
    );
    assert!(
        !counted[10].locks,
        "the eleventh lengthens nothing by itself"
    );
    let db = app.app.pool.get().await.unwrap();
    let locked_for = store::mfa_locked_for(&db, jane).await.unwrap().unwrap();
    assert!((890.0..=900.0).contains(&locked_for), "{locked_for}");
    // A window that has ended starts again.
    app.db
        .execute(
            "UPDATE mfa_failures SET window_ends = now() - interval '1 second', locked_until = NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store::mfa_locked_for(&db, jane).await.unwrap(), None);
    assert_eq!(
        store::count_mfa_failure(&db, jane).await.unwrap(),
        MfaFailure {
            failures: 1,
            locks: false
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Enrolment and confirmation, through the service (the endpoints come next).

/// The code an authenticator app shows now for the enrolment's secret (base32).
fn current_code(secret_base32: &str) -> TotpCode {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).expect("base32");
    let authenticator = Authenticator::new(
        &TotpSecret::from_bytes(secret.as_bytes().to_vec()),
        "test",
        "jane@example.com",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    TotpCode::parse(&authenticator.code_at(now)).unwrap()
}

#[tokio::test]
async fn enrolling_hands_out_a_secret_once_and_keeps_it_only_sealed() {
    let app = TestApp::spawn().await;
    let token: SecretString = app.signed_in_access_token("jane@example.com").await.into();

    let enrollment = app
        .app
        .mfa_enroll(&token, &ClientInfo::default())
        .await
        .unwrap();

    let secret = enrollment.secret.expose_secret().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = enrollment.otpauth_uri.expose_secret();
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(&secret),
        "{uri}"
    );
    assert!(enrollment.qr_svg.starts_with("<svg"));
    let raw = totp_rs::Secret::try_from_base32(&secret).unwrap();
    let stored: Vec<u8> = app
        .db
        .query_one("SELECT secret_sealed FROM mfa_totp", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        !stored
            .windows(raw.as_bytes().len())
            .any(|w| w == raw.as_bytes()),
        "the secret is stored sealed, never in clear"
    );
    // Enrolling again before confirming replaces the pending secret.
    let again = app
        .app
        .mfa_enroll(&token, &ClientInfo::default())
        .await
        .unwrap();
    assert_ne!(again.secret.expose_secret(), &secret);
    assert_eq!(app.count("SELECT count(*) FROM mfa_totp").await, 1);
}

#[tokio::test]
async fn a_first_code_switches_totp_on_ends_the_other_sessions_and_raises_this_one() {
    let app = TestApp::spawn().await;
    let this = app.signed_in_user("jane@example.com").await;
    let other = app
        .signin("jane@example.com", crate::helpers::PASSWORD)
        .await;
    let token: SecretString = this.str("access_token").into();
    let enrollment = app
        .app
        .mfa_enroll(&token, &ClientInfo::default())
        .await
        .unwrap();
    let wrong = TotpCode::parse("000000").unwrap();
    if current_code(enrollment.secret.expose_secret()) != wrong {
        let refused = app
            .app
            .mfa_confirm(&token, &wrong, &ClientInfo::default())
            .await
            .unwrap_err();
        assert_eq!(
            (refused.status(), refused.code()),
            (400, "invalid_mfa_code")
        );
    }

    let confirmed = app
        .app
        .mfa_confirm(
            &token,
            &current_code(enrollment.secret.expose_secret()),
            &ClientInfo::default(),
        )
        .await
        .unwrap();

    assert_eq!(confirmed.recovery_codes.len(), 10);
    let claims = crate::helpers::jwt_part(confirmed.tokens.access.token.expose_secret(), 1);
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    app.dashboard(confirmed.tokens.access.token.expose_secret())
        .await
        .assert_status(lambda_http::http::StatusCode::OK);
    app.dashboard(&other.str("access_token"))
        .await
        .assert_invalid_token("every other session ends");
    let refreshed = app.refresh(confirmed.tokens.refresh.expose_secret()).await;
    assert_eq!(
        crate::helpers::jwt_part(&refreshed.str("access_token"), 1)["aal"],
        "aal2",
        "{}",
        refreshed.body
    );
    let new_token: SecretString = refreshed.str("access_token").into();
    assert_eq!(
        app.app.mfa_status(&new_token).await.unwrap(),
        store::MfaStatus {
            totp_enabled: true,
            recovery_codes_left: 10,
            passkeys: 0,
        }
    );
    let again = app
        .app
        .mfa_enroll(&new_token, &ClientInfo::default())
        .await
        .unwrap_err();
    assert_eq!((again.status(), again.code()), (409, "mfa_already_enabled"));
    // The refresh token from before the confirmation was superseded: presented now, it is
    // taken for a stolen copy, and the session ends.
    app.refresh(&this.str("refresh_token"))
        .await
        .assert_invalid_token("superseded by the confirmation");
    app.dashboard(&refreshed.str("access_token"))
        .await
        .assert_invalid_token("the session ended with the reuse");
}

/// The second step's rule itself (`spend_second_factor`, V13): spends `challenge` with TOTP
/// time step `step`; its verdict.
async fn spend(
    db: &tokio_postgres::Client,
    challenge: &auth::tokens::TokenHash,
    step: i64,
) -> String {
    db.query_one(
        "SELECT verdict FROM spend_second_factor($1, $2, $3, NULL)",
        &[&challenge.0.as_slice(), &store::MAX_WRONG_MFA_CODES, &step],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_challenge_lives_until_used_expired_or_five_wrong_codes() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let jane = jane_with_totp(&app, true).await;
    let db = app.app.pool.get().await.unwrap();
    let ttl = std::time::Duration::from_secs(300);
    let open = |token: &auth::tokens::OpaqueToken| {
        let db = &db;
        let hash = token.hash;
        async move {
            store::challenge_second_factor(
                db,
                &store::ChallengeOpening {
                    user: jane,
                    token: &hash,
                    ttl,
                    email: auth::domain::Email::parse("jane@example.com")
                        .unwrap()
                        .digest(),
                    scopes: &Default::default(),
                    replaces_device: None,
                    rehash: None,
                    first_factor: auth::domain::AuthMethod::Pwd,
                    idp: None,
                    client: &ClientInfo::default(),
                },
            )
            .await
            .unwrap()
        }
    };

    let live = |token: &auth::tokens::OpaqueToken| {
        let db = &db;
        let hash = token.hash;
        async move {
            store::mfa_challenge(db, &hash)
                .await
                .unwrap()
                .map(|challenge| challenge.user.id)
        }
    };

    // Used once, by exactly one of two requests at once.
    let used = auth::tokens::OpaqueToken::generate().unwrap();
    open(&used).await;
    assert_eq!(live(&used).await, Some(jane));
    let other = second.app.pool.get().await.unwrap();
    let (first, again) = tokio::join!(spend(&db, &used.hash, 1), spend(&other, &used.hash, 2));
    let mut verdicts = [first, again];
    verdicts.sort();
    assert_eq!(verdicts, ["no_challenge", "ok"], "single use");
    assert_eq!(live(&used).await, None);

    // Killed by the fifth wrong code.
    let guessed = auth::tokens::OpaqueToken::generate().unwrap();
    open(&guessed).await;
    for wrong in 1..=5 {
        assert!(
            live(&guessed).await.is_some(),
            "alive before wrong code {wrong}"
        );
        let notice = auth::emails::mfa_locked();
        let (failure, queued) = store::record_wrong_mfa_code(
            &db,
            &store::WrongCode {
                user: jane,
                challenge: Some(&guessed.hash),
                recipient: "jane@example.com",
                lock_notice: &notice,
                client: &ClientInfo::default(),
            },
        )
        .await
        .unwrap();
        assert_eq!((failure.failures, queued.is_none()), (wrong, true));
    }
    assert_eq!(live(&guessed).await, None);
    assert_eq!(spend(&db, &guessed.hash, 3).await, "no_challenge");

    // Expired.
    let late = auth::tokens::OpaqueToken::generate().unwrap();
    open(&late).await;
    app.db
        .execute(
            "UPDATE mfa_challenges SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
            &[&late.hash.0.as_slice()],
        )
        .await
        .unwrap();
    assert_eq!(spend(&db, &late.hash, 4).await, "no_challenge");
}

/// The account's `mfa_enabled` as every reader of the account gets it (V15's flag).
async fn flag(app: &TestApp, user: UserId) -> bool {
    app.db
        .query_one(
            "SELECT mfa_enabled FROM users WHERE id = $1",
            &[&user.as_uuid()],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_accounts_mfa_flag_is_whether_its_totp_is_confirmed_whatever_changes_it() {
    let app = TestApp::spawn().await;
    let jane = jane_with_totp(&app, false).await;
    // As the functions' role: the rule needs no grant beyond theirs.
    let db = app.app.pool.get().await.unwrap();
    let id = jane.as_uuid();
    let mut seen = vec![flag(&app, jane).await];
    for change in [
        "UPDATE mfa_totp SET confirmed_at = now() WHERE user_id = $1",
        "UPDATE mfa_totp SET last_step = 7 WHERE user_id = $1",
        "DELETE FROM mfa_totp WHERE user_id = $1",
        "INSERT INTO mfa_totp (user_id, secret_key_id, secret_sealed) VALUES ($1, 'test', '\\x00')",
        "INSERT INTO mfa_totp (user_id, secret_key_id, secret_sealed, confirmed_at)
         VALUES ($1, 'test', '\\x00', now())
         ON CONFLICT (user_id) DO UPDATE SET confirmed_at = now()",
        "UPDATE mfa_totp SET confirmed_at = NULL WHERE user_id = $1",
    ] {
        db.execute(change, &[&id]).await.unwrap();
        seen.push(flag(&app, jane).await);
    }

    assert_eq!(seen, [false, true, true, false, false, true, false]);
    let john = app.registered_user("John", "john@example.com").await;
    let john = UserId::from_uuid(john["id"].as_str().unwrap().parse().unwrap());
    assert!(!flag(&app, john).await, "another account's flag is its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_of_one_totp_leave_the_flag_true_to_it() {
    let app = TestApp::spawn().await;
    let second = app.second_instance().await;
    let jane = jane_with_totp(&app, false).await;
    let id = jane.as_uuid();
    let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&id];
    for round in 0..30 {
        let (a, b) = (
            app.app.pool.get().await.unwrap(),
            second.app.pool.get().await.unwrap(),
        );
        let (confirmed, deleted) = tokio::join!(
            a.execute(
                "INSERT INTO mfa_totp (user_id, secret_key_id, secret_sealed, confirmed_at)
                 VALUES ($1, 'test', '\\x00', now())
                 ON CONFLICT (user_id) DO UPDATE SET confirmed_at = now()",
                params,
            ),
            b.execute("DELETE FROM mfa_totp WHERE user_id = $1", params),
        );
        confirmed.unwrap();
        deleted.unwrap();

        let on = app
            .count(&format!(
                "SELECT count(*) FROM mfa_totp WHERE user_id = '{id}' AND confirmed_at IS NOT NULL"
            ))
            .await
            == 1;
        assert_eq!(flag(&app, jane).await, on, "round {round}");
    }
}
