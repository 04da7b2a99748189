//! `make dev`: PostgreSQL (docker compose when an engine answers, else a persistent cluster in
//! `.local/pg`), an SMTP server with a web inbox (Mailpit from docker compose, else MailDev as a
//! child, keeping its messages in `.local/maildev`), the migrations, then every function served by
//! `cargo lambda watch` in the foreground at its production path, and the janitor invoked every
//! few seconds, as EventBridge does every minute in AWS, so queued emails reach the inbox. Ctrl-C
//! stops the API and MailDev; `make down` stops the database (and docker compose's Mailpit). Safe
//! to run again: nothing is wiped.
//!
//! When `local/.env` lists the provider `local` with its issuer on `OIDC_PORT`, the test OpenID
//! provider (`local/oidc-provider.mjs`, whose login form signs in whoever you type) runs too, so
//! "Continue with Local" on the sign-in page works end to end.
//!
//! The harness's own settings are `API_PORT` (5001), `POSTGRES_PORT` (5002), `SMTP_PORT` (1025),
//! `INBOX_PORT` (1080) and `OIDC_PORT` (5003), read from the environment; `local/.env` configures the API and is
//! read, never sourced, so none of its variables (`DB_PORT` is the database port *in AWS*) can
//! change where the harness listens.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::json;
use testkit::cluster::{Credentials, PersistentCluster};
use testkit::database::{answers, block_on, docker_engine_answers};
use testkit::process::interrupted;
use testkit::stack::{MailDev, MailDevOptions, TestProvider, random_secret, signing_key_pem};
use uuid::Uuid;

use crate::workspace::{Workspace, handle_signals, run_checked, run_foreground};

/// The API's configuration, created from `.env.example` on the first run.
pub const ENV_FILE: &str = "local/.env";
/// pgAdmin's login, created from `.env.pgadmin.example` on the first run.
pub const PGADMIN_ENV_FILE: &str = ".env.pgadmin";
/// The persistent cluster's data, for machines without a Docker engine.
pub const CLUSTER_DIR: &str = ".local/pg";
/// MailDev's messages, for machines without a Docker engine.
pub const INBOX_DIR: &str = ".local/maildev";
/// The port docker-compose.yml publishes PostgreSQL on.
const COMPOSE_POSTGRES_PORT: u16 = 5002;
/// The ports docker-compose.yml publishes Mailpit's SMTP server and web inbox on.
const COMPOSE_SMTP_PORT: u16 = 1025;
const COMPOSE_INBOX_PORT: u16 = 1080;
/// The sender of the emails of the local API (a reserved `.localhost` domain: nothing leaves).
const LOCAL_SENDER: &str = "no-reply@auth.localhost";
/// The name `make dev` gives its test OpenID provider, and the client registered there.
const LOCAL_PROVIDER: &str = "local";
const LOCAL_CLIENT_ID: &str = "local-dev";
/// How often `make dev` runs the janitor, which sends the queued emails (every minute in AWS).
const JANITOR_EVERY: Duration = Duration::from_secs(5);

/// Where `make dev` listens.
#[derive(Clone, Copy)]
pub struct Ports {
    pub api: u16,
    pub postgres: u16,
    /// The local SMTP server's.
    pub smtp: u16,
    /// The web inbox's, where the emails the API sent can be read.
    pub inbox: u16,
    /// The test OpenID provider's.
    pub oidc: u16,
}

impl Ports {
    /// `API_PORT` (default 5001), `POSTGRES_PORT` (5002), `SMTP_PORT` (1025), `INBOX_PORT`
    /// (1080) and `OIDC_PORT` (5003).
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
            smtp: port("SMTP_PORT", 1025)?,
            inbox: port("INBOX_PORT", 1080)?,
            oidc: port("OIDC_PORT", 5003)?,
        })
    }
}

