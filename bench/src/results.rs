//! What each step measures, as written under `target/bench/` and read by `bench report`:
//! `handlers.json` (`bench run`), `binaries.json` (`bench binaries`), `load.json` (`bench load`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// One run of the in-process benchmark.
#[derive(Debug, Serialize, Deserialize)]
pub struct HandlerRun {
    pub machine: Machine,
    /// One `SELECT 1` on the app's pool plus one access-token verification: what any
    /// authenticated request costs at the least.
    pub floor: Summary,
    /// Statements per floor iteration as PostgreSQL counted them: one, if the counting is right.
    #[serde(default)]
    pub floor_statements: Option<f64>,
    /// Argon2id at the parameters the API uses, hashing and verifying one password.
    pub argon2_hash: Summary,
    pub argon2_verify: Summary,
    pub endpoints: Vec<EndpointRun>,
    /// Why statements per request are missing, when they are.
    pub statements_unavailable: Option<String>,
}

/// Where the numbers come from.
#[derive(Debug, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub postgres: String,
    /// The database pool's size, as in production (one request at a time per instance).
    pub pool_size: usize,
}

/// One endpoint's handler, called through the same router and `respond` as in Lambda.
#[derive(Debug, Serialize, Deserialize)]
pub struct EndpointRun {
    /// The function's name (`dashboard`, `forgot-password`, ...).
    pub endpoint: String,
    pub method: String,
    pub path: String,
    #[serde(flatten)]
    pub summary: Summary,
    /// The median as a multiple of the floor's median.
    pub floor_ratio: f64,
    /// Statements the server executed per request, in steady state (after the warm-up).
    pub statements_per_request: Option<f64>,
}

/// The release binaries, as written to `binaries.json` by `bench binaries`.
#[derive(Debug, Serialize, Deserialize)]
pub struct BinariesRun {
    /// Every function under `functions/`, in name order.
    pub functions: Vec<FunctionBinary>,
    /// The highest of the sign-in processes' peaks.
    pub signin_peak_rss_kib: u64,
    /// Each sign-in process's peak RSS (`VmHWM`), one per cold start, read after seven sign-ins.
    pub signin_peak_rss_runs_kib: Vec<u64>,
    /// `<cpu>, <n> cores, <kernel> <architecture>`.
    pub machine: String,
}

/// One function's release binary: its size, and its cold and warm times when it was started.
#[derive(Debug, Serialize, Deserialize)]
pub struct FunctionBinary {
    pub name: String,
    /// After `strip --strip-all` (the release profile strips symbols already).
    pub stripped_bytes: u64,
    /// A deflated zip holding it as `bootstrap`, as the Lambda `provided.al2023` runtime takes it.
    pub zipped_bytes: u64,
    /// Process start to the first invocation's response, database connection included; `None`
    /// for a function that is not started (`migrate`).
    pub cold_start_ms_median: Option<f64>,
    pub cold_start_runs: Vec<f64>,
    /// The same request again on the warm process.
    pub warm_ms_median: Option<f64>,
    /// The highest peak RSS (`VmHWM`) of its processes, after their two requests, in KiB (of
    /// both runs: the production-shaped one holds TLS and the SDK too).
    pub peak_rss_kib: Option<u64>,
    /// The production-shaped run (`binaries/production.rs`: TLS verify-full to the database,
    /// secrets from Secrets Manager, the template's environment), medians in milliseconds: the
    /// cold start, the same request warm, then the parts of the cold start the function logged:
    /// its configuration (secrets read), its state, its first database connection and its first
    /// request. `None` when not measured (or, for the parts, not logged).
    pub prod_cold_ms: Option<f64>,
    pub prod_warm_ms: Option<f64>,
    pub prod_config_ms: Option<f64>,
    pub prod_state_ms: Option<f64>,
    pub prod_connect_ms: Option<f64>,
    pub prod_request_ms: Option<f64>,
}

