//! `bench binaries`: every function's release binary, its size stripped and zipped, its cold and
//! warm start through a real Lambda Runtime API, and a sign-in process's peak memory; written to
//! `target/bench/binaries.json`.
//!
//! Runs inside `testkit stack --release --runtime-api-only` (`make bench` starts it so), which
//! migrates a scratch database, serves `cargo lambda watch --only-lambda-apis` on `STACK_PORT`
//! and passes the functions' configuration (`DATABASE_URL`, `JWT_PRIVATE_KEY`, …) in the
//! environment; this starts the binaries itself. Builds for this machine's architecture (Lambda
//! runs arm64, whose binaries are of similar size). Only 127.0.0.1 is contacted.
//!
//! The cold starts run twice: on loopback with the stack's plain configuration, then
//! production-shaped ([`production`]: TLS verify-full to the database, secrets read from moto's
//! Secrets Manager, each function's environment from `template.yaml`) when `make bench` provides
//! the TLS cluster's CA and moto.
//!
//! Modules: [`size`] (strip and zip), [`events`] (what a function is invoked with and answers),
//! [`instance`] (one function process on the Runtime API), [`cold_starts`] (each function's first
//! request, in order), [`sessions`] (those the sign-ins stock), [`production`] (the
//! production-shaped environments).

mod cold_starts;
mod events;
mod fixtures;
mod instance;
mod production;
mod sessions;
mod size;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use testkit::workspace::Workspace;

use self::cold_starts::{ColdStarts, Init};
use self::instance::RuntimeApi;
use self::production::Production;
use self::size::Sizes;
use crate::machine;
use crate::results::{self, BinariesRun, FunctionBinary, rounded};
use crate::settings::BinariesSettings;
use crate::stats::median;

/// Measures, writes `binaries.json` in `out_dir` and prints the table.
pub fn run(out_dir: &Path) -> anyhow::Result<()> {
    let settings = BinariesSettings::from_env()?;
    let workspace = Workspace::locate()?;
    let bin_dir = match &settings.bin_dir {
        Some(dir) => {
            println!(
                "==> measuring the binaries in {} (BENCH_BIN_DIR; nothing built)",
                dir.display()
            );
            dir.clone()
        }
        None => build(&workspace)?,
    };

    println!("==> sizes");
    let names = function_names(&workspace.root.join("functions"))?;
    let scratch = tempfile::Builder::new()
        .prefix("jwt-auth-bench-binaries.")
        .tempdir()?;
    let mut sizes = Vec::with_capacity(names.len());
    for name in &names {
        let measured = size::measure(&bin_dir.join(name), scratch.path())?;
        println!(
            "{name:<16} {:>10} {:>10}",
            measured.stripped_bytes, measured.zipped_bytes
        );
        sizes.push(measured);
    }

    println!(
        "==> cold starts ({} per function), against the Runtime API on 127.0.0.1:{}",
        settings.runs, settings.runtime_port
    );
    let api = RuntimeApi::new(settings.runtime_port);
    let logs = workspace.artifacts().join("logs/bench");
    let measured = cold_starts::run(&api, &bin_dir, settings.runs, &logs, None)?;
    let production = match Production::from_env()? {
        Some(production) => {
            println!(
                "==> production-shaped cold starts ({} per function): TLS verify-full, secrets \
                 from Secrets Manager (moto), template.yaml's environment",
                settings.runs
            );
            let logs = workspace.artifacts().join("logs/bench-production");
            Some(cold_starts::run(
                &api,
                &bin_dir,
                settings.runs,
                &logs,
                Some(&production),
            )?)
        }
        None => {
            println!(
                "==> production-shaped cold starts: not measured (make bench sets \
                 BENCH_DB_ROOTCERT and MOTO_ENDPOINT_URL)"
            );
            None
        }
    };

    let run = binaries_run(&names, &sizes, measured, production)?;
    let path = results::write(out_dir, "binaries.json", &run)?;
    println!("==> wrote {}", path.display());
    print!("{}", table(&run));
    Ok(())
}

