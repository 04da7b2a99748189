//! `make check`, the edit-run loop: only the Rust tests, against PostgreSQL, with no moto, no
//! MailDev, no watch stack, no browser, newman or schemathesis; then, as `make test` does, the
//! check that no test left a database behind, and the same summary.

use std::fs;
use std::process::ExitCode;

use crate::summary::Summary;
use crate::workspace::{Workspace, handle_signals};

/// The tests that need what `make check` does not start: the HTTP stack (the `e2e` binary), moto
/// (the AWS tests, and the `logs` binary, whose one test sends reset emails through SES) and
/// MailDev (the SMTP tests).
pub const NEEDS_THE_STACK: &str = "binary_id(auth::e2e) | binary_id(auth::logs) | \
     (binary_id(auth::api) & (test(/^aws::/) | test(/^smtp::/)))";

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    super::no_arguments("check", args)?;
    handle_signals()?;
    let workspace = Workspace::locate()?;
    let mut summary = Summary::default();
    let Some(server) = super::test::find_or_start_server(&mut summary) else {
        return Ok(summary.finish());
    };
    let report = workspace.target.join("nextest/default/junit.xml");
    summary.run(
        "Rust tests against PostgreSQL, nextest",
        &report,
        workspace
            .command("cargo")
            .args(["nextest", "run", "--workspace", "--no-fail-fast", "-E"])
            .arg(format!("not ({NEEDS_THE_STACK})"))
            .env("TEST_DATABASE_URL", server.admin_url()),
    );
    let junit = workspace.artifacts().join("junit");
    let _ = fs::create_dir_all(&junit);
    let _ = fs::copy(&report, junit.join("check.xml"));
    super::test::check_no_database_left_behind(&server, &junit, &mut summary);
    drop(server);
    Ok(summary.finish())
}
