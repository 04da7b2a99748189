//! Sign-in through OpenID Connect providers (issue 15, in progress): what holds so far.

use lambda_http::http::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn an_account_without_a_password_is_to_a_password_an_unknown_address() {
    let app = TestApp::spawn().await;
    app.registered_user("Pat", "pat@example.com").await;
    // As an account made through a provider has it: no password until forgot-password sets one.
    app.db
        .execute(
            "UPDATE users SET password_hash = NULL WHERE email = 'pat@example.com'",
            &[],
        )
        .await
        .unwrap();

    let with_password = app.signin("pat@example.com", PASSWORD).await;
    let unknown = app.signin("nobody@example.com", PASSWORD).await;

    with_password.assert_error(401, "invalid_credentials");
    assert_eq!(with_password.body, unknown.body, "the same answer");
    // A reset sets a password, and then it signs in.
    let token = app.requested_reset_token("pat@example.com").await;
    let reset = app.reset_password(&token, "a brand new passphrase").await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    app.signin("pat@example.com", "a brand new passphrase")
        .await
        .assert_status(StatusCode::OK);
}
