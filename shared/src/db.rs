//! Database plumbing: the connection pool, the embedded migrations, the functions' login role
//! ([`runtime_role`]), and driver errors classified into [`ApiError`]s.

use std::sync::RwLock;

use anyhow::Context;
use deadpool_postgres::{Connect, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::ExposeSecret;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseConfig, DbTimeouts, DbTls, SecretSource};
use crate::error::ApiError;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

pub mod runtime_role;

pub use runtime_role::ensure as ensure_runtime_role;

/// Advisory lock taken around migrations so two deploys (or two `make dev`s) cannot migrate at once.
pub const MIGRATION_LOCK_KEY: i64 = 0x6a77_7461_7574_6801;

/// A pool of at most `DB_POOL_SIZE` connections; connections are opened lazily, on first use.
///
/// Every step of taking a connection is bounded by `DB_CONNECT_TIMEOUT`, so an unreachable or
/// unresponsive database (or RDS Proxy waiting for one) is answered 503 within seconds instead of
/// at the Lambda timeout: waiting for a free connection, opening one (TCP connect, then TLS and
/// login, twice when a refused login is retried with the secret read again), recycling one.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<Pool> {
    let connect_timeout = config.timeouts.connect;
    let pg = with_connect_timeout(config);
    // `Fast` recycling skips a health-check query per request. A connection that died (database
    // restarted, instance frozen too long) is closed by its driver task, and a closed connection
    // is discarded on its next checkout, so the request after an outage gets a new one; the
    // request that met the dead connection is answered 503.
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let connect = RefreshingConnect {
        tls: Connector::new(&config.tls),
        current: RwLock::new(pg.clone()),
        secret: config.credentials_secret.clone(),
    };
    let manager = Manager::from_connect(pg, connect, manager_config);
    Pool::builder(manager)
        .max_size(config.pool_size)
        // The timeouts below are enforced with this runtime's timer.
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(connect_timeout))
        .create_timeout(Some(2 * connect_timeout))
        .recycle_timeout(Some(connect_timeout))
        .build()
        .context("building the database pool")
}

/// The connection parameters with the TCP connect timeout set (it covers only the socket; the
/// login is bounded by the pool's create timeout, or by [`connect`]).
fn with_connect_timeout(config: &DatabaseConfig) -> tokio_postgres::Config {
    let mut pg = config.url.clone();
    pg.connect_timeout(config.timeouts.connect);
    pg
}

/// Applies every pending migration from `migrations/`, then makes the configured timeouts the
/// database's defaults; returns the versions applied.
pub async fn migrate(config: &DatabaseConfig) -> anyhow::Result<Vec<String>> {
    let mut session = MigrationSession::open(config).await?;
    let report = embedded::migrations::runner()
        .run_async(&mut session.client)
        .await;
    let defaults = match &report {
        Ok(_) => set_timeout_defaults(&session.client, &config.timeouts).await,
        Err(_) => Ok(()),
    };
    session.close().await;
    let report = report.context("applying migrations")?;
    defaults?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// A session of the migrating user that holds the migration lock, so two deploys (or two
/// `make dev`s) never change one database's schema or grants at once.
pub(crate) struct MigrationSession {
    pub client: tokio_postgres::Client,
    connection: tokio::task::JoinHandle<()>,
}

impl MigrationSession {
    pub async fn open(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let (client, connection) = connect(config).await?;
        // This session may wait for another deploy's lock and build indexes: the defaults set by
        // an earlier deploy are for requests, not for migrations.
        client
            .batch_execute("SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0")
            .await
            .context("lifting the request timeouts for the migration session")?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await
            .context("taking the migration lock")?;
        Ok(MigrationSession { client, connection })
    }

    /// Unlocks and ends the session. Unlocking is best effort: the lock dies with the session.
    pub async fn close(self) {
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
            .await;
        drop(self.client);
        let _ = self.connection.await;
    }
}

/// Makes the statement timeout a default of the database, so the server itself cancels a
/// statement (a lock wait included) that runs longer, and ends a session left idle inside a
/// transaction (its locks with it) after as long.
///
/// Why database defaults rather than settings per connection: RDS Proxy refuses connections that
/// carry startup options (`options=-c statement_timeout=...`: "Feature not supported: RDS Proxy
/// currently doesn't support command-line options"), and it pins a client to one database
/// connection, ending multiplexing, for the rest of its session after a `SET`. A database default
/// is applied by the server to every new session, through the proxy or not, costs no round trip,
/// and the proxy never sees it. It takes effect for sessions opened after this runs: the proxy's
/// pooled connections pick it up as they are replaced.
///
/// No `lock_timeout`: the statement timeout already counts the time spent waiting for locks.
async fn set_timeout_defaults(
    client: &tokio_postgres::Client,
    timeouts: &DbTimeouts,
) -> anyhow::Result<()> {
    let milliseconds = timeouts.statement.as_millis();
    // Numbers only are interpolated; the database name is quoted by the server (`%I`).
    client
        .batch_execute(&format!(
            "DO $$ BEGIN
                 EXECUTE format('ALTER DATABASE %I SET statement_timeout = {milliseconds}',
                                current_database());
                 EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = {milliseconds}',
                                current_database());
             END $$"
        ))
        .await
        .context("setting the database's timeout defaults (the migrating user must own the database)")
}

