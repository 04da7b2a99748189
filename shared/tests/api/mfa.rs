//! The second factor's rules in PostgreSQL, across connections as across Lambda instances: a TOTP
//! step is accepted once, only forward, and ten wrong codes in 15 minutes lock the factor.

use auth::domain::UserId;
use auth::store::{self, MfaFailure};

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
    // A window that has ended starts again.
    app.db
        .execute(
            "UPDATE mfa_failures SET window_ends = now() - interval '1 second', locked_until = NULL",
            &[],
        )
        .await
        .unwrap();
    let db = app.app.pool.get().await.unwrap();
    assert_eq!(
        store::count_mfa_failure(&db, jane).await.unwrap(),
        MfaFailure {
            failures: 1,
            locks: false
        }
    );
}
