//! One wrk run with `local/bench-load.lua`, and its numbers as `load.json` records them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, ensure};
use auth::Endpoint;
use serde::Deserialize;

use crate::results::{EndpointLoad, rounded};

/// What each connection sends beyond the method and path: one of the script's variables.
pub enum Feed {
    /// A fixed bearer token (`BENCH_BEARER`).
    Bearer(String),
    /// A file of JSON bodies, one a line: connection N sends line N (`BENCH_BODIES`).
    Bodies(PathBuf),
    /// A file of refresh tokens, one a line: connection N starts its chain with line N and then
    /// presents the token each answer hands back (`BENCH_REFRESH_TOKENS`).
    RefreshChains(PathBuf),
}

impl Feed {
    const VARIABLES: [&str; 4] = [
        "BENCH_BEARER",
        "BENCH_BODY",
        "BENCH_BODIES",
        "BENCH_REFRESH_TOKENS",
    ];

    fn variable(&self) -> (&'static str, &std::ffi::OsStr) {
        match self {
            Feed::Bearer(token) => ("BENCH_BEARER", token.as_ref()),
            Feed::Bodies(file) => ("BENCH_BODIES", file.as_os_str()),
            Feed::RefreshChains(file) => ("BENCH_REFRESH_TOKENS", file.as_os_str()),
        }
    }
}

/// wrk against the stack at `base_url`, driven by the script at `script`.
pub struct Wrk {
    pub script: PathBuf,
    pub base_url: String,
}

impl Wrk {
    /// Loads `endpoint` for `seconds` over `concurrency` connections, one thread each (so each
    /// connection, one request at a time, carries its own line of a feed file); the script writes
    /// the run's numbers to `result_file`, which are returned.
    pub fn run(
        &self,
        endpoint: Endpoint,
        concurrency: u32,
        seconds: u64,
        feed: &Feed,
        result_file: &Path,
    ) -> anyhow::Result<WrkResult> {
        match std::fs::remove_file(result_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let connections = concurrency.to_string();
        let mut command = testkit::process::command("wrk");
        command
            .args(["-t", &connections, "-c", &connections])
            .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
            .arg(&self.script)
            .arg(format!("{}{}", self.base_url, endpoint.path()))
            .env("BENCH_METHOD", endpoint.method_name().unwrap_or("GET"))
            .env("BENCH_RESULT_FILE", result_file)
            .stdin(Stdio::null())
            // wrk's own summary: the script's JSON has the numbers.
            .stdout(Stdio::null());
        for variable in Feed::VARIABLES {
            command.env_remove(variable);
        }
        let (name, value) = feed.variable();
        command.env(name, value);
        let status = command.status().context(
            "running wrk, the load generator (apt-get install wrk, or source local/bootstrap.sh bench)",
        )?;
        ensure!(status.success(), "wrk failed ({status})");
        let line = std::fs::read_to_string(result_file).unwrap_or_default();
        ensure!(!line.trim().is_empty(), "wrk wrote no result");
        serde_json::from_str(&line)
            .with_context(|| format!("wrk's result is not as expected: {line}"))
    }
}

/// What `local/bench-load.lua` writes for a run.
#[derive(Debug, Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub mean_us: f64,
    pub max_us: u64,
    pub errors: WrkErrors,
    /// Answers per HTTP status.
    pub status_counts: BTreeMap<String, u64>,
}

/// wrk's socket errors (its `status` count is left out: the statuses are counted by the script).
#[derive(Debug, Deserialize)]
pub struct WrkErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl WrkResult {
    /// The run as `load.json` records it: rates and times rounded, errors split by kind.
    pub fn record(&self, endpoint: Endpoint, concurrency: u32, duration_s: u64) -> EndpointLoad {
        let e = &self.errors;
        let connection_errors = e.connect + e.read + e.write + e.timeout;
        let count = |matches: fn(&str) -> bool| -> u64 {
            self.status_counts
                .iter()
                .filter(|(status, _)| matches(status))
                .map(|(_, n)| n)
                .sum()
        };
        let non_2xx = count(|status| !status.starts_with('2'));
        let ms = |us: f64| rounded(us / 1000.0, 2);
        EndpointLoad {
            endpoint: format!(
                "{} {}",
                endpoint.method_name().unwrap_or("GET"),
                endpoint.path()
            ),
            concurrency,
            duration_s,
            rps: rounded(self.requests as f64 / (self.duration_us as f64 / 1e6), 1),
            requests: self.requests,
            p50_ms: ms(self.p50_us as f64),
            p99_ms: ms(self.p99_us as f64),
            mean_ms: ms(self.mean_us),
            max_ms: ms(self.max_us as f64),
            errors: non_2xx + connection_errors,
            non_2xx,
            server_errors: count(|status| status.starts_with('5')),
            connection_errors,
            status_counts: self.status_counts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as the script's `done` writes it.
    const LINE: &str = r#"{"requests":2400,"duration_us":2000000,"p50_us":6123,"p99_us":15400,"mean_us":6789.4,"max_us":30557,"errors":{"connect":0,"read":1,"write":0,"status":7,"timeout":2},"status_counts":{"401":4,"200":2393,"503":3}}"#;

    #[test]
    fn a_run_is_recorded_with_its_errors_split_by_kind() {
        let result: WrkResult = serde_json::from_str(LINE).unwrap();
        let run = result.record(Endpoint::Refresh, 16, 2);
        assert_eq!(run.endpoint, "POST /api/refresh");
        assert_eq!((run.concurrency, run.duration_s), (16, 2));
        assert_eq!((run.rps, run.requests), (1200.0, 2400));
        assert_eq!(
            (run.p50_ms, run.p99_ms, run.mean_ms, run.max_ms),
            (6.12, 15.4, 6.79, 30.56)
        );
        assert_eq!(run.non_2xx, 7, "401s and 503s");
        assert_eq!(run.server_errors, 3, "503s");
        assert_eq!(run.connection_errors, 3, "a read error and two timeouts");
        assert_eq!(run.errors, 10);
        assert_eq!(
            run.status_counts.keys().collect::<Vec<_>>(),
            ["200", "401", "503"],
            "statuses in order"
        );
    }

    #[test]
    fn a_run_without_answers_has_no_statuses() {
        let line = r#"{"requests":0,"duration_us":1000000,"p50_us":0,"p99_us":0,"mean_us":0.0,"max_us":0,"errors":{"connect":5,"read":0,"write":0,"status":0,"timeout":0},"status_counts":{}}"#;
        let result: WrkResult = serde_json::from_str(line).unwrap();
        let run = result.record(Endpoint::Dashboard, 1, 1);
        assert_eq!(
            (run.endpoint.as_str(), run.rps),
            ("GET /api/dashboard", 0.0)
        );
        assert_eq!((run.errors, run.connection_errors, run.non_2xx), (5, 5, 0));
    }

    #[test]
    fn the_script_reads_every_feed_variable_that_is_cleared() {
        let script = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../local/bench-load.lua"),
        )
        .unwrap();
        for variable in Feed::VARIABLES
            .iter()
            .chain(&["BENCH_METHOD", "BENCH_RESULT_FILE"])
        {
            assert!(
                script.contains(&format!("os.getenv(\"{variable}\")")),
                "the script reads {variable}"
            );
        }
    }
}
