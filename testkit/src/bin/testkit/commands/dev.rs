//! `make dev`: PostgreSQL (docker compose when an engine answers, else a persistent cluster in
//! `.local/pg`), the migrations, then every function served by `cargo lambda watch` in the
//! foreground at its production path. Ctrl-C stops the API; `make down` stops the database.
//! Safe to run again: nothing is wiped.
//!
//! The harness's own settings are `API_PORT` (5001) and `POSTGRES_PORT` (5002), read from the
//! environment; `local/.env` configures the API and is read, never sourced, so none of its
//! variables (`DB_PORT` is the database port *in AWS*) can change where the harness listens.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, bail};
use testkit::cluster::{Credentials, PersistentCluster};
use testkit::database::{answers, block_on, docker_engine_answers};
use testkit::stack::{random_secret, signing_key_pem};
use uuid::Uuid;

use crate::workspace::{Workspace, run_checked};

/// The API's configuration, created from `.env.example` on the first run.
pub const ENV_FILE: &str = "local/.env";
/// pgAdmin's login, created from `.env.pgadmin.example` on the first run.
pub const PGADMIN_ENV_FILE: &str = ".env.pgadmin";
/// The persistent cluster's data, for machines without a Docker engine.
pub const CLUSTER_DIR: &str = ".local/pg";
/// The port docker-compose.yml publishes PostgreSQL on.
const COMPOSE_POSTGRES_PORT: u16 = 5002;

/// Where `make dev` listens.
#[derive(Clone, Copy)]
pub struct Ports {
    pub api: u16,
    pub postgres: u16,
}

impl Ports {
    /// `API_PORT` (default 5001) and `POSTGRES_PORT` (default 5002).
    pub fn from_env() -> anyhow::Result<Ports> {
        let port = |name: &str, default: u16| match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => value
                .trim()
                .parse::<u16>()
                .with_context(|| format!("{name}={value:?} is not a port")),
            _ => Ok(default),
        };
        Ok(Ports {
            api: port("API_PORT", 5001)?,
            postgres: port("POSTGRES_PORT", 5002)?,
        })
    }
}

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    super::no_arguments("dev", args)?;
    let workspace = Workspace::locate()?;
    let root = &workspace.root;
    let ports = Ports::from_env()?;

    let env_file = root.join(ENV_FILE);
    if !env_file.exists() {
        create_env_file(root, &env_file, ports)?;
        println!("==> created {ENV_FILE} with a freshly generated Ed25519 JWT_PRIVATE_KEY");
    }
    let pgadmin_file = root.join(PGADMIN_ENV_FILE);
    if !pgadmin_file.exists() {
        create_pgadmin_file(root, &pgadmin_file)?;
        println!("==> created {PGADMIN_ENV_FILE} with a freshly generated pgAdmin password");
    }
    add_missing_code_key(&env_file)?;
    let settings = read_env_file(&env_file)?;
    let setting = |name: &str| -> anyhow::Result<String> {
        lookup(&settings, name).with_context(|| format!("{ENV_FILE} has no {name}"))
    };
    let database_url = setting("DATABASE_URL")?;
    let database = tokio_postgres::Config::from_str(&database_url)
        .with_context(|| format!("{ENV_FILE}: DATABASE_URL is not a PostgreSQL URL"))?;

    let mut pgadmin = "not running (it needs Docker)".to_owned();
    if ports.postgres == COMPOSE_POSTGRES_PORT && docker_engine_answers() {
        println!("==> starting PostgreSQL and pgAdmin with docker compose");
        run_checked(
            workspace.command("docker").args([
                "compose",
                "--env-file",
                ENV_FILE,
                "up",
                "-d",
                "--wait",
            ]),
            "docker compose up",
        )?;
        let pgadmin_settings = read_env_file(&pgadmin_file)?;
        pgadmin = format!(
            "http://localhost:5050 (login {} / {}, from {PGADMIN_ENV_FILE}; server password: {})",
            lookup(&pgadmin_settings, "PGADMIN_DEFAULT_EMAIL").unwrap_or_default(),
            lookup(&pgadmin_settings, "PGADMIN_DEFAULT_PASSWORD").unwrap_or_default(),
            setting("POSTGRES_PASSWORD")?,
        );
    } else if block_on(answers(&database)) {
        println!("==> PostgreSQL already answers at DATABASE_URL");
    } else {
        if database.get_ports() != [ports.postgres] {
            bail!(
                "{ENV_FILE}'s DATABASE_URL uses port {:?}, but the local PostgreSQL is to listen \
                 on POSTGRES_PORT={}: make them agree (edit {ENV_FILE}, or set POSTGRES_PORT)",
                database.get_ports(),
                ports.postgres
            );
        }
        let cluster = PersistentCluster::new(&root.join(CLUSTER_DIR), ports.postgres)?;
        if !cluster.exists() {
            println!("==> creating a PostgreSQL cluster in {CLUSTER_DIR}");
        }
        cluster.start(&Credentials {
            user: &setting("POSTGRES_USER")?,
            password: &setting("POSTGRES_PASSWORD")?,
            database: &setting("POSTGRES_DB")?,
        })?;
        println!("==> PostgreSQL: {}", cluster.describe());
    }

    println!("==> applying migrations");
    run_checked(
        workspace
            .command("cargo")
            .args(["run", "--quiet", "--bin", "migrate"])
            .envs(settings.iter().map(|(k, v)| (k, v))),
        "migrate",
    )?;

    let api = ports.api;
    println!(
        "
  API        http://localhost:{api}   (try: curl http://localhost:{api}/api/public)
  PostgreSQL {database_url}
  pgAdmin    {pgadmin}
  Reset emails: their links are logged below (\"email written to the log\") and kept in the
             email_outbox table; the link opens the reset page at http://localhost:{api}/reset-password/<token>.
  Ctrl-C stops the API; `make down` stops the database (data is kept).
"
    );
    // exec: the watch server takes this process's place, so Ctrl-C reaches it directly. The
    // settings are passed in its environment as well, so local/.env wins over the shell's
    // variables; all but RUST_LOG, which the functions get from --env-file: in the watch
    // server's own environment it would make cargo-lambda log every spawn with its whole
    // environment, signing key included.
    let error = workspace
        .command("cargo")
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &api.to_string(), "--env-file", ENV_FILE])
        .envs(
            settings
                .iter()
                .filter(|(name, _)| name != "RUST_LOG")
                .map(|(k, v)| (k, v)),
        )
        .env_remove("RUST_LOG")
        .exec();
    Err(error).context(
        "starting cargo lambda watch (is cargo-lambda installed? source local/bootstrap.sh dev)",
    )
}

