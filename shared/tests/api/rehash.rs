//! Rehashing at sign-in: a stored hash with weaker parameters than today's is replaced by a
//! current one while the verified password is at hand, never over a password changed meanwhile.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use auth::domain::{ClientInfo, Email};
use auth::hashing::{self, PasswordHashString};
use auth::store::{self, NewSession};
use auth::tokens::OpaqueToken;
use lambda_http::http::StatusCode;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp};

const EMAIL: &str = "jane@example.com";

/// An Argon2id hash of `password` at half the current memory cost: valid, verifiable, and weaker.
fn weak_hash(password: &str) -> PasswordHashString {
    let params = Params::new(8 * 1024, 2, 1, None).unwrap();
    let salt = SaltString::encode_b64(b"a fixed test salt").unwrap();
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .unwrap();
    PasswordHashString::from_stored(hash.to_string())
}

async fn stored_hash(app: &TestApp) -> (Uuid, PasswordHashString) {
    let row = app
        .db
        .query_one(
            "SELECT id, password_hash FROM users WHERE email = $1",
            &[&EMAIL],
        )
        .await
        .unwrap();
    (row.get(0), PasswordHashString::from_stored(row.get(1)))
}

/// Replaces Jane's hash behind the API's back, as if an older release had written it.
async fn store_directly(app: &TestApp, hash: &PasswordHashString) {
    app.db
        .execute(
            "UPDATE users SET password_hash = $1 WHERE email = $2",
            &[&hash.as_str(), &EMAIL],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn signing_in_upgrades_a_weaker_stored_hash_and_changes_nothing_else() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", EMAIL).await;
    let weak = weak_hash(PASSWORD);
    store_directly(&app, &weak).await;
    let token = app.requested_reset_token(EMAIL).await;
    let updated_at = "SELECT updated_at::text FROM users";
    let before: String = app.db.query_one(updated_at, &[]).await.unwrap().get(0);
    assert!(hashing::needs_rehash(&weak));

    let signin = app.signin(EMAIL, PASSWORD).await;

    assert_eq!(signin.status, StatusCode::OK, "{}", signin.body);
    let (_, now) = stored_hash(&app).await;
    assert_ne!(now.as_str(), weak.as_str(), "the weak hash was replaced");
    assert!(!hashing::needs_rehash(&now), "{}", now.as_str());
    let after: String = app.db.query_one(updated_at, &[]).await.unwrap().get(0);
    assert_eq!(before, after, "the password itself did not change");
    assert_eq!(
        app.signin(EMAIL, PASSWORD).await.status,
        StatusCode::OK,
        "the same password, hashed anew"
    );
    assert_eq!(
        app.reset_password(&token, "a brand new passphrase")
            .await
            .status,
        StatusCode::OK,
        "a pending reset token is not invalidated by a rehash"
    );
}

#[tokio::test]
async fn current_hashes_and_failed_sign_ins_leave_the_hash_alone() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", EMAIL).await;
    let (_, current) = stored_hash(&app).await;
    assert!(!hashing::needs_rehash(&current));

    assert_eq!(app.signin(EMAIL, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(stored_hash(&app).await.1.as_str(), current.as_str());

    let weak = weak_hash(PASSWORD);
    store_directly(&app, &weak).await;
    app.signin(EMAIL, "not the password at all")
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(
        stored_hash(&app).await.1.as_str(),
        weak.as_str(),
        "no rehash without the right password"
    );
}

#[tokio::test]
async fn a_rehash_never_overwrites_a_password_changed_since_sign_in_read_it() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", EMAIL).await;
    let read_at_signin = weak_hash(PASSWORD);
    store_directly(&app, &read_at_signin).await;
    // Between sign-in's read and its second statement, a reset sets another password.
    let token = app.requested_reset_token(EMAIL).await;
    let reset = app.reset_password(&token, "a brand new passphrase").await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let (user_id, after_reset) = stored_hash(&app).await;
    let rehashed = hashing::hash(auth::domain::Password::parse(PASSWORD).unwrap())
        .await
        .unwrap();

    let client = app.app.pool.get().await.unwrap();
    store::open_session(
        &client,
        &NewSession {
            id: Uuid::new_v4(),
            user_id: auth::domain::UserId::from_uuid(user_id),
            refresh_token: &OpaqueToken::generate().unwrap().hash,
            ttl: std::time::Duration::from_secs(60),
            max_lifetime: std::time::Duration::from_secs(600),
            email: Email::parse(EMAIL).unwrap().digest(),
            scopes: &store::LockoutScopes(vec!["account".into(), "net:unknown".into()]),
            device: &OpaqueToken::generate().unwrap().hash,
            replaces_device: None,
            client: &ClientInfo::default(),
            rehash: Some((&read_at_signin, &rehashed)),
            assurance: &auth::domain::Assurance::password(),
            second_factor: None,
            passkey_use: None,
        },
    )
    .await
    .unwrap();

    assert_eq!(stored_hash(&app).await.1.as_str(), after_reset.as_str());
    assert_eq!(
        app.signin(EMAIL, "a brand new passphrase").await.status,
        StatusCode::OK,
        "the reset's password stands"
    );
}
