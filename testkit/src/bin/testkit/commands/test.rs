//! `make test`: every suite against one PostgreSQL, one moto, one MailDev and one `cargo lambda
//! watch`, each suite running even when an earlier one failed; then make dev's own path; then the
//! check that no test database was left behind; then the summary, ending with `N passed, M
//! failed`.
//!
//! What the Rust tests are given: `TEST_DATABASE_URL` (a server where the user may CREATE
//! DATABASE), `MOTO_ENDPOINT_URL`, `SMTP_TEST_URL` and `SMTP_TEST_API` (MailDev's SMTP server,
//! with a login, and its API), `E2E_BASE_URL` and `E2E_DATABASE_URL` (the stack and its
//! database).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use testkit::database::{self, SYSTEM_DATABASES, TestServer};
use testkit::junit::{self, Case};
use testkit::ports::free_port;
use testkit::stack::{MailDev, MailDevOptions, Moto, Stack, StackOptions};
use uuid::Uuid;

use crate::summary::Summary;
use crate::workspace::{Workspace, handle_signals, run_checked};

/// Where each suite's JUnit report and each server's log go, and where MailDev keeps messages.
struct Paths {
    junit: PathBuf,
    logs: PathBuf,
    inbox: PathBuf,
}

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    super::no_arguments("test", args)?;
    handle_signals()?;
    let workspace = Workspace::locate()?;
    let artifacts = workspace.artifacts();
    let paths = Paths {
        junit: artifacts.join("junit"),
        logs: artifacts.join("logs"),
        inbox: artifacts.join("maildev"),
    };
    // Reports and screenshots of an earlier run must not be taken for this one's.
    let _ = fs::remove_dir_all(&paths.junit);
    for screenshot in ["reset-password.png", "reset-password-failure.png"] {
        let _ = fs::remove_file(artifacts.join(screenshot));
    }
    let _ = fs::remove_dir_all(&paths.inbox);
    fs::create_dir_all(&paths.junit)?;
    fs::create_dir_all(&paths.logs)?;
    let mut summary = Summary::default();

    let Some(server) = find_or_start_server(&mut summary) else {
        return Ok(summary.finish());
    };
    if let Err(error) = with_server(&workspace, &paths, &server, &mut summary) {
        summary.failed_step("setup", &error);
    }
    check_no_database_left_behind(&server, &paths.junit, &mut summary);
    drop(server);
    Ok(summary.finish())
}

/// The server to test against ([`TestServer::find_or_start`]), or a failed step saying why.
pub fn find_or_start_server(summary: &mut Summary) -> Option<TestServer> {
    match TestServer::find_or_start() {
        Ok(server) => {
            println!("==> using {}", server.describe());
            Some(server)
        }
        Err(error) => {
            summary.failed_step("PostgreSQL", &error);
            None
        }
    }
}