/// The local SMTP server and its inbox.
enum Inbox {
    /// docker compose's `mailpit` service (stopped by `make down`).
    Mailpit,
    /// MailDev, a child of this process (stopped when dropped, after the watch server).
    MailDev(MailDev),
}

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    super::no_arguments("dev", args)?;
    // Ctrl-C stops the watch server (in the foreground, it gets it from the terminal too), then
    // this process stops MailDev on its way out.
    handle_signals()?;
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
    add_missing_keys(&env_file, ports)?;
    let settings = read_env_file(&env_file)?;
    let setting = |name: &str| -> anyhow::Result<String> {
        lookup(&settings, name).with_context(|| format!("{ENV_FILE} has no {name}"))
    };
    let database_url = setting("DATABASE_URL")?;
    let database = tokio_postgres::Config::from_str(&database_url)
        .with_context(|| format!("{ENV_FILE}: DATABASE_URL is not a PostgreSQL URL"))?;
    let email_transport = lookup(&settings, "EMAIL_TRANSPORT").unwrap_or_else(|| "log".into());
    if email_transport == "smtp"
        && let Some(port) = lookup(&settings, "SMTP_URL").and_then(|url| local_smtp_port(&url))
        && port != ports.smtp
    {
        bail!(
            "{ENV_FILE}'s SMTP_URL uses port {port}, but the local SMTP server is to listen on \
             SMTP_PORT={}: make them agree (edit {ENV_FILE}, or set SMTP_PORT)",
            ports.smtp
        );
    }

    // docker compose's services where an engine answers and the ports are the ones
    // docker-compose.yml publishes; the harness's own servers otherwise.
    let docker = docker_engine_answers();
    let compose_postgres = docker && ports.postgres == COMPOSE_POSTGRES_PORT;
    let compose_mail =
        docker && ports.smtp == COMPOSE_SMTP_PORT && ports.inbox == COMPOSE_INBOX_PORT;
    let mut pgadmin = "not running (it needs Docker)".to_owned();
    let mut services = Vec::new();
    if compose_postgres {
        services.extend(["db", "pgadmin"]);
    }
    if compose_mail {
        services.push("mailpit");
    }
    if !services.is_empty() {
        println!("==> starting {} with docker compose", services.join(", "));
        run_checked(
            workspace
                .command("docker")
                .args(["compose", "--env-file", ENV_FILE, "up", "-d", "--wait"])
                .args(&services),
            "docker compose up",
        )?;
    }
    if compose_postgres {
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

    let inbox = if compose_mail {
        Inbox::Mailpit
    } else {
        let inbox_dir = root.join(INBOX_DIR);
        fs::create_dir_all(&inbox_dir)?;
        let maildev = MailDev::start(
            MailDevOptions {
                smtp_port: ports.smtp,
                web_port: ports.inbox,
                mail_dir: &inbox_dir,
                login: None,
            },
            &root.join(".local/maildev.log"),
        )
        .context(
            "starting MailDev, make dev's SMTP server (if a port is taken, set SMTP_PORT and \
             INBOX_PORT; its log is .local/maildev.log)",
        )?;
        Inbox::MailDev(maildev)
    };

    println!("==> applying migrations");
    run_checked(
        workspace
            .command("cargo")
            .args(["run", "--quiet", "--bin", "migrate"])
            .envs(settings.iter().map(|(k, v)| (k, v))),
        "migrate",
    )?;

    let provider = start_local_provider(&workspace, &settings, ports)?;
    let provider_line = match &provider {
        Some(provider) => format!(
            "Provider   {}   (the test OpenID provider: \"Continue with Local\" on
             http://localhost:{}/signin; its form signs in whoever you type)",
            provider.issuer(),
            ports.api
        ),
        None => format!(
            "Provider   not started ({ENV_FILE} does not list \"{LOCAL_PROVIDER}\" with its issuer at
             http://127.0.0.1:{})",
            ports.oidc
        ),
    };

    let api = ports.api;
    let inbox_url = format!("http://127.0.0.1:{}", ports.inbox);
    let server = match &inbox {
        Inbox::Mailpit => "Mailpit, docker compose",
        Inbox::MailDev(_) => "MailDev",
    };
    let emails = if email_transport == "smtp" {
        format!(
            "Emails:    sent by the janitor (run every {}s here, every minute in AWS) to the
             inbox above; a reset link opens the reset page at
             http://localhost:{api}/reset-password#<token>.",
            JANITOR_EVERY.as_secs()
        )
    } else {
        format!(
            "Emails:    EMAIL_TRANSPORT={email_transport} in {ENV_FILE}: written to the log below
             (\"email written to the log\") and kept in the email_outbox table. To read them in
             the inbox, set EMAIL_TRANSPORT=smtp, SMTP_URL=smtp://127.0.0.1:{} and
             EMAIL_FROM={LOCAL_SENDER} there.",
            ports.smtp
        )
    };
    println!(
        "
  API        http://localhost:{api}   (try: curl http://localhost:{api}/api/public)
  PostgreSQL {database_url}
  pgAdmin    {pgadmin}
  Inbox      {inbox_url}   (every email the API sent; {server}, SMTP on 127.0.0.1:{smtp})
  {provider_line}
  {emails}
  Ctrl-C stops the API{maildev}; `make down` stops the database (data is kept){mailpit}.
",
        smtp = ports.smtp,
        maildev = if matches!(inbox, Inbox::MailDev(_)) {
            " and MailDev"
        } else {
            ""
        },
        mailpit = if matches!(inbox, Inbox::Mailpit) {
            " and Mailpit"
        } else {
            ""
        },
    );

    let stop = Arc::new(AtomicBool::new(false));
    let janitor = schedule_janitor(api, Arc::clone(&stop));
    // The watch server runs in the foreground (the terminal's process group), so Ctrl-C reaches
    // it directly. The settings are passed in its environment as well, so local/.env wins over
    // the shell's variables; all but RUST_LOG, which the functions get from --env-file: in the
    // watch server's own environment it would make cargo-lambda log every spawn with its whole
    // environment, signing key included.
    let status = run_foreground(
        workspace
            .command("cargo")
            .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &api.to_string(), "--env-file", ENV_FILE])
            .envs(
                settings
                    .iter()
                    .filter(|(name, _)| name != "RUST_LOG")
                    .map(|(k, v)| (k, v)),
            )
            .env_remove("RUST_LOG"),
    )
    .context(
        "starting cargo lambda watch (is cargo-lambda installed? source local/bootstrap.sh dev)",
    );
    stop.store(true, Ordering::SeqCst);
    // An invocation in flight ends with the watch server; then MailDev is stopped.
    let _ = janitor.join();
    if let Inbox::MailDev(maildev) = inbox {
        drop(maildev);
        println!("==> stopped MailDev (its emails are kept in {INBOX_DIR})");
    }
    if provider.is_some() {
        drop(provider);
        println!("==> stopped the test OpenID provider");
    }
    let status = status?;
    Ok(if status.success() || interrupted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The test OpenID provider on `OIDC_PORT`, when `local/.env` lists [`LOCAL_PROVIDER`] with its
/// issuer there (as make dev writes it); `None` when it does not (a provider of the user's own).
fn start_local_provider(
    workspace: &Workspace,
    settings: &[(String, String)],
    ports: Ports,
) -> anyhow::Result<Option<TestProvider>> {
    let listed = lookup(settings, "OIDC_PROVIDERS")
        .is_some_and(|names| names.split(',').any(|name| name.trim() == LOCAL_PROVIDER));
    let prefix = format!("OIDC_{}_", LOCAL_PROVIDER.to_uppercase());
    let ours = lookup(settings, &format!("{prefix}ISSUER"))
        .is_some_and(|issuer| issuer == format!("http://127.0.0.1:{}", ports.oidc));
    if !(listed && ours) {
        return Ok(None);
    }
    let setting = |name: &str| {
        lookup(settings, &format!("{prefix}{name}"))
            .with_context(|| format!("{ENV_FILE} has no {prefix}{name}"))
    };
    let api_url = lookup(settings, "API_PUBLIC_URL")
        .unwrap_or_else(|| format!("http://localhost:{}", ports.api));
    let callback = format!(
        "{}/api/oauth/{LOCAL_PROVIDER}/callback",
        api_url.trim_end_matches('/')
    );
    println!(
        "==> starting the test OpenID provider on 127.0.0.1:{}",
        ports.oidc
    );
    let provider = TestProvider::start_with(
        Some(ports.oidc),
        &workspace.root,
        &setting("CLIENT_ID")?,
        &setting("CLIENT_SECRET")?,
        &[&callback],
        &workspace.root.join(".local/oidc-provider.log"),
        &[],
    )
    .context(
        "starting the test OpenID provider (if its port is taken, set OIDC_PORT and the port of \
         OIDC_LOCAL_ISSUER in local/.env alike; its log is .local/oidc-provider.log)",
    )?;
    Ok(Some(provider))
}

/// make dev's own provider, as `local/.env` settings: the test provider on `OIDC_PORT`, and the
/// sign-in page as the one place an app may be sent back to.
fn local_provider_settings(ports: Ports) -> Vec<(String, String)> {
    let prefix = format!("OIDC_{}_", LOCAL_PROVIDER.to_uppercase());
    let api = ports.api;
    [
        ("OIDC_PROVIDERS".to_owned(), LOCAL_PROVIDER.to_owned()),
        (
            format!("{prefix}ISSUER"),
            format!("http://127.0.0.1:{}", ports.oidc),
        ),
        (format!("{prefix}CLIENT_ID"), LOCAL_CLIENT_ID.to_owned()),
        (format!("{prefix}CLIENT_SECRET"), random_secret()),
        (
            "OAUTH_REDIRECT_ALLOWLIST".to_owned(),
            format!("http://localhost:{api}/signin,http://127.0.0.1:{api}/signin"),
        ),
        (
            "API_PUBLIC_URL".to_owned(),
            format!("http://localhost:{api}"),
        ),
    ]
    .into()
}

/// The port of an `smtp://` URL on this machine (127.0.0.1 or localhost); `None` for any other
/// server, which is the user's to run.
fn local_smtp_port(url: &str) -> Option<u16> {
    let authority = url.strip_prefix("smtp://")?.split(['/', '?']).next()?;
    let server = authority.rsplit('@').next()?;
    let (host, port) = server.rsplit_once(':')?;
    if matches!(host, "127.0.0.1" | "localhost") {
        port.parse().ok()
    } else {
        None
    }
}

/// Invokes the `janitor` function every [`JANITOR_EVERY`] through the watch server's Lambda
/// invoke API (`POST /2015-03-31/functions/janitor/invocations`) with a scheduled event, as
/// EventBridge does in AWS, until `stop` is set or the harness is interrupted. Quiet but for a
/// change of outcome; the janitor logs its own work with the functions' output.
fn schedule_janitor(api_port: u16, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let url = format!("http://127.0.0.1:{api_port}/2015-03-31/functions/janitor/invocations");
        // The first invocation waits for the watch server to build the janitor.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(900)))
            .build()
            .into();
        let mut last_failure: Option<String> = None;
        let mut next = Instant::now();
        while !stop.load(Ordering::SeqCst) && !interrupted() {
            if Instant::now() < next {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            let outcome = match agent.post(&url).send_json(scheduled_event()) {
                Ok(response) if response.status() == 200 => None,
                Ok(response) => Some(format!("it answered {}", response.status())),
                // The watch server is not listening yet, or is stopping.
                Err(ureq::Error::Io(_)) | Err(ureq::Error::ConnectionFailed) => {
                    last_failure.clone()
                }
                Err(error) => Some(error.to_string()),
            };
            if outcome != last_failure && !stop.load(Ordering::SeqCst) {
                match &outcome {
                    Some(failure) => eprintln!(
                        "==> invoking the janitor failed ({failure}); queued emails wait. \
                         Retrying every {}s",
                        JANITOR_EVERY.as_secs()
                    ),
                    None if last_failure.is_some() => eprintln!("==> the janitor runs again"),
                    None => {}
                }
            }
            last_failure = outcome;
            next = Instant::now() + JANITOR_EVERY;
        }
    })
}

