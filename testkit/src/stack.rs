//! The local stack beside PostgreSQL: [`Moto`] (the AWS API emulator, on loopback), [`MailDev`]
//! (an SMTP server with a web inbox, on loopback) and the functions served by `cargo lambda watch`
//! ([`Stack`]) on a migrated scratch database, signing with a freshly generated Ed25519 key.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::ExposeSecret;

use crate::database::{ScratchDatabase, ScratchRole, connection_string};
use crate::ports::free_port;
use crate::process::{self, Readiness, Supervised};

/// moto_server on a free loopback port: Secrets Manager and SES for the AWS tests, with nothing
/// leaving the machine. Stopped when dropped.
pub struct Moto {
    // Held for its Drop, which stops the server.
    _process: Supervised,
    endpoint_url: String,
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p PORT`, its output in `log`; ready when
    /// `/moto-api/data.json` answers.
    pub fn start(log: &Path) -> anyhow::Result<Moto> {
        let port = free_port()?;
        let mut command = process::command("moto_server");
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let mut process = Supervised::spawn("moto_server", command, log).context(
            "moto_server not found; the AWS tests need it. Install it with: \
             pip install 'moto[server]' (or source local/bootstrap.sh test)",
        )?;
        let endpoint_url = format!("http://127.0.0.1:{port}");
        process.wait_ready(
            &Readiness::Http(format!("{endpoint_url}/moto-api/data.json")),
            Duration::from_secs(60),
        )?;
        Ok(Moto {
            _process: process,
            endpoint_url,
        })
    }

    /// [`Moto::start`] serving HTTPS with `certificate` and `key` (PEM files for `localhost`), as
    /// AWS's endpoints do: a client must trust their CA (`AWS_CA_BUNDLE`). Ready when the port
    /// accepts.
    pub fn start_with_tls(log: &Path, certificate: &Path, key: &Path) -> anyhow::Result<Moto> {
        let port = free_port()?;
        let mut command = process::command("moto_server");
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-c"])
            .arg(certificate)
            .arg("-k")
            .arg(key);
        let mut process = Supervised::spawn("moto_server", command, log).context(
            "moto_server not found. Install it with: pip install 'moto[server]' (or source \
             local/bootstrap.sh bench)",
        )?;
        process.wait_ready(&Readiness::Tcp(port), Duration::from_secs(60))?;
        Ok(Moto {
            _process: process,
            endpoint_url: format!("https://localhost:{port}"),
        })
    }

    /// Where the SDK should send its requests: `MOTO_ENDPOINT_URL`.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }
}

/// MailDev (npm, from `local/package.json`): an SMTP server that keeps what it receives, with a
/// web inbox and a REST API (`GET /email`: every message, parsed) on a second port. Both listen
/// on 127.0.0.1 only. Stopped when dropped; the messages stay in its mail directory.
pub struct MailDev {
    // Held for its Drop, which stops the server.
    _process: Supervised,
    smtp_port: u16,
    web_port: u16,
    login: Option<(String, String)>,
}

/// Where and how [`MailDev`] listens.
pub struct MailDevOptions<'a> {
    /// The SMTP port.
    pub smtp_port: u16,
    /// The port of the web inbox and its API.
    pub web_port: u16,
    /// Where messages are kept (created if missing; the messages in it are shown again).
    pub mail_dir: &'a Path,
    /// A user and password SMTP clients must log in with (`--incoming-user/--incoming-pass`);
    /// none: no login (MailDev then refuses AUTH).
    pub login: Option<(String, String)>,
}

impl MailDev {
    /// Starts `maildev` on 127.0.0.1 (`local/node_modules/.bin` on PATH, as local/bootstrap.sh
    /// puts it), its output in `log`; ready when the API answers.
    pub fn start(options: MailDevOptions, log: &Path) -> anyhow::Result<MailDev> {
        let mut command = process::command("maildev");
        command
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1"])
            .args(["--smtp", &options.smtp_port.to_string()])
            .args(["--web", &options.web_port.to_string()])
            .arg("--mail-directory")
            .arg(options.mail_dir);
        if let Some((user, password)) = &options.login {
            command.args(["--incoming-user", user, "--incoming-pass", password]);
        }
        let mut process = Supervised::spawn("maildev", command, log).context(
            "maildev not found: it comes from local/package.json (npm ci --prefix local, or \
             source local/bootstrap.sh test)",
        )?;
        process.wait_ready(
            &Readiness::Http(format!("http://127.0.0.1:{}/healthz", options.web_port)),
            Duration::from_secs(60),
        )?;
        Ok(MailDev {
            _process: process,
            smtp_port: options.smtp_port,
            web_port: options.web_port,
            login: options.login,
        })
    }

    /// The API's `SMTP_URL` for it: `smtp://[user:password@]127.0.0.1:PORT`.
    pub fn smtp_url(&self) -> String {
        match &self.login {
            Some((user, password)) => {
                format!("smtp://{user}:{password}@127.0.0.1:{}", self.smtp_port)
            }
            None => format!("smtp://127.0.0.1:{}", self.smtp_port),
        }
    }