/// Everything that needs the server: moto, MailDev, the build, the stack, the suites, make dev's
/// path.
fn with_server(
    workspace: &Workspace,
    paths: &Paths,
    server: &TestServer,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let moto = match std::env::var("MOTO_ENDPOINT_URL") {
        Ok(url) => {
            println!("==> using moto at MOTO_ENDPOINT_URL ({url})");
            (None, url)
        }
        Err(_) => {
            let moto = Moto::start(&paths.logs.join("moto.log"))?;
            println!(
                "==> started moto (AWS API emulator) on {}",
                moto.endpoint_url()
            );
            let url = moto.endpoint_url().to_owned();
            (Some(moto), url)
        }
    };

    let smtp = match (
        std::env::var("SMTP_TEST_URL"),
        std::env::var("SMTP_TEST_API"),
    ) {
        (Ok(url), Ok(api)) => {
            println!(
                "==> using the SMTP server at SMTP_TEST_URL, its API at SMTP_TEST_API ({api})"
            );
            (None, url, api)
        }
        _ => {
            let maildev = start_maildev(paths)?;
            println!(
                "==> started MailDev (SMTP server) on {}, its API on {}",
                maildev.smtp_url().rsplit('@').next().unwrap_or_default(),
                maildev.web_url()
            );
            let (url, api) = (maildev.smtp_url(), maildev.web_url());
            (Some(maildev), url, api)
        }
    };

    println!("==> building every target");
    run_checked(
        workspace
            .command("cargo")
            .args(["build", "--workspace", "--all-targets"]),
        "cargo build",
    )?;

    let watch_log = paths.logs.join("watch.log");
    println!(
        "==> serving the functions with cargo lambda watch (log: {})",
        watch_log.display()
    );
    let options = StackOptions {
        rust_log: Some(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned())),
        database_prefix: "e2e".to_owned(),
        oidc_provider: true,
        ..StackOptions::default()
    };
    let stack = Stack::start(&workspace.root, server.admin(), &options, &watch_log)?;
    println!("==> the stack answers on {}", stack.base_url());

    let environment = [
        ("TEST_DATABASE_URL", server.admin_url().to_owned()),
        ("MOTO_ENDPOINT_URL", moto.1.clone()),
        ("SMTP_TEST_URL", smtp.1.clone()),
        ("SMTP_TEST_API", smtp.2.clone()),
        ("E2E_BASE_URL", stack.base_url()),
        ("E2E_DATABASE_URL", stack.database().connection_string()),
    ];
    // The browser test reads the emailed link through the harness (`outbox-token`): the binary
    // the build above made (this process's own file may have been replaced by it).
    let testkit = workspace.target.join("debug/testkit");
    let suite = |program: &str| {
        let mut command = workspace.command(program);
        command.envs(environment.iter().map(|(k, v)| (k, v)));
        command.env("TESTKIT", &testkit);
        command
    };

    let nextest_report = workspace.target.join("nextest/default/junit.xml");
    let rust_report = paths.junit.join("rust.xml");
    summary.run(
        "Rust tests, nextest",
        &nextest_report,
        suite("cargo").args(["nextest", "run", "--workspace", "--no-fail-fast"]),
    );
    // Kept with the other reports for CI to upload.
    let _ = fs::copy(&nextest_report, &rust_report);

    let newman_report = paths.junit.join("newman.xml");
    match PostmanAccounts::confirmed_on(&stack) {
        Ok(accounts) => summary.run(
            "Postman collection, newman",
            &newman_report,
            suite("newman")
                .args(["run", "postman/jwt-auth-api.postman_collection.json"])
                .arg("--env-var")
                .arg(format!("baseUrl={}", stack.base_url()))
                .args(accounts.env_vars())
                .args(["--timeout-request", "30000", "--color", "off"])
                .args(["--disable-unicode", "--reporters", "cli,junit"])
                .arg("--reporter-junit-export")
                .arg(&newman_report),
        ),
        Err(error) => summary.failed_step("Postman collection, newman", &error),
    }

    let schemathesis_report = paths.junit.join("schemathesis.xml");
    summary.run(
        "schemathesis",
        &schemathesis_report,
        suite("bash")
            .arg("local/schemathesis.sh")
            .env("SCHEMATHESIS_JUNIT", &schemathesis_report),
    );

    let browser_report = paths.junit.join("browser.xml");
    summary.run(
        "browser test, Chromium",
        &browser_report,
        suite("node")
            .args([
                "--test",
                "--test-reporter=spec",
                "--test-reporter-destination=stdout",
            ])
            .arg("--test-reporter=junit")
            .arg(destination(&browser_report))
            .arg("local/browser/pages.test.mjs"),
    );

    let jwks_report = paths.junit.join("jwks.xml");
    summary.run(
        "token verification, PyJWT",
        &jwks_report,
        suite("python3")
            .args(["local/verify-jwks.py", "--junit"])
            .arg(&jwks_report),
    );

    // The stack, moto and MailDev are stopped (the e2e database dropped) before make dev's path,
    // which builds and serves on its own.
    drop(stack);
    drop(moto);
    drop(smtp);

    let dev_report = paths.junit.join("dev.xml");
    if testkit::process::interrupted() {
        summary.failed_step("make dev's path", &anyhow::anyhow!("not run: interrupted"));
    } else {
        println!("==> make dev's path, from a copy of the checkout");
        let started = Instant::now();
        let result = crate::dev_path::run(workspace, &dev_report, &paths.logs);
        summary.record_check("make dev's path", started, result, &dev_report);
    }
    Ok(())
}