/// How a connection is opened: plain, or rustls with the configured roots, built once per pool
/// (or per [`connect`]) rather than once per connection.
#[derive(Clone)]
enum Connector {
    Plain,
    Tls(MakeRustlsConnect),
}

impl Connector {
    fn new(tls: &DbTls) -> Connector {
        let roots = match tls {
            DbTls::Disable => return Connector::Plain,
            DbTls::VerifyFull(roots) => roots,
        };
        Connector::Tls(MakeRustlsConnect::new(roots.client_config()))
    }
}

/// Makes ring rustls' process-wide crypto provider (for the database and for HTTPS calls).
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all this wants.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One connection outside the pool (migrations, tests), driven by a spawned task; opening it is
/// bounded by `DB_CONNECT_TIMEOUT`.
pub async fn connect(
    config: &DatabaseConfig,
) -> anyhow::Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let timeout = config.timeouts.connect;
    let connector = Connector::new(&config.tls);
    match tokio::time::timeout(timeout, open(&with_connect_timeout(config), &connector)).await {
        Ok(opened) => opened.context("connecting to the database"),
        Err(_) => anyhow::bail!("connecting to the database: no answer within {timeout:?}"),
    }
}

async fn open(
    url: &tokio_postgres::Config,
    connector: &Connector,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    Ok(match connector {
        Connector::Plain => {
            let (client, connection) = url.connect(NoTls).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
        Connector::Tls(tls) => {
            let (client, connection) = url.connect(tls.clone()).await?;
            (client, tokio::spawn(async move { drop(connection.await) }))
        }
    })
}

/// Opens the pool's connections. When the credentials came from Secrets Manager and the database
/// refuses them, the secret is read again and the connection retried once: RDS rotates its managed
/// password (weekly by default), and a warm Lambda instance outlives the password it started with.
struct RefreshingConnect {
    tls: Connector,
    current: RwLock<tokio_postgres::Config>,
    secret: Option<SecretSource>,
}

impl RefreshingConnect {
    async fn open_current(
        &self,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
        let url = self.current.read().expect("credentials lock").clone();
        open(&url, &self.tls).await
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

/// Database failures: unreachable or overloaded is 503 (retryable), anything else is 500.
impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => ApiError::ServiceUnavailable(anyhow::Error::new(other)),
        }
    }
}

/// The SQLSTATE of `refuse_session_of_disabled_account` (V12): the one rule that no session opens
/// for a disabled account, whichever way in asked.
pub const ACCOUNT_DISABLED: &str = "AD001";

impl From<tokio_postgres::Error> for ApiError {
    fn from(error: tokio_postgres::Error) -> Self {
        if error.code().map(SqlState::code) == Some(ACCOUNT_DISABLED) {
            ApiError::AccountDisabled
        } else if is_unavailable(&error) {
            ApiError::ServiceUnavailable(error.into())
        } else {
            ApiError::Internal(error.into())
        }
    }
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
            *code == SqlState::QUERY_CANCELED // statement_timeout (or an operator's cancel)
                || *code == SqlState::LOCK_NOT_AVAILABLE // lock_timeout, if a DBA sets one
                || {
                    let code = code.code();
                    code.starts_with("08") // connection exception
                        || code.starts_with("53") // insufficient resources (too many connections, ...)
                        || code.starts_with("28") // login refused even with the secret read again
                        || code.starts_with("57P") // operator intervention (shutdown, cannot connect now)
                }
        }
    }
}

/// True when `error` is a unique violation of the named constraint or index.
pub fn is_unique_violation(error: &tokio_postgres::Error, constraint: &str) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && error.as_db_error().and_then(|db| db.constraint()) == Some(constraint)
}