    /// The web inbox, and the base of its API: `http://127.0.0.1:PORT`.
    pub fn web_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }
}

/// The test OpenID provider (`local/oidc-provider.mjs`: panva's oidc-provider from
/// `local/package.json`) on 127.0.0.1, with one confidential client. Its login form lets a test
/// choose who signs in (`sub`, `email`, `email_verified`, `amr`). Stopped when dropped.
pub struct TestProvider {
    _process: Supervised,
    issuer: String,
}

impl TestProvider {
    /// Starts it for `client_id`/`client_secret` with these `redirect_uris`, its output in `log`,
    /// on a port it chooses itself (so no other process can take the port between a choice and
    /// its use); ready when it says where it listens and its discovery document answers.
    pub fn start(
        workspace: &Path,
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[&str],
        log: &Path,
    ) -> anyhow::Result<TestProvider> {
        Self::start_with(
            None,
            workspace,
            client_id,
            client_secret,
            redirect_uris,
            log,
            &[],
        )
    }

    /// [`TestProvider::start`] on a given port (make dev's `OIDC_PORT`) or, with `None`, one it
    /// chooses, with more of the script's settings in `settings`, e.g.
    /// `("CLIENT_AUTH", "client_secret_post")` for a token endpoint that takes the secret in the
    /// form only, as Apple's.
    ///
    /// On a port of its own choosing a start that fails is tried once more (a fresh process on
    /// a fresh port): a test peer that once did not come up within 30 s on a loaded CI machine
    /// should not fail the test that needs it. The first attempt's log tail goes to stderr.
    pub fn start_with(
        port: Option<u16>,
        workspace: &Path,
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[&str],
        log: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<TestProvider> {
        let start = |deadline: u64| {
            let mut command = process::command("node");
            command.envs(settings.iter().copied());
            command
                .current_dir(workspace)
                .arg("local/oidc-provider.mjs")
                .env("PORT", port.unwrap_or(0).to_string())
                .env("CLIENT_ID", client_id)
                .env("CLIENT_SECRET", client_secret)
                .env("REDIRECT_URIS", redirect_uris.join(","));
            Self::attempt(command, log, Duration::from_secs(deadline))
        };
        let started = match port {
            Some(_) => start(60),
            None => start(30).or_else(|error| {
                eprintln!("==> the test OpenID provider did not start, once more: {error:#}");
                start(60)
            }),
        };
        started.context(
            "the test OpenID provider did not start: its package comes from local/package.json \
             (npm ci --prefix local)",
        )
    }

    fn attempt(command: Command, log: &Path, deadline: Duration) -> anyhow::Result<TestProvider> {
        let mut process = Supervised::spawn("oidc-provider", command, log)
            .context("node not found: the test provider runs on Node.js")?;
        // The script prints this line once its handler is in place, not when it first listens.
        let issuer = process.wait_for_line("ISSUER=", deadline)?;
        process.wait_ready(
            &Readiness::Http(format!("{issuer}/.well-known/openid-configuration")),
            deadline,
        )?;
        Ok(TestProvider {
            _process: process,
            issuer,
        })
    }

    /// Its issuer: `http://127.0.0.1:PORT`, exactly as its discovery document says.
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }
}

/// A new Ed25519 signing key as PKCS#8 PEM, generated in Rust (no openssl).
pub fn signing_key_pem() -> anyhow::Result<String> {
    Ok(auth::keys::PrivateKey::generate_ed25519_pem()?
        .expose_secret()
        .to_owned())
}

/// A new random secret of 64 hex digits (244 random bits), for keys such as
/// `VERIFICATION_CODE_KEY`.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Applies the migrations to `database_url` with the workspace's `migrate` binary, as the
/// deployment does (built first if needed, in the release profile when `release`).
/// With `runtime_role`, `migrate` also creates that login role for the functions, as in AWS.
pub fn migrate(
    workspace: &Path,
    database_url: &str,
    runtime_role: Option<&ScratchRole>,
    release: bool,
) -> anyhow::Result<()> {
    let mut command = process::command("cargo");
    command
        .current_dir(workspace)
        .args(["run", "--quiet"])
        .args(release.then_some("--release"))
        .args(["--bin", "migrate"])
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null());
    if let Some(role) = runtime_role {
        command
            .env("DB_RUNTIME_USER", role.name())
            .env("DB_RUNTIME_PASSWORD", role.password());
    }
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("migrate failed ({status})");
    }
    Ok(())
}