/// Builds every binary of the workspace in the release profile; returns where they are.
fn build(workspace: &Workspace) -> anyhow::Result<PathBuf> {
    println!("==> building the release binaries");
    let status = workspace
        .command("cargo")
        .args(["build", "--release", "--workspace", "--bins"])
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "cargo build --release failed ({status})");
    Ok(workspace.target.join("release"))
}

/// The functions: one directory (and binary) each under `functions/`, in name order.
fn function_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The sizes and times together, times in milliseconds to two decimals; a function that was not
/// started (`migrate`) has no times.
fn binaries_run(
    names: &[String],
    sizes: &[Sizes],
    mut measured: ColdStarts,
    mut production: Option<ColdStarts>,
) -> anyhow::Result<BinariesRun> {
    let take = |measured: &mut ColdStarts, name: &str| {
        measured
            .functions
            .iter()
            .position(|(function, _)| function == name)
            .map(|i| measured.functions.swap_remove(i).1)
            .unwrap_or_default()
    };
    let functions = names
        .iter()
        .zip(sizes)
        .map(|(name, size)| {
            let timings = take(&mut measured, name);
            let prod = production
                .as_mut()
                .map(|production| take(production, name))
                .unwrap_or_default();
            let part = |part: fn(&Init) -> Option<f64>| {
                let values: Vec<f64> = prod.init.iter().filter_map(part).collect();
                median(&values).map(|ms| rounded(ms, 2))
            };
            FunctionBinary {
                name: name.clone(),
                stripped_bytes: size.stripped_bytes,
                zipped_bytes: size.zipped_bytes,
                cold_start_ms_median: median(&timings.cold_ms).map(|ms| rounded(ms, 2)),
                cold_start_runs: timings.cold_ms.iter().map(|&ms| rounded(ms, 2)).collect(),
                warm_ms_median: median(&timings.warm_ms).map(|ms| rounded(ms, 2)),
                peak_rss_kib: timings
                    .peak_rss_kib
                    .iter()
                    .chain(&prod.peak_rss_kib)
                    .copied()
                    .max(),
                prod_cold_ms: median(&prod.cold_ms).map(|ms| rounded(ms, 2)),
                prod_warm_ms: median(&prod.warm_ms).map(|ms| rounded(ms, 2)),
                prod_config_ms: part(|init| init.config_ms),
                prod_state_ms: part(|init| init.state_ms),
                prod_connect_ms: part(|init| init.connect_ms),
                prod_request_ms: part(|init| init.first_request_ms),
            }
        })
        .collect();
    // Every function started is one of the binaries measured.
    for started in std::iter::once(&measured).chain(&production) {
        if let Some((function, _)) = started.functions.first() {
            bail!("{function} was started but is not under functions/");
        }
    }
    let peaks = measured.signin_peak_rss_kib;
    Ok(BinariesRun {
        functions,
        signin_peak_rss_kib: peaks
            .iter()
            .copied()
            .max()
            .context("no sign-in was measured")?,
        signin_peak_rss_runs_kib: peaks,
        machine: machine::describe(),
    })
}

/// One line per function (loopback, then production-shaped: cold, warm, and the cold start's
/// configuration, state, connection and first request), then the sign-in peak.
fn table(run: &BinariesRun) -> String {
    let mut out = format!(
        "{:<24} {:>9} {:>9} {:>8} {:>8} {:>9} | {:>8} {:>8} {:>7} {:>7} {:>7} {:>7}\n",
        "function",
        "stripped",
        "zipped",
        "cold ms",
        "warm ms",
        "peak KiB",
        "tls cold",
        "tls warm",
        "config",
        "state",
        "connect",
        "1st req"
    );
    let ms = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    for f in &run.functions {
        let _ = writeln!(
            out,
            "{:<24} {:>9} {:>9} {:>8} {:>8} {:>9} | {:>8} {:>8} {:>7} {:>7} {:>7} {:>7}",
            f.name,
            f.stripped_bytes,
            f.zipped_bytes,
            ms(f.cold_start_ms_median),
            ms(f.warm_ms_median),
            f.peak_rss_kib
                .map_or_else(|| "-".to_owned(), |kib| kib.to_string()),
            ms(f.prod_cold_ms),
            ms(f.prod_warm_ms),
            ms(f.prod_config_ms),
            ms(f.prod_state_ms),
            ms(f.prod_connect_ms),
            ms(f.prod_request_ms),
        );
    }
    let _ = writeln!(out, "sign-in peak RSS: {} KiB", run.signin_peak_rss_kib);
    out
}