/// MailDev on two free loopback ports, with a login the tests must use (a fresh password, so a
/// test that finds it in a log or an error knows where it came from).
fn start_maildev(paths: &Paths) -> anyhow::Result<MailDev> {
    let smtp_port = free_port()?;
    let web_port = loop {
        let port = free_port()?;
        if port != smtp_port {
            break port;
        }
    };
    MailDev::start(
        MailDevOptions {
            smtp_port,
            web_port,
            mail_dir: &paths.inbox,
            login: Some((
                "testkit".to_owned(),
                format!("smtp-{}", Uuid::new_v4().simple()),
            )),
        },
        &paths.logs.join("maildev.log"),
    )
}

/// The two accounts the Postman collection is given, their addresses already confirmed (a
/// Postman run cannot read email): `email` signs in and changes its password and address,
/// `delete_email` is deleted by the collection's last requests.
struct PostmanAccounts {
    name: &'static str,
    email: String,
    delete_email: String,
    password: String,
}

impl PostmanAccounts {
    /// Signs both up over HTTP and confirms each with the link of its confirmation email, read
    /// from the stack's outbox as its owner would read it.
    fn confirmed_on(stack: &Stack) -> anyhow::Result<PostmanAccounts> {
        let run = Uuid::new_v4().simple().to_string();
        let accounts = PostmanAccounts {
            name: "Newman Tester",
            email: format!("newman-confirmed-{run}@example.com"),
            delete_email: format!("newman-deleted-{run}@example.com"),
            password: format!("postman passphrase {}", Uuid::new_v4().simple()),
        };
        let agent = crate::http::agent();
        let base_url = stack.base_url();
        let post = |path: &str, body: Value| crate::http::post_json(&agent, &base_url, path, body);
        let database = stack.database().connection_string();
        for email in [&accounts.email, &accounts.delete_email] {
            let (status, body) = post(
                "/api/signup",
                json!({"name": accounts.name, "email": email, "password": accounts.password}),
            )?;
            // The collection expects addresses to be proven (REQUIRE_EMAIL_VERIFICATION=true).
            if status != 202 {
                bail!("signing up {email} for newman answered {status}: {body}");
            }
            let token = database::block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&database, tokio_postgres::NoTls)
                        .await
                        .context("connecting to the stack's database")?;
                tokio::spawn(connection);
                // Whatever VERIFY_URL the stack has, the token follows this in the link.
                testkit::outbox::link_token(&client, email, "/verify-email#").await
            })?;
            let (status, body) = post("/api/verify-email", json!({ "token": token }))?;
            if status != 200 {
                bail!("confirming {email} for newman answered {status}: {body}");
            }
        }
        Ok(accounts)
    }

    /// The collection's variables, as newman's `--env-var` arguments.
    fn env_vars(&self) -> Vec<String> {
        [
            ("name", self.name),
            ("email", &self.email),
            ("delete_email", &self.delete_email),
            ("password", &self.password),
        ]
        .into_iter()
        .flat_map(|(name, value)| ["--env-var".to_owned(), format!("{name}={value}")])
        .collect()
    }
}

fn destination(path: &Path) -> String {
    format!("--test-reporter-destination={}", path.display())
}

/// On a throwaway cluster, once every suite is done and the harness's own databases are
/// dropped: what is left was left by a test, and is a failed case naming it.
pub fn check_no_database_left_behind(server: &TestServer, junit: &Path, summary: &mut Summary) {
    if server.throwaway_cluster().is_some() {
        let report = junit.join("leftovers.xml");
        let started = Instant::now();
        let result = no_database_left_behind(server, &report);
        summary.record_check("no database left behind", started, result, &report);
    }
}

/// Lists the databases on the throwaway cluster; any but the system ones is a failed case
/// naming them.
fn no_database_left_behind(server: &TestServer, report: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let databases = database::block_on(database::list_databases(server.admin()))
        .context("listing the databases of the throwaway cluster")?;
    let left: Vec<&String> = databases
        .iter()
        .filter(|name| !SYSTEM_DATABASES.contains(&name.as_str()))
        .collect();
    let result = if left.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} database(s) left behind: {}",
            left.len(),
            left.iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let case = Case::from_result(
        "no database left behind",
        started.elapsed().as_secs_f64(),
        &result,
    );
    junit::write(report, "harness", &[case])
}