/// Load through the local stack, as written to `load.json` by `bench load`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoadRun {
    pub runs: Vec<EndpointLoad>,
    /// `<cpu>, <n> cores, <kernel> <architecture>`.
    pub machine: String,
    /// The load generator (`wrk`).
    pub generator: String,
    /// Instances per function the watch server may run.
    pub instances_per_function: u32,
}

/// One measured wrk run: an endpoint at one concurrency.
#[derive(Debug, Serialize, Deserialize)]
pub struct EndpointLoad {
    /// Method and path, `GET /api/dashboard`.
    pub endpoint: String,
    /// Connections, each with one request in flight.
    pub concurrency: u32,
    /// The run's length as asked for (`BENCH_DURATION`).
    pub duration_s: u64,
    /// Requests per second over the run's measured length.
    pub rps: f64,
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
    /// Non-2xx answers plus connection errors.
    pub errors: u64,
    pub non_2xx: u64,
    pub server_errors: u64,
    /// Connect, read, write and timeout errors.
    pub connection_errors: u64,
    /// Answers per HTTP status.
    pub status_counts: BTreeMap<String, u64>,
}

/// `value` rounded to `decimals` places, as the JSON files carry their times.
pub fn rounded(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Writes `value` as pretty JSON to `dir/name`, creating `dir`; returns the file's path.
pub fn write(dir: &Path, name: &str, value: &impl Serialize) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::budgets;
    use crate::report::json_table;
    use crate::stats::Summary;

    fn handlers() -> HandlerRun {
        let summary = Summary {
            iterations: 1,
            median_ms: 1.0,
            p99_ms: 1.0,
        };
        HandlerRun {
            machine: Machine {
                cpu: "cpu".to_owned(),
                cores: 2,
                postgres: "15".to_owned(),
                pool_size: 1,
            },
            floor: summary,
            floor_statements: Some(1.0),
            argon2_hash: summary,
            argon2_verify: summary,
            endpoints: Vec::new(),
            statements_unavailable: None,
        }
    }

    fn function(
        name: &str,
        stripped_bytes: u64,
        cold: Option<f64>,
        warm: Option<f64>,
    ) -> FunctionBinary {
        FunctionBinary {
            name: name.to_owned(),
            stripped_bytes,
            zipped_bytes: stripped_bytes / 2,
            cold_start_ms_median: cold,
            cold_start_runs: cold.into_iter().collect(),
            warm_ms_median: warm,
            // 40 MiB wherever it was started: a third of 128 MB, 2% of 1,769 MB.
            peak_rss_kib: cold.map(|_| 40 * 1024),
            prod_cold_ms: cold.map(|ms| ms + 10.0),
            prod_warm_ms: warm,
            prod_config_ms: cold.map(|_| 4.0),
            prod_state_ms: cold.map(|_| 0.5),
            prod_connect_ms: cold.map(|_| 5.0),
            prod_request_ms: warm,
        }
    }

    fn binaries() -> BinariesRun {
        BinariesRun {
            functions: vec![
                function("dashboard", 4_000_000, Some(12.5), Some(0.5)),
                function("migrate", 5_500_000, None, None),
                function("signin", 5_000_000, Some(60.0), Some(40.0)),
            ],
            signin_peak_rss_kib: 30_720,
            signin_peak_rss_runs_kib: vec![30_000, 30_720],
            machine: "cpu, 2 cores, Linux x86_64".to_owned(),
        }
    }

    fn load() -> LoadRun {
        LoadRun {
            runs: vec![EndpointLoad {
                endpoint: "POST /api/refresh".to_owned(),
                concurrency: 16,
                duration_s: 10,
                rps: 900.5,
                requests: 9005,
                p50_ms: 15.0,
                p99_ms: 40.0,
                mean_ms: 16.0,
                max_ms: 80.0,
                errors: 3,
                non_2xx: 1,
                server_errors: 1,
                connection_errors: 2,
                status_counts: BTreeMap::from([("200".to_owned(), 9004), ("502".to_owned(), 1)]),
            }],
            machine: "cpu, 2 cores, Linux x86_64".to_owned(),
            generator: "wrk".to_owned(),
            instances_per_function: 16,
        }
    }

    fn measured<'a>(verdicts: &'a [budgets::Verdict], budget: &str) -> &'a str {
        &verdicts
            .iter()
            .find(|v| v.budget.starts_with(budget))
            .unwrap_or_else(|| panic!("a verdict on {budget}"))
            .measured
    }

    #[test]
    fn the_report_judges_the_fields_the_binaries_and_load_steps_write() {
        let binaries = serde_json::to_value(binaries()).unwrap();
        let load = serde_json::to_value(load()).unwrap();
        let verdicts = budgets::judge(&handlers(), Some(&binaries), Some(&load));

        assert_eq!(
            measured(&verdicts, "largest stripped binary"),
            "5.50 MB (migrate)"
        );
        assert_eq!(
            measured(&verdicts, "median cold start, functions without Argon2"),
            "12.5 ms (dashboard)",
            "a function without times (migrate) is left out"
        );
        assert_eq!(
            measured(&verdicts, "median cold start, functions with Argon2"),
            "60.0 ms (signin)"
        );
        assert_eq!(measured(&verdicts, "start-up"), "20.0 ms (signin)");
        assert_eq!(
            measured(&verdicts, "production-shaped cold start"),
            "30.0 ms (signin)",
            "Argon2's function judged without its request (70 - 40), the others whole (22.5)"
        );
        assert_eq!(measured(&verdicts, "sign-in peak RSS"), "30.0 MiB");
        assert_eq!(
            measured(&verdicts, "peak RSS / MemorySize"),
            "33% (dashboard: 40.0 MiB of 128 MB)",
            "against template.yaml's sizes: signin's 1,769 MB leaves it the most room"
        );
        assert_eq!(
            measured(&verdicts, "5xx and connection errors"),
            "3",
            "server and connection errors, not the 4xx"
        );
    }

    #[test]
    fn the_files_keep_their_field_names_and_order() {
        let binaries = serde_json::to_value(binaries()).unwrap();
        let keys = |value: &Value| {
            value
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(&binaries),
            [
                "functions",
                "signin_peak_rss_kib",
                "signin_peak_rss_runs_kib",
                "machine"
            ]
        );
        assert_eq!(
            keys(&binaries["functions"][0]),
            [
                "name",
                "stripped_bytes",
                "zipped_bytes",
                "cold_start_ms_median",
                "cold_start_runs",
                "warm_ms_median",
                "peak_rss_kib",
                "prod_cold_ms",
                "prod_warm_ms",
                "prod_config_ms",
                "prod_state_ms",
                "prod_connect_ms",
                "prod_request_ms"
            ]
        );
        assert_eq!(
            binaries["functions"][1]["cold_start_ms_median"],
            Value::Null,
            "not started"
        );
        let load = serde_json::to_value(load()).unwrap();
        assert_eq!(
            keys(&load),
            ["runs", "machine", "generator", "instances_per_function"]
        );
        assert_eq!(
            keys(&load["runs"][0]),
            [
                "endpoint",
                "concurrency",
                "duration_s",
                "rps",
                "requests",
                "p50_ms",
                "p99_ms",
                "mean_ms",
                "max_ms",
                "errors",
                "non_2xx",
                "server_errors",
                "connection_errors",
                "status_counts"
            ]
        );
        // The report prints each function as a row of the binaries table.
        let table = json_table("Release binaries", &binaries);
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().next() == Some("signin")),
            "{table}"
        );
    }

    #[test]
    fn the_files_read_back_as_written() {
        let written = serde_json::to_string(&binaries()).unwrap();
        let read: BinariesRun = serde_json::from_str(&written).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), written);
        let written = serde_json::to_string(&load()).unwrap();
        let read: LoadRun = serde_json::from_str(&written).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), written);
    }

    #[test]
    fn times_are_rounded_to_the_places_asked() {
        assert_eq!(rounded(12.3456, 2), 12.35);
        assert_eq!(rounded(1199.96, 1), 1200.0);
    }
}