#[cfg(test)]
mod tests {
    use super::cold_starts::Timings;
    use super::*;

    fn sizes(n: u64) -> Sizes {
        Sizes {
            stripped_bytes: n,
            zipped_bytes: n / 2,
        }
    }

    #[test]
    fn functions_not_started_keep_their_sizes_and_have_no_times() {
        let measured = ColdStarts {
            functions: vec![(
                "signin".to_owned(),
                Timings {
                    cold_ms: vec![50.004, 40.0, 45.126],
                    warm_ms: vec![30.0, 31.0, 29.0],
                    peak_rss_kib: vec![19_000, 19_500, 18_000],
                    init: Vec::new(),
                },
            )],
            signin_peak_rss_kib: vec![20_000, 21_000, 20_500],
        };
        let logged = |config_ms| Init {
            config_ms: Some(config_ms),
            state_ms: Some(4.0),
            connect_ms: Some(5.0),
            first_request_ms: None,
        };
        let production = ColdStarts {
            functions: vec![(
                "signin".to_owned(),
                Timings {
                    cold_ms: vec![70.0, 80.0, 75.0],
                    warm_ms: vec![31.0, 32.0, 33.0],
                    peak_rss_kib: vec![22_000, 21_000, 21_500],
                    init: vec![logged(3.0), logged(2.0), logged(9.0)],
                },
            )],
            signin_peak_rss_kib: vec![22_000],
        };
        let names = ["migrate".to_owned(), "signin".to_owned()];
        let run = binaries_run(
            &names,
            &[sizes(4_000_000), sizes(5_000_000)],
            measured,
            Some(production),
        )
        .unwrap();

        let migrate = &run.functions[0];
        assert_eq!(
            (
                migrate.cold_start_ms_median,
                migrate.cold_start_runs.len(),
                migrate.warm_ms_median
            ),
            (None, 0, None)
        );
        assert_eq!(migrate.peak_rss_kib, None, "not started");
        assert_eq!((migrate.prod_cold_ms, migrate.prod_config_ms), (None, None));
        let signin = &run.functions[1];
        assert_eq!(signin.stripped_bytes, 5_000_000);
        assert_eq!(
            signin.cold_start_ms_median,
            Some(45.13),
            "median, two decimals"
        );
        assert_eq!(signin.cold_start_runs, [50.0, 40.0, 45.13]);
        assert_eq!(signin.warm_ms_median, Some(30.0));
        assert_eq!(
            signin.peak_rss_kib,
            Some(22_000),
            "the highest peak of both runs"
        );
        assert_eq!(
            (signin.prod_cold_ms, signin.prod_warm_ms),
            (Some(75.0), Some(32.0))
        );
        assert_eq!(
            (
                signin.prod_config_ms,
                signin.prod_state_ms,
                signin.prod_connect_ms,
                signin.prod_request_ms
            ),
            (Some(3.0), Some(4.0), Some(5.0), None),
            "the medians of what was logged; nothing logged is none"
        );
        assert_eq!(run.signin_peak_rss_kib, 21_000, "the highest peak");
    }

    #[test]
    fn a_function_started_without_a_directory_is_an_error() {
        let measured = ColdStarts {
            functions: vec![("ghost".to_owned(), Timings::default())],
            signin_peak_rss_kib: vec![1],
        };
        assert!(binaries_run(&[], &[], measured, None).is_err());
        let production = ColdStarts {
            functions: vec![("ghost".to_owned(), Timings::default())],
            signin_peak_rss_kib: vec![1],
        };
        assert!(binaries_run(&[], &[], ColdStarts::default(), Some(production)).is_err());
    }

    #[test]
    fn the_function_directories_are_found_in_order() {
        let names =
            function_names(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions")).unwrap();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        for endpoint in auth::Endpoint::ALL {
            assert!(
                names.iter().any(|n| n == endpoint.function()),
                "{} has a directory",
                endpoint.function()
            );
        }
        assert!(names.iter().any(|n| n == "janitor"));
    }
}