/// How to serve the functions.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Serve the release build (`--release`), as the benchmark measures it.
    pub release: bool,
    /// Instances per function the watch server may run (`--concurrency`).
    pub concurrency: Option<u32>,
    /// Only the Lambda Runtime API (`--only-lambda-apis`): the caller starts the function
    /// binaries itself (the cold-start benchmark); nothing is built or served over HTTP.
    pub runtime_api_only: bool,
    /// `RUST_LOG` of the functions (unset: whatever the environment says).
    pub rust_log: Option<String>,
    /// Prefix of the scratch database's name.
    pub database_prefix: String,
    /// Also start the test OpenID provider ([`TestProvider`]) and configure it as the providers
    /// [`STACK_PROVIDER`] and [`STACK_FORM_PROVIDER`] (see [`Stack::start`]).
    pub oidc_provider: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            release: false,
            concurrency: None,
            runtime_api_only: false,
            rust_log: None,
            database_prefix: "stack".to_owned(),
            oidc_provider: false,
        }
    }
}

/// Every function served by `cargo lambda watch` at its production path on a free loopback
/// port, against a scratch database of its own. Dropping it stops the watch server (its whole
/// process group: the function instances are its children), then drops the database.
pub struct Stack {
    // Field order is drop order: the server goes before its database.
    watch: Supervised,
    port: u16,
    environment: Vec<(String, String)>,
    database: ScratchDatabase,
    /// The functions' login, dropped after the database that holds its grants.
    role: ScratchRole,
    provider: Option<TestProvider>,
}

/// The introspection client the stack allows (`INTROSPECTION_CLIENTS`), as the Postman
/// collection's defaults name it.
pub const INTROSPECTION_CLIENT_ID: &str = "newman";
pub const INTROSPECTION_CLIENT_SECRET: &str = "newman-introspection-secret-0123456789abcdef";

/// The admin API's local bearer the stack sets (`ADMIN_TOKEN`), as the Postman collection's
/// defaults name it.
pub const ADMIN_TOKEN: &str = "newman-admin-token-0123456789abcdef-local";

/// The provider name the stack gives its [`TestProvider`], and the client registered there.
pub const STACK_PROVIDER: &str = "local";
/// The same provider under a second name, asked to answer with a form the browser posts
/// (`response_mode=form_post`, as Apple does).
pub const STACK_FORM_PROVIDER: &str = "local_form";
const STACK_CLIENT_ID: &str = "auth-stack";

