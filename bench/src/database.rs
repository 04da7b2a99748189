//! The server the benchmark runs against, and a new database on it for each run.

use std::str::FromStr;

use anyhow::Context;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// A database made for one run (or one test).
pub struct FreshDatabase {
    pub name: String,
    pub url: tokio_postgres::Config,
}

/// The server from `TEST_DATABASE_URL` (or `DATABASE_URL`), as a user that may create databases.
pub fn admin_config() -> anyhow::Result<tokio_postgres::Config> {
    let url = std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .context(
            "neither TEST_DATABASE_URL nor DATABASE_URL is set: run `make bench`, which starts a \
             throwaway PostgreSQL",
        )?;
    tokio_postgres::Config::from_str(&url)
        .context("TEST_DATABASE_URL/DATABASE_URL is not a PostgreSQL URL")
}

/// Creates an empty database with a unique name.
pub async fn create_database(admin: &tokio_postgres::Config) -> anyhow::Result<FreshDatabase> {
    let (client, connection) = admin
        .connect(NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    let name = format!("bench_{}", Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .context("creating the benchmark database")?;
    let mut url = admin.clone();
    url.dbname(&name);
    Ok(FreshDatabase { name, url })
}

/// Drops a database made by [`create_database`], closing its connections.
pub async fn drop_database(admin: &tokio_postgres::Config, name: &str) -> anyhow::Result<()> {
    let (client, connection) = admin.connect(NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}
