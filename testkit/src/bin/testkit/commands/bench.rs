//! `make bench`: the benchmark (a measurement, not a test), on the PostgreSQL `make test` would
//! use (a throwaway cluster loads pg_stat_statements, which counts the statements per request):
//!   1. every handler in process against the floor (`bench run ARGS…`; `--quick` for a tenth);
//!   2. size, cold start and sign-in memory of the release binaries (`bench binaries`, against
//!      the Lambda Runtime API of `cargo lambda watch --only-lambda-apis`), on loopback and
//!      production-shaped: on a cluster of its own served with TLS, and moto for the secrets;
//!   3. load through the release stack with wrk (`bench load`);
//!   4. the report (`bench report`): the table with every budget judged, target/bench/report.json
//!      and target/bench/latency.svg.
//!
//! `BENCH_SKIP="binaries load"` leaves out steps 2 and/or 3 (the report then says "not
//! measured"), and `run` step 1 (the report then takes the last run's handlers.json);
//! `BENCH_INSTANCES` (16) is the watch server's instances per function for step 3.

use std::fs;
use std::process::ExitCode;

use anyhow::{Context, bail};
use testkit::database::TestServer;
use testkit::process::interrupted;
use testkit::stack::{Moto, StackOptions};

use super::stack::with_stack;
use crate::workspace::{Workspace, handle_signals, run_checked};

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    handle_signals()?;
    let workspace = Workspace::locate()?;
    let server = TestServer::find_or_start()?;
    println!("==> using {}", server.describe());
    let out = workspace.root.join("target/bench");
    fs::create_dir_all(&out)?;

    println!("==> building the benchmark (release)");
    run_checked(
        workspace
            .command("cargo")
            .args(["build", "--quiet", "--release", "-p", "bench"]),
        "building the benchmark",
    )?;
    let skip = std::env::var("BENCH_SKIP").unwrap_or_default();
    let skipped = |step: &str| skip.split_whitespace().any(|named| named == step);
    if skipped("run") {
        // The report then judges the handlers.json of the last run.
        println!("==> handler cost in process: skipped (BENCH_SKIP)");
    } else {
        println!("==> handler cost in process");
        run_checked(
            workspace
                .command("cargo")
                .args(["run", "--quiet", "--release", "-p", "bench", "--", "run"])
                .args(args)
                .env("TEST_DATABASE_URL", server.admin_url()),
            "bench run",
        )?;
    }

    let instances: u32 = match std::env::var("BENCH_INSTANCES") {
        Ok(value) => value
            .parse()
            .with_context(|| format!("BENCH_INSTANCES={value:?}"))?,
        Err(_) => 16,
    };
    for step in ["binaries", "load"] {
        // The report picks up whatever JSON is there: a stale file from an earlier run goes
        // first, so a report never mixes runs.
        let _ = fs::remove_file(out.join(format!("{step}.json")));
        if skipped(step) {
            println!("==> {step}: skipped (BENCH_SKIP)");
            continue;
        }
        if interrupted() {
            bail!("interrupted");
        }
        let options = match step {
            "binaries" => StackOptions {
                runtime_api_only: true,
                release: true,
                database_prefix: "bench_bin".to_owned(),
                // oauth-authorize's first request reads the provider's discovery document.
                oidc_provider: true,
                ..StackOptions::default()
            },
            _ => StackOptions {
                release: true,
                concurrency: Some(instances),
                // Quiet functions, so logging does not weigh on the measured requests.
                rust_log: Some(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned())),
                database_prefix: "bench_load".to_owned(),
                ..StackOptions::default()
            },
        };
        println!("==> bench {step}");
        // The release binary built above, run directly: a `cargo run` would build again.
        let bench = workspace.target.join("release/bench");
        let command = [bench.to_string_lossy().into_owned(), step.to_owned()];
        let status = if step == "binaries" {
            // The production-shaped cold starts connect with TLS verify-full, to a cluster of
            // this step's own (whose certificate a throwaway CA signed), and read their secrets
            // from moto's Secrets Manager over HTTPS: BENCH_DB_ROOTCERT is that CA for both.
            let tls_server = TestServer::start_with_tls()?;
            let cluster = tls_server
                .throwaway_cluster()
                .context("the TLS server is a throwaway cluster")?;
            let root_certificate = cluster
                .root_certificate()
                .context("the TLS cluster has a CA")?
                .to_string_lossy()
                .into_owned();
            let (certificate, key) = cluster
                .server_certificate()
                .context("the TLS cluster has a certificate")?;
            println!("==> using {} with TLS", tls_server.describe());
            // Over HTTPS under the same CA, as Secrets Manager answers in AWS.
            let moto = Moto::start_with_tls(
                &workspace.artifacts().join("logs/bench/moto.log"),
                &certificate,
                &key,
            )?;
            println!(
                "==> started moto (Secrets Manager) on {}",
                moto.endpoint_url()
            );
            with_stack(
                &workspace,
                &tls_server,
                &options,
                &command,
                &[
                    ("BENCH_DB_ROOTCERT", root_certificate.as_str()),
                    ("MOTO_ENDPOINT_URL", moto.endpoint_url()),
                ],
            )?
        } else {
            with_stack(&workspace, &server, &options, &command, &[])?
        };
        if !status.success() {
            bail!("bench {step} failed ({status})");
        }
    }

    println!();
    run_checked(
        workspace.command("cargo").args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "bench",
            "--",
            "report",
        ]),
        "bench report",
    )?;
    drop(server);
    Ok(ExitCode::SUCCESS)
}