impl Stack {
    /// Creates and migrates a scratch database on the server `admin` connects to, generates a
    /// signing key, and serves the functions from `workspace`, output in `log`; returns once
    /// `GET /api/public` answers 200 (or, with `runtime_api_only`, once the port accepts).
    pub fn start(
        workspace: &Path,
        admin: &tokio_postgres::Config,
        options: &StackOptions,
        log: &Path,
    ) -> anyhow::Result<Stack> {
        let database = ScratchDatabase::create_blocking(admin, &options.database_prefix)?;
        // The functions log in as a role with only the DML the code runs, as in AWS.
        let role = ScratchRole::for_database(&database);
        migrate(
            workspace,
            &database.connection_string(),
            Some(&role),
            options.release,
        )?;
        let port = free_port()?;
        let base_url = format!("http://127.0.0.1:{port}");
        // Budgets raised: every request comes from 127.0.0.1, and the limits themselves are
        // tested in shared/tests/api/throttling.rs.
        let raised = "100000000".to_owned();
        let mut environment = vec![
            (
                "DATABASE_URL".to_owned(),
                connection_string(&role.login(&database)),
            ),
            ("JWT_PRIVATE_KEY".to_owned(), signing_key_pem()?),
            ("RESET_URL".to_owned(), format!("{base_url}/reset-password")),
            ("VERIFY_URL".to_owned(), format!("{base_url}/verify-email")),
            ("VERIFICATION_CODE_KEY".to_owned(), random_secret()),
            (
                "MFA_ENCRYPTION_KEY".to_owned(),
                auth::tokens::new_key_base64()?,
            ),
            // Passkeys: the browser test opens the pages at http://localhost:PORT (WebAuthn takes
            // `localhost` as a secure context; an IP address is no relying party), and its
            // Chromium resolves localhost to 127.0.0.1 only.
            ("WEBAUTHN_RP_ID".to_owned(), "localhost".to_owned()),
            (
                "WEBAUTHN_ORIGIN".to_owned(),
                format!("http://localhost:{port}"),
            ),
            ("RATE_LIMIT_SIGNUP".to_owned(), raised.clone()),
            ("RATE_LIMIT_SIGNIN".to_owned(), raised.clone()),
            ("RATE_LIMIT_PASSKEY_SIGNIN".to_owned(), raised.clone()),
            ("RATE_LIMIT_FORGOT_PASSWORD".to_owned(), raised.clone()),
            ("RESET_EMAILS_PER_WINDOW".to_owned(), raised),
            // The client the Postman collection introspects as (its default variables).
            (
                "INTROSPECTION_CLIENTS".to_owned(),
                format!("{INTROSPECTION_CLIENT_ID}:{INTROSPECTION_CLIENT_SECRET}"),
            ),
            // The operator the Postman collection's admin requests act as.
            ("ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
        ];
        let provider = if options.oidc_provider {
            // The pages are opened at http://localhost:PORT (passkeys need it), so that is the
            // API's public URL and the callback the provider knows; a client such as newman at
            // 127.0.0.1 may ask to come back to either origin's /signin.
            let secret = random_secret();
            let callback =
                |name: &str| format!("http://localhost:{port}/api/oauth/{name}/callback");
            let provider = TestProvider::start(
                workspace,
                STACK_CLIENT_ID,
                &secret,
                &[&callback(STACK_PROVIDER), &callback(STACK_FORM_PROVIDER)],
                &log.with_file_name("oidc-provider.log"),
            )?;
            environment.push((
                "OIDC_PROVIDERS".to_owned(),
                format!("{STACK_PROVIDER},{STACK_FORM_PROVIDER}"),
            ));
            for name in [STACK_PROVIDER, STACK_FORM_PROVIDER] {
                let name = name.to_uppercase();
                environment.extend([
                    (format!("OIDC_{name}_ISSUER"), provider.issuer()),
                    (format!("OIDC_{name}_CLIENT_ID"), STACK_CLIENT_ID.to_owned()),
                    (format!("OIDC_{name}_CLIENT_SECRET"), secret.clone()),
                ]);
            }
            environment.push((
                format!("OIDC_{}_RESPONSE_MODE", STACK_FORM_PROVIDER.to_uppercase()),
                "form_post".to_owned(),
            ));
            environment.extend([
                (
                    "OAUTH_REDIRECT_ALLOWLIST".to_owned(),
                    format!("http://localhost:{port}/signin,{base_url}/signin"),
                ),
                (
                    "API_PUBLIC_URL".to_owned(),
                    format!("http://localhost:{port}"),
                ),
            ]);
            Some(provider)
        } else {
            None
        };

        let mut command = process::command("cargo");
        command.current_dir(workspace).args(["lambda", "watch"]);
        command.args([
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ]);
        if options.runtime_api_only {
            command.arg("--only-lambda-apis");
        } else {
            command.arg("--ignore-changes");
        }
        command.args(options.release.then_some("--release"));
        if let Some(concurrency) = options.concurrency {
            command.args(["--concurrency", &concurrency.to_string()]);
        }
        // The functions inherit the watch server's environment. RUST_LOG goes to them alone
        // (--env-var): in the watch server's own environment it would make cargo-lambda log
        // every spawn with its whole environment, signing key included.
        command.envs(environment.iter().map(|(k, v)| (k, v)));
        command.env_remove("RUST_LOG");
        if let Some(rust_log) = &options.rust_log {
            command.arg("--env-var").arg(format!("RUST_LOG={rust_log}"));
        }
        let mut watch = Supervised::spawn("cargo lambda watch", command, log)?;
        let (readiness, deadline) = if options.runtime_api_only {
            (Readiness::Tcp(port), Duration::from_secs(60))
        } else {
            // The first request builds the function it reaches; a release build takes long.
            let deadline = if options.release { 1800 } else { 600 };
            (
                Readiness::Http(format!("{base_url}/api/public")),
                Duration::from_secs(deadline),
            )
        };
        watch.wait_ready(&readiness, deadline)?;
        Ok(Stack {
            watch,
            port,
            environment,
            database,
            role,
            provider,
        })
    }

    /// The test provider's issuer, when it was started (`oidc_provider`).
    pub fn provider_issuer(&self) -> Option<String> {
        self.provider.as_ref().map(TestProvider::issuer)
    }

    /// The loopback port it serves on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The functions' environment: `DATABASE_URL` (the runtime role's login), `JWT_PRIVATE_KEY`,
    /// `VERIFICATION_CODE_KEY`,
    /// `RESET_URL`, `VERIFY_URL`, the WebAuthn relying party and the raised
    /// budgets.
    pub fn environment(&self) -> &[(String, String)] {
        &self.environment
    }

    /// Its database (the owner's connection).
    pub fn database(&self) -> &ScratchDatabase {
        &self.database
    }

    /// The functions' login role.
    pub fn role(&self) -> &ScratchRole {
        &self.role
    }

    /// The watch server's log file.
    pub fn log_path(&self) -> &Path {
        self.watch.log_path()
    }
}