/// An EventBridge scheduled event, as the janitor's schedule delivers it in AWS (the janitor
/// reads none of it).
fn scheduled_event() -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    json!({
        "version": "0",
        "id": Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": rfc3339_utc(now),
        "region": "local",
        "resources": ["arn:aws:events:local:000000000000:rule/make-dev-janitor"],
        "detail": {}
    })
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (Howard Hinnant's civil-from-days).
fn rfc3339_utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time % 3600 / 60,
        time % 60
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

/// A `local/.env` made by an earlier release may lack a key a function now refuses to start
/// without (`VERIFICATION_CODE_KEY` since addresses are verified, `MFA_ENCRYPTION_KEY` since
/// second factors) or a route needs (`ADMIN_TOKEN` since the admin API): each missing one is
/// generated and appended, nothing else is touched.
fn add_missing_keys(path: &Path, ports: Ports) -> anyhow::Result<()> {
    let settings = read_env_file(path)?;
    // A local/.env from before providers: make dev's own, unless the file names providers.
    if lookup(&settings, "OIDC_PROVIDERS").is_none() {
        let mut file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(
            file,
            "\n# Added by make dev: sign-in through its test OpenID provider (see the README)."
        )?;
        for (name, value) in local_provider_settings(ports) {
            if lookup(&settings, &name).is_none() {
                writeln!(file, "{name}={value}")?;
            }
        }
        println!("==> added make dev's test OpenID provider ({LOCAL_PROVIDER}) to {ENV_FILE}");
    }
    let keys = [
        (
            "VERIFICATION_CODE_KEY",
            "the key the codes of confirmation emails are stored under",
            random_secret(),
        ),
        (
            "MFA_ENCRYPTION_KEY",
            "the key TOTP secrets are sealed and recovery codes hashed under",
            auth::tokens::new_key_base64()?,
        ),
        (
            "ADMIN_TOKEN",
            "the admin API's local bearer (IAM stands in for it in AWS)",
            random_secret(),
        ),
    ];
    for (name, what, value) in keys {
        if lookup(&settings, name).is_some_and(|key| !key.trim().is_empty()) {
            continue;
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        // Quoted: cargo-lambda's env-file parser refuses a bare value ending in `=` (base64).
        writeln!(file, "\n# Added by make dev: {what}.\n{name}='{value}'")?;
        println!("==> added a freshly generated {name} to {ENV_FILE}");
    }
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
    let provider = local_provider_settings(ports);
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
        } else if line.starts_with("WEBAUTHN_ORIGIN=") {
            format!("WEBAUTHN_ORIGIN=http://localhost:{}", ports.api)
        } else if line.starts_with("VERIFICATION_CODE_KEY=") {
            format!("VERIFICATION_CODE_KEY={}", random_secret())
        } else if line.starts_with("ADMIN_TOKEN=") {
            format!("ADMIN_TOKEN={}", random_secret())
        } else if line.starts_with("MFA_ENCRYPTION_KEY=") {
            // Quoted: cargo-lambda's env-file parser refuses a bare value ending in `=`.
            format!("MFA_ENCRYPTION_KEY='{}'", auth::tokens::new_key_base64()?)
        } else if let Some((name, value)) = provider
            .iter()
            .find(|(name, _)| line.starts_with(&format!("{name}=")))
        {
            // make dev's own provider: its issuer, client and secret follow the list.
            let mut line = format!("{name}={value}");
            if name == "OIDC_PROVIDERS" {
                for (name, value) in provider
                    .iter()
                    .filter(|(n, _)| n.starts_with("OIDC_LOCAL_"))
                {
                    line.push_str(&format!("\n{name}={value}"));
                }
            }
            line
        } else if line.starts_with("EMAIL_TRANSPORT=") {
            // The local inbox (see `run`): emails a developer can read, sent as in AWS, by the
            // janitor.
            "EMAIL_TRANSPORT=smtp".to_owned()
        } else if line.starts_with("SMTP_URL=") {
            format!("SMTP_URL=smtp://127.0.0.1:{}", ports.smtp)
        } else if line.starts_with("EMAIL_FROM=") {
            format!("EMAIL_FROM={LOCAL_SENDER}")
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
    fn only_an_smtp_url_on_this_machine_has_a_local_port() {
        assert_eq!(local_smtp_port("smtp://127.0.0.1:1025"), Some(1025));
        assert_eq!(
            local_smtp_port("smtp://u:p@localhost:2025/?x=1"),
            Some(2025)
        );
        assert_eq!(local_smtp_port("smtp://mail.example.com:587"), None);
        assert_eq!(local_smtp_port("smtps://127.0.0.1:465"), None);
        assert_eq!(local_smtp_port("smtp://127.0.0.1"), None);
    }

    #[test]
    fn scheduled_events_carry_utc_time_as_eventbridge_writes_it() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_767_225_599), "2025-12-31T23:59:59Z");
        let event = scheduled_event();
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
    }

    #[test]
    fn user_info_is_percent_encoded() {
        assert_eq!(percent_encode("auth"), "auth");
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
        let url = format!("postgres://u:{}@localhost:1/db", percent_encode("a b@c%"));
        let config = tokio_postgres::Config::from_str(&url).unwrap();
        assert_eq!(config.get_password(), Some("a b@c%".as_bytes()));
    }
}
