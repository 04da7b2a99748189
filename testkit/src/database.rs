//! The PostgreSQL server the tests run against, and scratch databases on it that drop themselves.

use std::str::FromStr;

use anyhow::Context;
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;
use uuid::Uuid;

/// The server at `TEST_DATABASE_URL` (or `DATABASE_URL`), as a user that may create databases.
/// `make test`, `make check` and `make bench` start one and set it.
pub fn server() -> anyhow::Result<tokio_postgres::Config> {
    let url = std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .context(
            "TEST_DATABASE_URL is not set: run the tests with `make check` or `make test`, which \
             start a throwaway PostgreSQL, or point TEST_DATABASE_URL at a server whose user may \
             CREATE DATABASE",
        )?;
    tokio_postgres::Config::from_str(&url).context("TEST_DATABASE_URL is not a PostgreSQL URL")
}

/// A database of its own for one test (or one benchmark run), dropped when this is dropped, its
/// connections closed by force: no test leaves a database behind.
pub struct ScratchDatabase {
    admin: tokio_postgres::Config,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// A new, empty database on [`server`], named `<prefix>_<random>`.
    pub async fn create(prefix: &str) -> anyhow::Result<Self> {
        Self::create_on(&server()?, prefix).await
    }

    /// A new, empty database on the server `admin` connects to.
    pub async fn create_on(admin: &tokio_postgres::Config, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}_{}", Uuid::new_v4().simple());
        let (client, connection) = admin
            .connect(NoTls)
            .await
            .context("connecting to the test server")?;
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating the database {name}"))?;
        drop(client);
        let _ = connection.await;
        Ok(ScratchDatabase {
            url: connection_string(admin, &name),
            admin: admin.clone(),
            name,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection string for it (key=value form, which tokio-postgres, libpq and the API's
    /// `DATABASE_URL` all accept).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its connection parameters.
    pub fn config(&self) -> tokio_postgres::Config {
        tokio_postgres::Config::from_str(&self.url).expect("a rendered connection string parses")
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop cannot wait on the caller's runtime (it may be the one running this very drop),
        // so the statement runs on a thread of its own with a runtime of its own.
        let admin = self.admin.clone();
        let name = std::mem::take(&mut self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let (client, connection) = admin.connect(NoTls).await?;
                let connection = tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                drop(client);
                let _ = connection.await;
                anyhow::Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop a scratch database: {e:#}"),
            Err(_) => eprintln!("could not drop a scratch database: the dropping thread panicked"),
        }
    }
}

/// `config`'s server and credentials with another database, in key=value form: values quoted,
/// so a password may hold any character.
pub fn connection_string(config: &tokio_postgres::Config, dbname: &str) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    let mut parts = Vec::new();
    if !hosts.is_empty() {
        parts.push(format!("host={}", quote(&hosts.join(","))));
    }
    if !ports.is_empty() {
        parts.push(format!("port={}", quote(&ports.join(","))));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={}", quote(user)));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!(
            "password={}",
            quote(&String::from_utf8_lossy(password))
        ));
    }
    parts.push(format!("dbname={}", quote(dbname)));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_keep_every_part_and_quote_odd_passwords() {
        let password = r"p@ss w'rd\=;?/#";
        let mut admin = tokio_postgres::Config::new();
        admin
            .host("127.0.0.1")
            .port(5433)
            .user("postgres")
            .password(password)
            .dbname("postgres");

        let rendered = connection_string(&admin, "test_1");

        let parsed = tokio_postgres::Config::from_str(&rendered).unwrap();
        assert_eq!(parsed.get_hosts(), admin.get_hosts());
        assert_eq!(parsed.get_ports(), [5433]);
        assert_eq!(parsed.get_user(), Some("postgres"));
        assert_eq!(parsed.get_password(), Some(password.as_bytes()));
        assert_eq!(parsed.get_dbname(), Some("test_1"));
    }

    #[test]
    fn url_form_servers_render_too() {
        let admin =
            tokio_postgres::Config::from_str("postgres://u:secret@localhost:5002/x").unwrap();
        let parsed = tokio_postgres::Config::from_str(&connection_string(&admin, "y")).unwrap();
        assert_eq!(parsed.get_password(), Some(&b"secret"[..]));
        assert_eq!(parsed.get_dbname(), Some("y"));
        assert_eq!(parsed.get_ports(), [5002]);
    }

    /// The guard drops its database, also from inside a test's runtime.
    #[tokio::test]
    async fn a_scratch_database_is_gone_once_dropped() {
        let admin = server().expect("TEST_DATABASE_URL");
        let (client, connection) = admin.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        let exists = |name: String| {
            let client = &client;
            async move {
                client
                    .query_one(
                        "SELECT count(*) FROM pg_database WHERE datname = $1",
                        &[&name],
                    )
                    .await
                    .unwrap()
                    .get::<_, i64>(0)
                    == 1
            }
        };
        let database = ScratchDatabase::create("guard").await.unwrap();
        let name = database.name().to_owned();
        let (open, open_connection) = database.config().connect(NoTls).await.unwrap();
        tokio::spawn(open_connection);
        assert!(exists(name.clone()).await, "created");

        drop(database);

        assert!(
            !exists(name).await,
            "dropped, although a connection was open"
        );
        assert!(open.is_closed() || open.simple_query("SELECT 1").await.is_err());
    }
}
