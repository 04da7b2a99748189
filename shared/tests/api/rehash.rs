//! Rehashing at sign-in: `hashing::needs_rehash` on stored hashes, and
//! `store::update_password_hash`, which replaces a hash only while it is still the one read.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use auth::domain::{Email, Password, UserId};
use auth::hashing::{self, PasswordHashString};
use auth::store;
use lambda_http::http::StatusCode;

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

/// A fresh hash at the current parameters.
async fn current_hash(password: &str) -> PasswordHashString {
    hashing::hash(Password::parse(password).unwrap())
        .await
        .unwrap()
}

/// Jane's id and stored hash, read through the store as sign-in reads them.
async fn stored(app: &TestApp) -> (UserId, PasswordHashString) {
    let client = app.app.pool.get().await.unwrap();
    let (user, hash) = store::find_credentials(&client, &Email::parse(EMAIL).unwrap())
        .await
        .unwrap()
        .expect("Jane exists");
    (user.id, hash)
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

async fn update(
    app: &TestApp,
    user_id: UserId,
    old: &PasswordHashString,
    new: &PasswordHashString,
) -> bool {
    let client = app.app.pool.get().await.unwrap();
    store::update_password_hash(&client, user_id, old, new)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_weaker_stored_hash_still_signs_in_and_is_flagged_for_rehash() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", EMAIL).await;
    let (_, fresh) = stored(&app).await;
    assert!(!hashing::needs_rehash(&fresh), "{}", fresh.as_str());
    store_directly(&app, &weak_hash(PASSWORD)).await;

    let (_, weak) = stored(&app).await;
    let signin = app.signin(EMAIL, PASSWORD).await;

    assert!(hashing::needs_rehash(&weak), "{}", weak.as_str());
    assert_eq!(
        signin.status,
        StatusCode::OK,
        "the hash's own parameters verify it: {}",
        signin.body
    );
}

#[tokio::test]
async fn update_password_hash_replaces_the_hash_it_was_given_and_nothing_else() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", EMAIL).await;
    store_directly(&app, &weak_hash(PASSWORD)).await;
    let token = app.requested_reset_token(EMAIL).await;
    let (user_id, old) = stored(&app).await;
    let updated_at = "SELECT updated_at::text FROM users";
    let before: String = app.db.query_one(updated_at, &[]).await.unwrap().get(0);
    let new = current_hash(PASSWORD).await;

    let replaced = update(&app, user_id, &old, &new).await;

    assert!(replaced);
    let (_, now) = stored(&app).await;
    assert_eq!(now.as_str(), new.as_str());
    assert!(!hashing::needs_rehash(&now));
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
async fn update_password_hash_leaves_a_hash_that_changed_since_it_was_read() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", EMAIL).await;
    store_directly(&app, &weak_hash(PASSWORD)).await;
    let (user_id, read_at_signin) = stored(&app).await;
    let rehashed = current_hash(PASSWORD).await;
    // Between sign-in's read and its rehash, a reset sets another password.
    let token = app.requested_reset_token(EMAIL).await;
    let reset = app.reset_password(&token, "a brand new passphrase").await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);

    let replaced = update(&app, user_id, &read_at_signin, &rehashed).await;

    assert!(!replaced);
    assert_eq!(
        app.signin(EMAIL, "a brand new passphrase").await.status,
        StatusCode::OK,
        "the reset's password stands"
    );
    app.signin(EMAIL, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn update_password_hash_touches_only_its_user() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", EMAIL).await;
    app.registered_user("Bob", "bob@example.com").await;
    let (jane, _) = stored(&app).await;
    // Bob's hash, presented as if it were Jane's: no row has both.
    let bob_hash: String = app
        .db
        .query_one(
            "SELECT password_hash FROM users WHERE email = 'bob@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let bob_hash = PasswordHashString::from_stored(bob_hash);

    let replaced = update(&app, jane, &bob_hash, &current_hash("anything else").await).await;

    assert!(!replaced);
    assert_eq!(
        app.signin("bob@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(app.signin(EMAIL, PASSWORD).await.status, StatusCode::OK);
}
