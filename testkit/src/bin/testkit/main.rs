//! `testkit`: the harness behind the Makefile's verbs; the scripts in `local/` are thin entry
//! points into it (after `source local/bootstrap.sh`, which puts the tools on PATH).
//!
//! ```text
//! testkit test                 make test: every suite, then `N passed, M failed`
//! testkit check                make check: the Rust tests against PostgreSQL only
//! testkit dev                  make dev: PostgreSQL, an inbox, migrations, cargo lambda watch
//!                              (foreground), the janitor every few seconds
//! testkit down                 make down: stops make dev's PostgreSQL
//! testkit bench [ARGS…]        make bench: `bench run ARGS…`, the binaries, the load, the report
//! testkit stack [--release] [--concurrency N] [--runtime-api-only] [--oidc-provider] -- CMD ARGS…
//!                              CMD against a migrated scratch database and the watch server
//! testkit dev-path           make test's last suite alone: make dev from a copy of the checkout,
//!                              used over HTTP (its provider too), Ctrl-C, make down
//! testkit outbox-token DATABASE_URL RECIPIENT LINK_PREFIX
//!                              the token in the newest emailed link (for the browser test)
//! ```
//!
//! Modules: `commands/` (one per verb, each with `run(args)`), `summary` (suites and their JUnit
//! counts), `workspace` (paths, foreground children, signals), `dev_path` (make dev as a suite).
#![forbid(unsafe_code)]

mod commands;
mod dev_path;
mod http;
mod summary;
mod workspace;

use std::process::ExitCode;

const USAGE: &str = "usage: testkit <test | check | dev | down | bench [ARGS…] | \
                     stack [--release] [--concurrency N] [--runtime-api-only] [--oidc-provider] \
                     -- CMD ARGS… | dev-path | \
                     outbox-token DATABASE_URL RECIPIENT LINK_PREFIX>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "test" => commands::test::run(rest),
        "check" => commands::check::run(rest),
        "dev" => commands::dev::run(rest),
        "down" => commands::down::run(rest),
        "bench" => commands::bench::run(rest),
        "stack" => commands::stack::run(rest),
        "outbox-token" => commands::outbox::run(rest),
        "dev-path" => run_dev_path(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("testkit: unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::FAILURE
    })
}

/// `testkit dev-path`: make dev's path alone (see [`dev_path`]), its report in
/// `target/artifacts/junit/dev.xml`; fails when a step failed.
fn run_dev_path(args: &[String]) -> anyhow::Result<ExitCode> {
    commands::no_arguments("dev-path", args)?;
    workspace::handle_signals()?;
    let workspace = workspace::Workspace::locate()?;
    let artifacts = workspace.artifacts();
    let (junit, logs) = (artifacts.join("junit"), artifacts.join("logs"));
    std::fs::create_dir_all(&junit)?;
    std::fs::create_dir_all(&logs)?;
    let report = junit.join("dev.xml");
    dev_path::run(&workspace, &report, &logs)?;
    let report = testkit::junit::read_file(&report)?;
    for failure in &report.failures {
        println!("FAILED {}: {}", failure.name, failure.message);
    }
    println!(
        "make dev's path: {} passed, {} failed",
        report.counts.passed, report.counts.failed
    );
    Ok(if report.counts.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
