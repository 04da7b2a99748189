//! The project's benchmark (`make bench`), a measuring tool rather than a test: nothing here
//! asserts a speed.
//!
//! - `bench run [--quick]`: every endpoint's handler over a real PostgreSQL, called in process
//!   through the same router and `respond` as in Lambda, against the floor (a `SELECT 1` round trip plus a
//!   token verification), with the statements each request runs as PostgreSQL counts them and
//!   Argon2's cost alone; written to `target/bench/handlers.json`. `bench run --reads N`: the
//!   dashboard and the floor alone, N calls each, printed (a loop to profile).
//! - `bench binaries`: every function's release binary, stripped and zipped, its cold and warm
//!   start through the Lambda Runtime API of `cargo lambda watch --only-lambda-apis`, and a
//!   sign-in process's peak memory; written to `target/bench/binaries.json`. Inside
//!   `testkit stack --release --runtime-api-only`.
//! - `bench load`: wrk against the release stack at concurrency 1 and 16; written to
//!   `target/bench/load.json`. Inside `testkit stack --release --concurrency N`.
//! - `bench report`: prints the table (with the release binaries' and the local stack's numbers
//!   when those steps wrote them), and writes `target/bench/report.json` and `latency.svg`.
//!
//! Modules: [`run`] (the harness, over `testkit`'s scratch database, configuration and
//! requests), [`statements`] (counting via `pg_stat_statements`), [`stats`] (percentiles and
//! medians), [`binaries`] and [`load`] (the two steps inside the stack), [`settings`] (their
//! variables), [`accounts`] (the benchmark's accounts), [`machine`] (the machine measured on),
//! [`results`] (the JSON each step writes), [`report`] (table and chart), [`budgets`] (the
//! issue's budgets).
#![forbid(unsafe_code)]

mod accounts;
mod binaries;
mod budgets;
mod load;
mod machine;
mod report;
mod results;
mod run;
mod settings;
mod statements;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `target/bench/` of the workspace, wherever the command runs from (and whatever
/// `CARGO_TARGET_DIR` says: `testkit bench` reads it there).
fn output_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .unwrap_or(manifest_dir)
        .join("target/bench")
}

const USAGE: &str =
    "usage: bench run [--quick | --reads N] | bench binaries | bench load | bench report";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["run"] => run(false),
        ["run", "--quick"] => run(true),
        ["run", "--reads", n] => match n.parse() {
            Ok(n) => reads(n),
            Err(_) => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        ["binaries"] => inside_the_stack(binaries::run),
        ["load"] => inside_the_stack(load::run),
        ["report"] => report::report(&output_dir()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One request at a time on a current-thread runtime, as a Lambda instance runs; Argon2 still
/// goes to the blocking pool, as in production.
fn run(quick: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run::run(quick))?;
    let path = results::write(&output_dir(), "handlers.json", &result)?;
    println!(
        "wrote {} ({} endpoints; `bench report` prints the table)",
        path.display(),
        result.endpoints.len()
    );
    Ok(())
}

/// The authenticated read and the floor alone (see [`run::reads`]), on the same runtime.
fn reads(measured: usize) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run::reads(measured))
}

/// Runs `step` with Ctrl-C and SIGTERM caught: the step then stops at its next check, and the
/// function processes it started are stopped on the way out rather than left running on a stack
/// that is about to go.
fn inside_the_stack(step: fn(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    testkit::process::catch_stop_signals(|_| {})?;
    step(&output_dir())
}
