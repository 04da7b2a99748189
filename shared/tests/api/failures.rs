//! Infrastructure failures: an unreachable database is 503, a broken one 500, and neither leaks
//! internal details to the client.

use std::str::FromStr;
use std::time::Duration;

use auth::App;
use auth::config::{DatabaseConfig, DbTls};
use auth::mail::Mailer;

use crate::helpers::{PASSWORD, TestApp, fresh_database, test_config};

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn unreachable_database_is_503_service_unavailable() {
    let url = tokio_postgres::Config::from_str(&format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        closed_port()
    ))
    .unwrap();
    let mut config = test_config(DatabaseConfig {
        url,
        pool_size: 1,
        tls: DbTls::Disable,
        credentials_secret: None,
        timeouts: Default::default(),
    });
    config.access_token_ttl = Duration::from_secs(60);
    let app = TestApp {
        app: App::new(config, Mailer::Log).unwrap(),
        db: unreachable_db_client().await,
    };

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

/// The harness wants a direct client; any live database will do for a test that never uses it.
async fn unreachable_db_client() -> tokio_postgres::Client {
    let config = fresh_database().await;
    let (client, connection) = config.url.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
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
    let mut database = crate::helpers::fresh_database().await;
    database.tls = DbTls::VerifyFull;
    database
        .url
        .ssl_mode(tokio_postgres::config::SslMode::Require);

    let error = auth::db::connect(&database).await.unwrap_err();

    assert!(format!("{error:#}").contains("TLS"), "{error:#}");
    let app = TestApp {
        app: App::new(test_config(database), Mailer::Log).unwrap(),
        db: unreachable_db_client().await,
    };
    app.signin("jane@example.com", PASSWORD)
        .await
        .assert_error(503, "service_unavailable");
}
