//! Database plumbing: the connection pool, the embedded migrations, and driver-error classification.

use std::sync::RwLock;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Connect, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::ExposeSecret;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseConfig, DbTls, SecretSource};

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
    let connect = RefreshingConnect {
        tls: config.tls,
        current: RwLock::new(pg.clone()),
        secret: config.credentials_secret.clone(),
    };
    let manager = Manager::from_connect(pg, connect, manager_config);
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
    open(&config.url, config.tls)
        .await
        .context("connecting to the database")
}

async fn open(
    url: &tokio_postgres::Config,
    tls: DbTls,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    Ok(match tls {
        DbTls::Disable => {
            let (client, connection) = url.connect(NoTls).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
        DbTls::VerifyFull => {
            let (client, connection) = url.connect(tls_connector()).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
    })
}

/// Opens the pool's connections. When the credentials came from Secrets Manager and the database
/// refuses them, the secret is read again and the connection retried once: RDS rotates its managed
/// password (weekly by default), and a warm Lambda instance outlives the password it started with.
struct RefreshingConnect {
    tls: DbTls,
    current: RwLock<tokio_postgres::Config>,
    secret: Option<SecretSource>,
}

impl RefreshingConnect {
    async fn open_current(
        &self,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
        let url = self.current.read().expect("credentials lock").clone();
        open(&url, self.tls).await
    }
}

impl Connect for RefreshingConnect {
    fn connect(
        &self,
        _: &tokio_postgres::Config,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<
                        (tokio_postgres::Client, tokio::task::JoinHandle<()>),
                        tokio_postgres::Error,
                    >,
                > + Send
                + '_,
        >,
    > {
        Box::pin(async move {
            let refused = match self.open_current().await {
                Err(error) if is_rejected_login(&error) => error,
                other => return other,
            };
            let Some(secret) = &self.secret else {
                return Err(refused);
            };
            match secret.credentials().await {
                Ok((user, password)) => {
                    tracing::warn!(
                        "database refused the credentials; read them again from Secrets Manager"
                    );
                    let mut current = self.current.write().expect("credentials lock");
                    current.user(&user).password(password.expose_secret());
                }
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "could not read the database secret again"
                    );
                    return Err(refused);
                }
            }
            self.open_current().await
        })
    }
}

/// True when the server rejected the login itself (wrong password or user), as after a rotation.
fn is_rejected_login(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    )
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
                || code.starts_with("28") // login refused even with the secret read again
                || code.starts_with("57P") // operator intervention (shutdown, cannot connect now)
        }
    }
}

/// True when `error` is a unique violation of the named constraint or index.
pub fn is_unique_violation(error: &tokio_postgres::Error, constraint: &str) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && error.as_db_error().and_then(|db| db.constraint()) == Some(constraint)
}
