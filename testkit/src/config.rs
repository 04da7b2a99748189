//! Test configurations, built by the real loader ([`auth::config::Config::load`]) from variables,
//! exactly as a function reads its environment: no test re-types the defaults.

use auth::aws::Aws;
use auth::config::{Config, Environment};

use crate::database::ScratchDatabase;
use crate::keys::{TEST_CODE_KEY, TEST_MFA_KEY, TEST_SECRET};

/// What every test app adds to the production defaults: its database, enough connections for
/// the concurrency tests (production runs with 1), an HS256 key, the key of the emailed codes and
/// the key of the second factors.
pub fn base_variables(database_url: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url),
        ("DB_POOL_SIZE", "32"),
        ("JWT_SECRET_KEY", TEST_SECRET),
        ("VERIFICATION_CODE_KEY", TEST_CODE_KEY),
        ("MFA_ENCRYPTION_KEY", TEST_MFA_KEY),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// The configuration of [`base_variables`] with `overrides` on top (an empty value unsets a
/// variable, as in an env file). Panics, naming the variable, on a bad value: a test's setup is
/// wrong, not its subject.
pub async fn load(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut variables = base_variables(database_url);
    variables.extend(
        overrides
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    // No variable names an ARN unless a test passes one together with its own emulator.
    Config::load(
        &Environment::from_pairs(variables),
        &Aws::from_environment(),
    )
    .await
    .unwrap_or_else(|e| panic!("the test configuration does not load: {e}"))
}

/// A fresh database on the server `admin` connects to, named `<prefix>_…`, with the configuration
/// [`load`] makes for it, changed by `adjust` (timeouts below a second, say: those the migration
/// makes the database's defaults), and the migrations applied. The database is dropped with the
/// guard.
pub async fn migrated_database(
    admin: &tokio_postgres::Config,
    prefix: &str,
    overrides: &[(&str, &str)],
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<(ScratchDatabase, Config)> {
    let database = ScratchDatabase::create(admin, prefix).await?;
    let mut config = load(&database.connection_string(), overrides).await;
    adjust(&mut config);
    auth::db::migrate(&config.database).await?;
    Ok((database, config))
}