/// `NAME=value` pairs of an env file, in order, quotes removed; not put in our environment.
pub fn read_env_file(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    dotenvy::from_path_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .map(|item| item.with_context(|| format!("parsing {}", path.display())))
        .collect()
}

fn lookup(settings: &[(String, String)], name: &str) -> Option<String> {
    settings
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// A `local/.env` made before addresses were verified has no `VERIFICATION_CODE_KEY`, without
/// which sign-up refuses to start: one is generated and appended, nothing else is touched.
fn add_missing_code_key(path: &Path) -> anyhow::Result<()> {
    let settings = read_env_file(path)?;
    if lookup(&settings, "VERIFICATION_CODE_KEY").is_some_and(|key| !key.trim().is_empty()) {
        return Ok(());
    }
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(
        file,
        "\n# Added by make dev: the key the codes of confirmation emails are stored under.\nVERIFICATION_CODE_KEY={}",
        random_secret()
    )?;
    println!("==> added a freshly generated VERIFICATION_CODE_KEY to {ENV_FILE}");
    Ok(())
}

/// `local/.env` from `.env.example`: a new signing key on one line (its line breaks written as
/// `\n`, single-quoted), and the URLs pointing at `ports`. Readable by the owner only.
fn create_env_file(root: &Path, path: &Path, ports: Ports) -> anyhow::Result<()> {
    let example = fs::read_to_string(root.join(".env.example")).context("reading .env.example")?;
    let example_settings: HashMap<String, String> = read_env_file(&root.join(".env.example"))?
        .into_iter()
        .collect();
    let example_value = |name: &str| {
        example_settings
            .get(name)
            .cloned()
            .with_context(|| format!(".env.example has no {name}"))
    };
    let key: String = signing_key_pem()?
        .lines()
        .map(|line| format!("{line}\\n"))
        .collect();
    let database_url = format!(
        "postgres://{}:{}@localhost:{}/{}",
        percent_encode(&example_value("POSTGRES_USER")?),
        percent_encode(&example_value("POSTGRES_PASSWORD")?),
        ports.postgres,
        percent_encode(&example_value("POSTGRES_DB")?),
    );
    let mut text = String::new();
    for line in example.lines() {
        let line = if line.starts_with("JWT_PRIVATE_KEY=") {
            format!("JWT_PRIVATE_KEY='{key}'")
        } else if line.starts_with("DATABASE_URL=") {
            format!("DATABASE_URL={database_url}")
        } else if line.starts_with("RESET_URL=") {
            format!("RESET_URL=http://localhost:{}/reset-password", ports.api)
        } else if line.starts_with("VERIFY_URL=") {
            format!("VERIFY_URL=http://localhost:{}/verify-email", ports.api)
        } else if line.starts_with("VERIFICATION_CODE_KEY=") {
            format!("VERIFICATION_CODE_KEY={}", random_secret())
        } else {
            line.to_owned()
        };
        text.push_str(&line);
        text.push('\n');
    }
    write_private(path, &text)
}

/// `.env.pgadmin` from its example, with a random pgAdmin password.
fn create_pgadmin_file(root: &Path, path: &Path) -> anyhow::Result<()> {
    let example = fs::read_to_string(root.join(".env.pgadmin.example"))
        .context("reading .env.pgadmin.example")?;
    let password = Uuid::new_v4().simple().to_string();
    let mut text = String::new();
    for line in example.lines() {
        if line.starts_with("PGADMIN_DEFAULT_PASSWORD=") {
            text.push_str(&format!("PGADMIN_DEFAULT_PASSWORD={password}"));
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    write_private(path, &text)
}

/// Creates `path` with mode 0600 (it holds secrets), failing if it exists.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a URL's user info.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_percent_encoded() {
        assert_eq!(percent_encode("auth"), "auth");
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
        let url = format!("postgres://u:{}@localhost:1/db", percent_encode("a b@c%"));
        let config = tokio_postgres::Config::from_str(&url).unwrap();
        assert_eq!(config.get_password(), Some("a b@c%".as_bytes()));
    }
}
