//! Infrastructure failures: an unreachable database is 503, a broken one 500, and neither leaks
//! internal details to the client.

use crate::helpers::{PASSWORD, TestApp, migrated_database};

#[tokio::test]
async fn unreachable_database_is_503_service_unavailable() {
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        testkit::ports::free_port().unwrap()
    );
    let config = testkit::config::load(&url, &[("DB_POOL_SIZE", "1")]).await;
    let app = TestApp::unreachable(config).await;

    for response in [
        app.signin("jane@example.com", PASSWORD).await,
        app.signup("Jane", "jane@example.com", PASSWORD).await,
        app.forgot_password("jane@example.com").await,
    ] {
        response.assert_error(503, "service_unavailable");
        let text = response.body.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("refused"),
            "no internals: {text}"
        );
    }
}

#[tokio::test]
async fn a_database_error_is_500_internal_error_without_sql_details() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;
    app.db
        .batch_execute("DROP TABLE email_outbox")
        .await
        .unwrap();

    let response = app.forgot_password("jane@example.com").await;

    response.assert_error(500, "internal_error");
    let text = response.body.to_string();
    assert!(
        !text.contains("email_outbox") && !text.contains("relation"),
        "no SQL details: {text}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM reset_tokens").await,
        0,
        "the failed transaction left nothing behind"
    );
}

#[tokio::test]
async fn verify_full_never_falls_back_to_an_unverified_or_plain_connection() {
    // The test server offers no TLS (or, on a developer's server, a certificate no public root
    // signs): either way `verify-full` must refuse to connect rather than downgrade.
    let database = migrated_database().await;
    let config = testkit::config::load(
        &database.connection_string(),
        &[("DB_SSLMODE", "verify-full")],
    )
    .await;

    let error = auth::db::connect(&config.database).await.unwrap_err();

    assert!(format!("{error:#}").contains("TLS"), "{error:#}");
    let app = TestApp::unreachable(config).await;
    app.signin("jane@example.com", PASSWORD)
        .await
        .assert_error(503, "service_unavailable");
}
