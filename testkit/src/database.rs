//! The PostgreSQL server to test against ([`TestServer`]), and [`ScratchDatabase`]s on it: one
//! per test or run, dropped when the guard is, so no database is left behind.

use std::future::Future;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_postgres::config::{ChannelBinding, Host, SslMode, TargetSessionAttrs};
use tokio_postgres::{Config, NoTls};
use uuid::Uuid;

use crate::cluster::Cluster;

/// Databases every cluster has; any other one on a throwaway cluster was left behind.
pub const SYSTEM_DATABASES: [&str; 3] = ["postgres", "template0", "template1"];

/// Runs `future` to completion on a short-lived thread with its own current-thread runtime.
///
/// Works the same inside a tokio runtime (where blocking on the caller's own runtime would
/// panic) and outside one, which is what `Drop` and synchronous callers need.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime")
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A connection to `config`, its connection task running in the background.
async fn connect(config: &Config) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", describe(config)))?;
    tokio::spawn(connection);
    Ok(client)
}

/// Whether the server at `config` answers `SELECT 1` within a few seconds.
pub async fn answers(config: &Config) -> bool {
    let attempt = async {
        let client = connect(config).await?;
        client.simple_query("SELECT 1").await?;
        anyhow::Ok(())
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), attempt).await,
        Ok(Ok(()))
    )
}

/// Every database on the server.
pub async fn list_databases(admin: &Config) -> anyhow::Result<Vec<String>> {
    let client = connect(admin).await?;
    let rows = client
        .query("SELECT datname FROM pg_database ORDER BY datname", &[])
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Creates database `name` unless it exists.
pub async fn ensure_database(admin: &Config, name: &str) -> anyhow::Result<()> {
    let client = connect(admin).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {}", quote_identifier(name)))
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    Ok(())
}

/// `DROP DATABASE IF EXISTS … WITH (FORCE)`: sessions still open on it are ended first.
pub async fn drop_database(admin: &Config, name: &str) -> anyhow::Result<()> {
    let client = connect(admin).await?;
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_identifier(name)
        ))
        .await
        .with_context(|| format!("dropping database {name}"))?;
    Ok(())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Host, port, user and database of `config`, for messages (never the password).
pub fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config.get_hosts().iter().map(host_name).collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}:{} as {} (database {})",
        hosts.join(","),
        ports.join(","),
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?")
    )
}

fn host_name(host: &Host) -> String {
    match host {
        Host::Tcp(name) => name.clone(),
        Host::Unix(path) => path.to_string_lossy().into_owned(),
    }
}

