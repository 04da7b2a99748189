//! The project's benchmark (`make bench`), a measuring tool rather than a test: nothing here
//! asserts a speed.
//!
//! - `bench run [--quick]`: every endpoint's handler over a real PostgreSQL, called in process
//!   through the same router and `respond` as in Lambda, against the floor (a `SELECT 1` round trip plus a
//!   token verification), with the statements each request runs as PostgreSQL counts them and
//!   Argon2's cost alone; written to `target/bench/handlers.json`.
//! - `bench report`: prints the table (with the release binaries' and the local stack's numbers
//!   when their scripts wrote them), and writes `target/bench/report.json` and `latency.svg`.
//!
//! Modules: [`run`] (the harness, over `testkit`'s scratch database, configuration and
//! requests), [`statements`] (counting via `pg_stat_statements`), [`stats`] (percentiles), [`results`] (the
//! JSON written by `run`), [`report`] (table and chart), [`budgets`] (the budgets).
#![forbid(unsafe_code)]

mod budgets;
mod report;
mod results;
mod run;
mod statements;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// `target/bench/` of the workspace, wherever the command runs from (and whatever
/// `CARGO_TARGET_DIR` says: the other bench scripts write here too).
fn output_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .unwrap_or(manifest_dir)
        .join("target/bench")
}

const USAGE: &str = "usage: bench run [--quick] | bench report";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["run"] => run(false),
        ["run", "--quick"] => run(true),
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
    let dir = output_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("handlers.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
    println!(
        "wrote {} ({} endpoints; `bench report` prints the table)",
        path.display(),
        result.endpoints.len()
    );
    Ok(())
}
