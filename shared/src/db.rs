//! Database plumbing: the connection pool, the embedded migrations, and driver-error classification.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseConfig, DbTls};

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// How long a request waits to connect before answering 503: well inside the Lambda timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Taken around migrations so two deploys (or two `make dev`s) cannot migrate at once.
const MIGRATION_LOCK_KEY: i64 = 0x6a77_7461_7574_6801;

/// A pool of at most `DB_POOL_SIZE` connections; connections are opened lazily, on first use.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<Pool> {
    let mut pg = config.url.clone();
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(CONNECT_TIMEOUT);
    }
    // `Fast` recycling skips a health-check query per request; a connection that died while the
    // instance was frozen surfaces as a closed-connection error, answered 503, and is discarded.
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.tls {
        DbTls::Disable => Manager::from_config(pg, NoTls, manager_config),
        DbTls::VerifyFull => Manager::from_config(pg, tls_connector(), manager_config),
    };
    Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .context("building the database pool")
}

/// Applies every pending migration from `migrations/`; returns the versions applied.
pub async fn migrate(config: &DatabaseConfig) -> anyhow::Result<Vec<String>> {
    let (mut client, connection) = connect(config).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .context("taking the migration lock")?;
    let report = embedded::migrations::runner().run_async(&mut client).await;
    // Unlocking is best effort: the lock dies with the session anyway.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    drop(client);
    let _ = connection.await;
    let report = report.context("applying migrations")?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// Rustls with the Mozilla roots (webpki-roots), which include the Amazon roots that RDS Proxy's
/// ACM certificates chain to, so no CA bundle needs shipping; host names are verified.
fn tls_connector() -> MakeRustlsConnect {
    install_crypto_provider();
    MakeRustlsConnect::with_webpki_roots()
}

/// Makes aws-lc-rs rustls' process-wide crypto provider (for the database and for HTTPS calls).
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all this wants.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// One connection outside the pool (migrations, the janitor), driven by a spawned task.
pub async fn connect(
    config: &DatabaseConfig,
) -> anyhow::Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let driver = match config.tls {
        DbTls::Disable => {
            let (client, connection) = config
                .url
                .connect(NoTls)
                .await
                .context("connecting to the database")?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
        DbTls::VerifyFull => {
            let (client, connection) = config
                .url
                .connect(tls_connector())
                .await
                .context("connecting to the database over TLS")?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
    };
    Ok(driver)
}

/// True when the database cannot be reached or refuses work for now: answered 503, not 500.
pub fn is_unavailable(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // No SQLSTATE: the failure happened below SQL (socket, TLS, timeout).
        None => error.as_db_error().is_none(),
        Some(code) => {
            let code = code.code();
            code.starts_with("08") // connection exception
                || code.starts_with("53") // insufficient resources (too many connections, ...)
                || code.starts_with("57P") // operator intervention (shutdown, cannot connect now)
        }
    }
}

/// True when `error` is a unique violation of the named constraint or index.
pub fn is_unique_violation(error: &tokio_postgres::Error, constraint: &str) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && error.as_db_error().and_then(|db| db.constraint()) == Some(constraint)
}