/// `config` as a key=value connection string (`host='…' port='…' user='…' password='…'
/// dbname='…'`), which tokio-postgres and libpq (psql) both read.
///
/// Every value is single-quoted with `\` and `'` escaped, so passwords with spaces, quotes or
/// `@`/`/`/`%` need no URL encoding, and whatever form the admin URL came in (URL or key=value),
/// the result is one well-formed string.
pub fn connection_string(config: &Config) -> String {
    let mut parts: Vec<(&str, String)> = Vec::new();
    let join = |values: Vec<String>| values.join(",");
    if !config.get_hosts().is_empty() {
        parts.push((
            "host",
            join(config.get_hosts().iter().map(host_name).collect()),
        ));
    }
    if !config.get_hostaddrs().is_empty() {
        parts.push((
            "hostaddr",
            join(
                config
                    .get_hostaddrs()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ),
        ));
    }
    if !config.get_ports().is_empty() {
        parts.push((
            "port",
            join(config.get_ports().iter().map(u16::to_string).collect()),
        ));
    }
    if let Some(user) = config.get_user() {
        parts.push(("user", user.to_owned()));
    }
    if let Some(password) = config.get_password() {
        parts.push(("password", String::from_utf8_lossy(password).into_owned()));
    }
    if let Some(dbname) = config.get_dbname() {
        parts.push(("dbname", dbname.to_owned()));
    }
    if let Some(options) = config.get_options() {
        parts.push(("options", options.to_owned()));
    }
    if let Some(name) = config.get_application_name() {
        parts.push(("application_name", name.to_owned()));
    }
    match config.get_ssl_mode() {
        SslMode::Disable => parts.push(("sslmode", "disable".to_owned())),
        SslMode::Require => parts.push(("sslmode", "require".to_owned())),
        // prefer is the default of both readers.
        _ => {}
    }
    if let Some(timeout) = config.get_connect_timeout() {
        // libpq takes whole seconds; 0 would mean "wait forever", so round up.
        parts.push(("connect_timeout", timeout.as_secs().max(1).to_string()));
    }
    if config.get_target_session_attrs() == TargetSessionAttrs::ReadWrite {
        parts.push(("target_session_attrs", "read-write".to_owned()));
    }
    match config.get_channel_binding() {
        ChannelBinding::Disable => parts.push(("channel_binding", "disable".to_owned())),
        ChannelBinding::Require => parts.push(("channel_binding", "require".to_owned())),
        _ => {}
    }
    parts
        .into_iter()
        .map(|(key, value)| {
            format!(
                "{key}='{}'",
                value.replace('\\', r"\\").replace('\'', r"\'")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The server the tests run against, as the harness hands it to them: `TEST_DATABASE_URL` (or
/// `DATABASE_URL`), a user that may create databases. `make check`, `make test` and `make bench`
/// set it.
pub fn server() -> anyhow::Result<Config> {
    let url = std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .context(
            "TEST_DATABASE_URL is not set: run the tests with `make check` or `make test`, which \
             start a throwaway PostgreSQL, or point TEST_DATABASE_URL at a server whose user may \
             CREATE DATABASE",
        )?;
    Config::from_str(&url).context("TEST_DATABASE_URL is not a PostgreSQL connection string")
}

/// Whether a Docker engine answers (`docker info`); the client alone is not enough.
pub fn docker_engine_answers() -> bool {
    Command::new("docker")
        .arg("info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Where the server to test against came from.
pub enum Origin {
    /// `TEST_DATABASE_URL` or `DATABASE_URL`, named here.
    Environment(&'static str),
    /// A throwaway cluster the harness started (and stops when dropped).
    Throwaway(Cluster),
    /// `docker compose up -d db` (left running, as `make dev` uses it too).
    Compose,
}

/// The PostgreSQL server the tests run against, as a user that may `CREATE DATABASE`.
pub struct TestServer {
    admin: Config,
    admin_url: String,
    origin: Origin,
}

impl TestServer {
    /// The first of: `TEST_DATABASE_URL` or `DATABASE_URL` if it answers; a throwaway cluster
    /// from the machine's server binaries; `docker compose up -d db` when a Docker engine
    /// answers. Fails saying what to install when none works.
    pub fn find_or_start() -> anyhow::Result<TestServer> {
        for variable in ["TEST_DATABASE_URL", "DATABASE_URL"] {
            let Ok(url) = std::env::var(variable) else {
                continue;
            };
            let Ok(admin) = Config::from_str(&url) else {
                eprintln!("==> {variable} is not a PostgreSQL connection string: not used");
                continue;
            };
            if block_on(answers(&admin)) {
                return Ok(TestServer {
                    admin,
                    admin_url: url,
                    origin: Origin::Environment(variable),
                });
            }
            eprintln!(
                "==> {variable} ({}) does not answer: not used",
                describe(&admin)
            );
        }
        let cluster_error = match Cluster::start() {
            Ok(cluster) => {
                return Ok(TestServer {
                    admin: cluster.url("postgres"),
                    admin_url: cluster.admin_url(),
                    origin: Origin::Throwaway(cluster),
                });
            }
            Err(error) => error,
        };
        if docker_engine_answers() {
            eprintln!("==> starting PostgreSQL with docker compose");
            let status = Command::new("docker")
                .args(["compose", "up", "-d", "--wait", "db"])
                .status()
                .context("running docker compose")?;
            let user = std::env::var("POSTGRES_USER").unwrap_or_else(|_| "auth".into());
            let password = std::env::var("POSTGRES_PASSWORD").unwrap_or_else(|_| "auth".into());
            let mut admin = Config::new();
            admin
                .host("127.0.0.1")
                .port(5002)
                .user(&user)
                .password(password.as_str())
                .dbname("postgres");
            if status.success() && block_on(answers(&admin)) {
                return Ok(TestServer {
                    admin_url: connection_string(&admin),
                    admin,
                    origin: Origin::Compose,
                });
            }
        }
        bail!(
            "no PostgreSQL to test against. Any one of these works:\n  \
             - set TEST_DATABASE_URL to a server whose user may CREATE DATABASE;\n  \
             - install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql; \
             macOS: brew install postgresql@16), which the harness starts and stops by itself;\n  \
             - install Docker, for `docker compose up -d db`.\n\
             (The throwaway cluster failed: {cluster_error:#})"
        )
    }

    /// A throwaway cluster that also serves TLS ([`Cluster::start_with_tls`]), whatever
    /// `TEST_DATABASE_URL` says: a server the harness did not start cannot be given a certificate.
    pub fn start_with_tls() -> anyhow::Result<TestServer> {
        let cluster = Cluster::start_with_tls()?;
        Ok(TestServer {
            admin: cluster.url("postgres"),
            admin_url: cluster.admin_url(),
            origin: Origin::Throwaway(cluster),
        })
    }

    /// The admin connection (database `postgres` or whatever the URL named).
    pub fn admin(&self) -> &Config {
        &self.admin
    }

    /// The admin connection string, as given or made: `TEST_DATABASE_URL` for the tests.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The cluster the harness started, if it did: only there may it expect no database besides
    /// [`SYSTEM_DATABASES`] once everything is done.
    pub fn throwaway_cluster(&self) -> Option<&Cluster> {
        match &self.origin {
            Origin::Throwaway(cluster) => Some(cluster),
            _ => None,
        }
    }

    /// What is used, for a log line.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Environment(variable) => {
                format!("the PostgreSQL at {variable} ({})", describe(&self.admin))
            }
            Origin::Throwaway(cluster) => format!("a throwaway {}", cluster.describe()),
            Origin::Compose => "docker compose's PostgreSQL on 127.0.0.1:5002".to_owned(),
        }
    }
}

/// A database of its own for one test or run, `CREATE`d as `<prefix>_<uuid>` and dropped
/// (`WITH (FORCE)`) when the guard is dropped.
pub struct ScratchDatabase {
    name: String,
    admin: Config,
    config: Config,
    dropped: bool,
}

impl ScratchDatabase {
    /// Creates an empty database on the server `admin` connects to. `prefix` says who made it
    /// (`test`, `e2e`, `bench`): lowercase letters, digits and `_`.
    pub async fn create(admin: &Config, prefix: &str) -> anyhow::Result<ScratchDatabase> {
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            bail!("a database prefix is lowercase letters, digits and _: {prefix:?}");
        }
        let name = format!("{prefix}_{}", Uuid::new_v4().simple());
        let client = connect(admin).await?;
        client
            .batch_execute(&format!("CREATE DATABASE {}", quote_identifier(&name)))
            .await
            .with_context(|| format!("creating database {name}"))?;
        let mut config = admin.clone();
        config.dbname(&name);
        Ok(ScratchDatabase {
            name,
            admin: admin.clone(),
            config,
            dropped: false,
        })
    }

    /// [`ScratchDatabase::create`] for synchronous callers.
    pub fn create_blocking(admin: &Config, prefix: &str) -> anyhow::Result<ScratchDatabase> {
        block_on(Self::create(admin, prefix))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its connection: the admin's with the database name replaced.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its connection as a key=value string (see [`connection_string`]).
    pub fn connection_string(&self) -> String {
        connection_string(&self.config)
    }

    /// Drops it now, reporting a failure instead of only printing it as `Drop` does.
    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_database(&self.admin, &self.name).await
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop cannot be async: the statement runs on a thread with a runtime of its own.
        if let Err(error) = block_on(drop_database(&self.admin, &self.name)) {
            eprintln!("warning: database {} was not dropped: {error:#}", self.name);
        }
    }
}

/// The name and password of a login role for one scratch database's functions, which `migrate`
/// creates (`DB_RUNTIME_USER`, `DB_RUNTIME_PASSWORD`); dropped when the guard is. Roles belong
/// to the whole cluster, so each database gets one of its own, named after it. Drop the database
/// first: its grants keep the role from being dropped.
pub struct ScratchRole {
    name: String,
    password: String,
    admin: Config,
}

impl ScratchRole {
    /// A role for `database`, `<database>_runtime` with a random password (not created here).
    pub fn for_database(database: &ScratchDatabase) -> ScratchRole {
        ScratchRole {
            name: format!("{}_runtime", database.name()),
            password: Uuid::new_v4().simple().to_string(),
            admin: database.admin.clone(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `database`'s connection, logged in as this role.
    pub fn login(&self, database: &ScratchDatabase) -> Config {
        let mut config = database.config().clone();
        config.user(&self.name).password(self.password.as_str());
        config
    }
}

impl Drop for ScratchRole {
    fn drop(&mut self) {
        let drop_role = format!("DROP ROLE IF EXISTS {}", quote_identifier(&self.name));
        let dropped = block_on(async {
            let client = connect(&self.admin).await?;
            client.batch_execute(&drop_role).await?;
            anyhow::Ok(())
        });
        if let Err(error) = dropped {
            eprintln!("warning: role {} was not dropped: {error:#}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(config: &Config) -> Config {
        let rendered = connection_string(config);
        Config::from_str(&rendered).unwrap_or_else(|e| panic!("{rendered}: {e}"))
    }

    #[test]
    fn odd_passwords_survive_the_key_value_form() {
        for password in [
            "plain",
            "with space",
            "quote'inside",
            r"back\slash",
            r"both\'mixed'\",
            "at@slash/percent%colon:hash#question?",
            "equals=and;semicolon,comma",
            "unicode-ünïcødé-密码",
            " leading and trailing ",
            "",
        ] {
            let mut config = Config::new();
            config
                .host("127.0.0.1")
                .port(5432)
                .user("postgres")
                .password(password)
                .dbname("db");
            let parsed = roundtrip(&config);
            assert_eq!(
                parsed.get_password(),
                Some(password.as_bytes()),
                "password {password:?} through {}",
                connection_string(&config)
            );
            assert_eq!(parsed.get_user(), Some("postgres"));
            assert_eq!(parsed.get_dbname(), Some("db"));
            assert_eq!(parsed.get_ports(), [5432]);
        }
    }

    #[test]
    fn a_url_with_percent_encoding_becomes_the_same_connection() {
        let admin = Config::from_str(
            "postgres://app%20user:p%40ss%27w%2Frd@db.example.com:6543/postgres?sslmode=require&connect_timeout=7&application_name=tests",
        )
        .unwrap();
        let mut scratch = admin.clone();
        scratch.dbname("test_1");
        let parsed = roundtrip(&scratch);
        assert_eq!(parsed.get_user(), Some("app user"));
        assert_eq!(parsed.get_password(), Some("p@ss'w/rd".as_bytes()));
        assert_eq!(parsed.get_hosts(), admin.get_hosts());
        assert_eq!(parsed.get_ports(), [6543]);
        assert_eq!(parsed.get_dbname(), Some("test_1"));
        assert_eq!(parsed.get_ssl_mode(), SslMode::Require);
        assert_eq!(parsed.get_connect_timeout(), Some(&Duration::from_secs(7)));
        assert_eq!(parsed.get_application_name(), Some("tests"));
    }

    #[test]
    fn several_hosts_and_unix_sockets_are_kept() {
        let admin =
            Config::from_str("host=/var/run/postgresql,10.0.0.2 port=5432,5433 user=me").unwrap();
        let parsed = roundtrip(&admin);
        assert_eq!(parsed.get_hosts(), admin.get_hosts());
        assert_eq!(parsed.get_ports(), [5432, 5433]);
        assert_eq!(parsed.get_password(), None);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_identifier("auth_db"), "\"auth_db\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
