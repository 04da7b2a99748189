//! `testkit stack [--release] [--concurrency N] [--runtime-api-only] [--oidc-provider] -- CMD ARGS…`: runs CMD
//! against the local stack (PostgreSQL found or started as `make test` does, a migrated scratch
//! database, the functions served by `cargo lambda watch`), then tears it all down, database
//! dropped. CMD's environment gets `BASE_URL`, `STACK_PORT`, `TEST_DATABASE_URL` and the
//! functions' own (`DATABASE_URL`, `JWT_PRIVATE_KEY`, `RESET_URL`, the raised budgets).

use std::process::{ExitCode, ExitStatus};

use anyhow::{Context, bail};
use testkit::database::TestServer;
use testkit::stack::{Stack, StackOptions};

use crate::workspace::{Workspace, handle_signals, run_foreground};

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let (options, command) = parse(args)?;
    handle_signals()?;
    let workspace = Workspace::locate()?;
    let server = TestServer::find_or_start()?;
    println!("==> using {}", server.describe());
    let status = with_stack(&workspace, &server, &options, &command, &[])?;
    drop(server);
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Runs `command` (program and arguments) against a stack served with `options`.
pub fn with_stack(
    workspace: &Workspace,
    server: &TestServer,
    options: &StackOptions,
    command: &[String],
    extra: &[(&str, &str)],
) -> anyhow::Result<ExitStatus> {
    let (program, args) = command.split_first().context("no command to run")?;
    let log = workspace.artifacts().join("logs/stack.log");
    println!(
        "==> serving the {} with cargo lambda watch{} (log: {})",
        if options.release {
            "release build"
        } else {
            "functions"
        },
        if options.runtime_api_only {
            " (Runtime API only)"
        } else {
            ""
        },
        log.display()
    );
    let stack = Stack::start(&workspace.root, server.admin(), options, &log)?;
    println!("==> the stack listens on {}", stack.base_url());
    let status = run_foreground(
        workspace
            .command(program)
            .args(args)
            .envs(stack.environment().iter().map(|(k, v)| (k, v)))
            .env("BASE_URL", stack.base_url())
            .env("STACK_PORT", stack.port().to_string())
            .env("TEST_DATABASE_URL", server.admin_url())
            .envs(extra.iter().copied()),
    )?;
    drop(stack);
    Ok(status)
}

fn parse(args: &[String]) -> anyhow::Result<(StackOptions, Vec<String>)> {
    let mut options = StackOptions::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--release" => options.release = true,
            "--runtime-api-only" => options.runtime_api_only = true,
            "--oidc-provider" => options.oidc_provider = true,
            "--concurrency" => {
                let value = args.next().context("--concurrency needs a number")?;
                options.concurrency = Some(
                    value
                        .parse()
                        .with_context(|| format!("--concurrency {value:?}"))?,
                );
            }
            "--" => {
                let command: Vec<String> = args.cloned().collect();
                if command.is_empty() {
                    bail!("no command after --");
                }
                return Ok((options, command));
            }
            other => bail!("testkit stack: unknown option {other:?}\n{}", crate::USAGE),
        }
    }
    bail!(
        "testkit stack: no command (… -- CMD ARGS…)\n{}",
        crate::USAGE
    )
}
