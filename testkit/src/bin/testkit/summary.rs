//! The closing summary of `make test` and `make check`: one line per suite, then, as the very
//! last line, `N passed, M failed` summed over every suite's JUnit report.
//!
//! The sum is honest by construction: a suite whose report is missing counts as one failed case,
//! and so does one that exited non-zero although its report holds no failure (a crash after the
//! report, a schemathesis run below its minimum of cases). So the last line says `0 failed`
//! exactly when the run passed.

use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Instant;

use testkit::junit::{self, Counts, Report};
use testkit::process::interrupted;

use crate::workspace::run_foreground;

/// How one suite ended.
struct Outcome {
    name: String,
    seconds: f64,
    /// Why the exit status alone failed it, if it did.
    exit_failure: Option<String>,
    /// Its report, or why there is none.
    report: Result<Report, String>,
}

impl Outcome {
    /// The counts that go into the total.
    fn counts(&self) -> Counts {
        let mut counts = match &self.report {
            Ok(report) => report.counts,
            Err(_) => Counts {
                passed: 0,
                failed: 1,
                skipped: 0,
            },
        };
        if self.exit_failure.is_some() && counts.failed == 0 {
            counts.failed = 1;
        }
        counts
    }

    fn line(&self) -> String {
        let counts = self.counts();
        let verdict = if counts.failed == 0 {
            "passed"
        } else {
            "FAILED"
        };
        let mut line = format!(
            "==> {} ({:.0}s): {verdict} ({} passed, {} failed",
            self.name, self.seconds, counts.passed, counts.failed
        );
        if counts.skipped > 0 {
            line.push_str(&format!(", {} skipped", counts.skipped));
        }
        line.push(')');
        if let Err(why) = &self.report {
            line.push_str(&format!("; no count: {why}"));
        }
        if let Some(why) = &self.exit_failure {
            line.push_str(&format!("; {why}"));
        }
        // The failed cases by name, so the summary says what to look at.
        if let Ok(report) = &self.report {
            const SHOWN: usize = 10;
            for failure in report.failures.iter().take(SHOWN) {
                line.push_str(&format!("\n      failed: {}", failure.name));
                if !failure.message.is_empty() {
                    line.push_str(&format!(": {}", failure.message));
                }
            }
            if report.failures.len() > SHOWN {
                line.push_str(&format!(
                    "\n      … and {} more (see the report)",
                    report.failures.len() - SHOWN
                ));
            }
        }
        line
    }
}

/// The suites of one run, in order.
#[derive(Default)]
pub struct Summary {
    outcomes: Vec<Outcome>,
}

impl Summary {
    /// Runs `command` as suite `name` in the foreground; its JUnit report is expected at
    /// `report` (removed first, so a stale one never counts). Skipped once the harness was
    /// interrupted.
    pub fn run(&mut self, name: &str, report: &Path, command: &mut Command) {
        if interrupted() {
            self.failed_step(name, &anyhow::anyhow!("not run: interrupted"));
            return;
        }
        let _ = fs::remove_file(report);
        println!("==> {name}");
        let started = Instant::now();
        let status = run_foreground(command);
        self.record(name, started, status, report);
    }

    /// Records a suite that already ran, from its exit status and its report.
    pub fn record(
        &mut self,
        name: &str,
        started: Instant,
        status: anyhow::Result<ExitStatus>,
        report: &Path,
    ) {
        let exit_failure = match status {
            Ok(status) if status.success() => None,
            Ok(status) => Some(format!("exited with {status}")),
            Err(error) => Some(format!("did not run: {error:#}")),
        };
        self.push(name, started, exit_failure, report);
    }

    /// Records a check the harness ran itself, which wrote its cases to `report`; `Err` when
    /// it could not run to the end.
    pub fn record_check(
        &mut self,
        name: &str,
        started: Instant,
        ran: anyhow::Result<()>,
        report: &Path,
    ) {
        let exit_failure = ran.err().map(|error| format!("did not run: {error:#}"));
        self.push(name, started, exit_failure, report);
    }

    fn push(&mut self, name: &str, started: Instant, exit_failure: Option<String>, report: &Path) {
        self.outcomes.push(Outcome {
            name: name.to_owned(),
            seconds: started.elapsed().as_secs_f64(),
            exit_failure,
            report: junit::read_file(report).map_err(|error| format!("{error:#}")),
        });
    }

    /// Records a step that failed before (or instead of) a suite: one failed case.
    pub fn failed_step(&mut self, name: &str, error: &anyhow::Error) {
        eprintln!("error: {name}: {error:#}");
        self.outcomes.push(Outcome {
            name: name.to_owned(),
            seconds: 0.0,
            exit_failure: Some(format!("{error:#}")),
            report: Ok(Report::default()),
        });
    }

    /// Prints one line per suite and then, last, `N passed, M failed`; the exit code fails the
    /// run when anything failed (130 when it was interrupted).
    pub fn finish(self) -> ExitCode {
        let mut total = Counts::default();
        println!();
        for outcome in &self.outcomes {
            println!("{}", outcome.line());
            total += outcome.counts();
        }
        println!("{} passed, {} failed", total.passed, total.failed);
        if interrupted() {
            ExitCode::from(130)
        } else if total.failed > 0 || self.outcomes.is_empty() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}
