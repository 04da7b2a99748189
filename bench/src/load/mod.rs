//! `bench load`: wrk against the release build served by `cargo lambda watch`, at concurrency 1
//! and 16, on `GET /api/dashboard`, `POST /api/signin` and `POST /api/refresh`, each run after a
//! warm-up; written to `target/bench/load.json`.
//!
//! Requests carry the right password (no lockout), the per-client budgets are raised by the stack
//! (every request comes from 127.0.0.1), and each refresh connection presents the token the
//! previous answer handed it, as a client does: a refresh token is single-use, so a fixed token
//! cannot be replayed, and no setting is loosened for the run. Runs inside
//! `testkit stack --release --concurrency $BENCH_INSTANCES` (`make bench` starts it so), which
//! sets `BASE_URL`. Only 127.0.0.1 is contacted.
//!
//! Modules: [`setup`] (accounts and sessions over HTTP), [`wrk`] (one run and its numbers).

mod setup;
mod wrk;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;
use auth::Endpoint;
use testkit::process::interrupted;
use testkit::workspace::Workspace;

use self::setup::Client;
use self::wrk::{Feed, Wrk};
use crate::results::{self, LoadRun};
use crate::settings::LoadSettings;
use crate::{accounts, machine};

/// The endpoints under load, in the order run.
const ENDPOINTS: [Endpoint; 3] = [Endpoint::Dashboard, Endpoint::Signin, Endpoint::Refresh];
/// Connections, each with one request in flight: one client, then as many as instances.
const CONCURRENCIES: [u32; 2] = [1, 16];

/// Loads the stack, writes `load.json` in `out_dir` and prints one line per run.
pub fn run(out_dir: &Path) -> anyhow::Result<()> {
    let settings = LoadSettings::from_env()?;
    let workspace = Workspace::locate()?;
    let scratch = tempfile::Builder::new()
        .prefix("jwt-auth-bench-load.")
        .tempdir()?;
    let client = Client::new(&settings.base_url);
    let email = accounts::new_email();
    client.sign_up(&email)?;
    let access_token = client.sign_in(&email)?.access_token;
    // Every function under load answers once before any run (sign-in has, above): the watch
    // server starts a function's first instance with `cargo run`, which takes seconds on a busy
    // machine, and that start belongs to `bench binaries`, not to a warm-up of a few seconds.
    client.dashboard(&access_token)?;
    client.refresh(&client.sign_in(&email)?.refresh_token)?;
    let wrk = Wrk {
        script: workspace.root.join("local/bench-load.lua"),
        base_url: settings.base_url.clone(),
    };

    let mut runs = Vec::new();
    for endpoint in ENDPOINTS {
        for concurrency in CONCURRENCIES {
            if interrupted() {
                bail!("interrupted");
            }
            let (warm_up_feed, feed) = match endpoint {
                Endpoint::Dashboard => (
                    Feed::Bearer(access_token.clone()),
                    Feed::Bearer(access_token.clone()),
                ),
                Endpoint::Signin => {
                    let bodies = scratch.path().join("accounts");
                    client.accounts_file(&bodies, concurrency)?;
                    (Feed::Bodies(bodies.clone()), Feed::Bodies(bodies))
                }
                _ => {
                    // One session per chain: the warm-up's chains are spent when it ends.
                    let warm_up = scratch.path().join("warm-up-chains");
                    let measured = scratch.path().join("chains");
                    client.refresh_chains_file(&warm_up, &email, concurrency)?;
                    client.refresh_chains_file(&measured, &email, concurrency)?;
                    (Feed::RefreshChains(warm_up), Feed::RefreshChains(measured))
                }
            };
            println!(
                "==> {} {} at concurrency {concurrency}: {}s warm-up, then {}s measured",
                endpoint.method_name().unwrap_or("GET"),
                endpoint.path(),
                settings.warmup_s,
                settings.duration_s
            );
            let result_file = scratch.path().join("result.json");
            wrk.run(
                endpoint,
                concurrency,
                settings.warmup_s,
                &warm_up_feed,
                &result_file,
            )?;
            let result = wrk.run(
                endpoint,
                concurrency,
                settings.duration_s,
                &feed,
                &result_file,
            )?;
            if result.requests == 0 {
                bail!(
                    "no request was answered in the {}s run (the watch server's log: {})",
                    settings.duration_s,
                    workspace.artifacts().join("logs/stack.log").display()
                );
            }
            runs.push(result.record(endpoint, concurrency, settings.duration_s));
        }
    }

    let run = LoadRun {
        runs,
        machine: machine::describe(),
        generator: "wrk".to_owned(),
        instances_per_function: settings.instances,
    };
    let path = results::write(out_dir, "load.json", &run)?;
    println!("==> wrote {}", path.display());
    print!("{}", table(&run));
    Ok(())
}

/// One line per run.
fn table(run: &LoadRun) -> String {
    let mut out = String::new();
    for r in &run.runs {
        let statuses: Vec<String> = r
            .status_counts
            .iter()
            .map(|(status, n)| format!("{status}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<20} c={:<3} {:>8.1} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {}  {{{}}}",
            r.endpoint,
            r.concurrency,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            statuses.join(", ")
        );
    }
    out
}
