//! The cold starts: each function's first request on a fresh process, `runs` times, then the same
//! request on the warm one, in an order where each finds what it needs (sign-up makes the account,
//! sign-in stocks the sessions the later functions read or end).
//!
//! A cold start is timed from just before the process is spawned to the moment the first
//! invocation's answer arrives: process start, configuration, the lazy database connection and
//! the first request's own work. Each function's first request reaches the database when the
//! function uses one; the warm request tells start-up from work.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use auth::Endpoint;
use serde_json::{Value, json};
use testkit::process::interrupted;

use super::events::{Answer, HttpEvent, scheduled_event};
use super::instance::{Instance, RuntimeApi};
use super::sessions::Sessions;
use crate::accounts::{self, PASSWORD};

/// Sign-ins per sign-in process (the cold one, the warm one, five more), whose peak memory is
/// read after them.
const SIGNINS_PER_RUN: usize = 7;
/// Sessions used per run: refresh, end-session and logout end one per request, cold and warm.
const SESSIONS_ENDED_PER_RUN: usize = 3 * 2;
// One more for the reader that dashboard, sessions and end-session use throughout.
const _: () = assert!(
    SIGNINS_PER_RUN > SESSIONS_ENDED_PER_RUN,
    "each sign-in run stocks the sessions of a run, and a reader"
);

/// The pause between the cold answer and the warm request, which is not timed: long enough for
/// the instance to be back waiting for its next invocation, as a later request finds it. Sent
/// within a millisecond of the cold answer instead, the warm request waited about 40 ms in the
/// local Runtime API in about half the runs (the length of a delayed TCP ACK): the harness's time,
/// not the function's. A 1 ms pause was enough to lose it.
const SETTLE: Duration = Duration::from_millis(50);

/// One function's times, in milliseconds.
#[derive(Debug, Default)]
pub struct Timings {
    pub cold_ms: Vec<f64>,
    pub warm_ms: Vec<f64>,
}

/// What the cold starts measured.
#[derive(Debug, Default)]
pub struct ColdStarts {
    /// Per function, in the order measured.
    pub functions: Vec<(String, Timings)>,
    /// Each sign-in process's peak RSS (`VmHWM`) after its sign-ins, in KiB.
    pub signin_peak_rss_kib: Vec<u64>,
}

/// Measures every function `runs` times against `api`, starting the binaries in `bin_dir`; each
/// function's last instance's output goes to `logs/<function>.log`.
pub fn run(
    api: &RuntimeApi,
    bin_dir: &Path,
    runs: usize,
    logs: &Path,
) -> anyhow::Result<ColdStarts> {
    let mut runner = Runner {
        api,
        bin_dir,
        runs,
        logs,
        measured: ColdStarts::default(),
    };
    let mut sessions = Sessions::default();
    let email = accounts::new_email();

    // Sign-up: the account every later request uses, then a new one per call.
    let mut first = Some(email.clone());
    runner.measure(
        Endpoint::Signup.function(),
        Expect::Status(&[202]),
        Repeat::Fresh,
        || {
            let address = first.take().unwrap_or_else(accounts::new_email);
            Ok(HttpEvent::to(Endpoint::Signup)
                .json(accounts::signup_body(&address))
                .event())
        },
    )?;

    accounts::confirm_in_database(&email)?;
    let signin = HttpEvent::to(Endpoint::Signin).json(accounts::signin_body(&email));
    let mut peaks = Vec::new();
    runner.measure_then(
        Endpoint::Signin.function(),
        Expect::Status(&[200]),
        Repeat::Same,
        || Ok(signin.event()),
        |instance, answers| {
            for answer in answers {
                sessions.add(answer)?;
            }
            for _ in answers.len()..SIGNINS_PER_RUN {
                let answer = api.invoke(Endpoint::Signin.function(), &signin.event())?;
                Expect::Status(&[200]).check(Endpoint::Signin.function(), &answer)?;
                sessions.add(&answer)?;
            }
            peaks.push(instance.peak_rss_kib()?);
            Ok(())
        },
    )?;
    runner.measured.signin_peak_rss_kib = peaks;
    let reader = sessions.take()?;

    for endpoint in [Endpoint::Dashboard, Endpoint::Sessions] {
        let request = HttpEvent::to(endpoint).bearer(&reader.access);
        runner.measure(
            endpoint.function(),
            Expect::Status(&[200]),
            Repeat::Same,
            || Ok(request.event()),
        )?;
    }
    runner.measure(
        Endpoint::Refresh.function(),
        Expect::Status(&[200]),
        Repeat::Fresh,
        || {
            Ok(HttpEvent::to(Endpoint::Refresh)
                .bearer(&sessions.take()?.refresh)
                .event())
        },
    )?;
    runner.measure(
        Endpoint::EndSession.function(),
        Expect::Status(&[200]),
        Repeat::Fresh,
        || {
            let victim = sessions.take()?;
            Ok(HttpEvent::to(Endpoint::EndSession)
                .path_parameter("id", &victim.id)
                .bearer(&reader.access)
                .event())
        },
    )?;
    runner.measure(
        Endpoint::Logout.function(),
        Expect::Status(&[200]),
        Repeat::Fresh,
        || {
            Ok(HttpEvent::to(Endpoint::Logout)
                .bearer(&sessions.take()?.access)
                .event())
        },
    )?;

    // An unknown reset token: one lookup, answered before any hashing.
    let bogus = "x".repeat(43);
    let same: [(HttpEvent, &'static [u16]); 7] = [
        (
            HttpEvent::to(Endpoint::ForgotPassword).json(json!({"email": email})),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::ResetPassword)
                .path_parameter("token", &bogus)
                .json(json!({"password": PASSWORD})),
            &[400, 401, 404],
        ),
        (HttpEvent::to(Endpoint::Jwks), &[200]),
        (HttpEvent::to(Endpoint::Root), &[200]),
        (HttpEvent::to(Endpoint::Public), &[200]),
        (
            HttpEvent::to(Endpoint::ResetPage).path_parameter("token", &bogus),
            &[200],
        ),
        (HttpEvent::to(Endpoint::NotFound).at("/nowhere"), &[404]),
    ];
    for (request, statuses) in same {
        runner.measure(
            request.endpoint().function(),
            Expect::Status(statuses),
            Repeat::Same,
            || Ok(request.event()),
        )?;
    }
    // The janitor is invoked by a schedule, with an EventBridge event; its sweep is its request.
    runner.measure("janitor", Expect::NoHttp, Repeat::Same, || {
        Ok(scheduled_event())
    })?;
    Ok(runner.measured)
}

/// Whether a function's warm request can repeat its first one.
#[derive(Clone, Copy, PartialEq)]
enum Repeat {
    Same,
    /// The request consumes what it presents (an address, a token, a session): a new one.
    Fresh,
}

/// What a function must answer.
enum Expect {
    /// An HTTP response with one of these statuses.
    Status(&'static [u16]),
    /// Something that is no HTTP response (the janitor's answer).
    NoHttp,
}

impl Expect {
    fn check(&self, function: &str, answer: &Answer) -> anyhow::Result<()> {
        let met = match self {
            Expect::Status(statuses) => answer.status.is_some_and(|s| statuses.contains(&s)),
            Expect::NoHttp => answer.status.is_none(),
        };
        if !met {
            let expected = match self {
                Expect::Status(statuses) => format!("{statuses:?}"),
                Expect::NoHttp => "no HTTP status".to_owned(),
            };
            bail!(
                "{function}: status {:?}, expected {expected}: {}",
                answer.status,
                answer.body
            );
        }
        Ok(())
    }
}

/// Starts the instances and keeps what they measured.
struct Runner<'a> {
    api: &'a RuntimeApi,
    bin_dir: &'a Path,
    runs: usize,
    logs: &'a Path,
    measured: ColdStarts,
}

impl Runner<'_> {
    /// `runs` cold starts of `function`, each with the request `next_event` gives.
    fn measure(
        &mut self,
        function: &str,
        expect: Expect,
        repeat: Repeat,
        next_event: impl FnMut() -> anyhow::Result<Value>,
    ) -> anyhow::Result<()> {
        self.measure_then(function, expect, repeat, next_event, |_, _| Ok(()))
    }

    /// [`Runner::measure`], calling `after` with each warm instance and both of its answers
    /// before it is stopped.
    fn measure_then(
        &mut self,
        function: &str,
        expect: Expect,
        repeat: Repeat,
        mut next_event: impl FnMut() -> anyhow::Result<Value>,
        mut after: impl FnMut(&Instance, &[Answer; 2]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let binary = self.bin_dir.join(function);
        let log = self.logs.join(format!("{function}.log"));
        let mut timings = Timings::default();
        for _ in 0..self.runs {
            if interrupted() {
                bail!("interrupted");
            }
            let event = next_event()?;
            let started = Instant::now();
            let instance = Instance::start(self.api, &binary, function, &log)?;
            let mut warm_run = || -> anyhow::Result<()> {
                let cold = self.api.invoke(function, &event)?;
                timings
                    .cold_ms
                    .push(started.elapsed().as_secs_f64() * 1000.0);
                expect.check(function, &cold)?;
                let event = match repeat {
                    Repeat::Same => event.clone(),
                    Repeat::Fresh => next_event()?,
                };
                std::thread::sleep(SETTLE);
                let started = Instant::now();
                let warm = self.api.invoke(function, &event)?;
                timings
                    .warm_ms
                    .push(started.elapsed().as_secs_f64() * 1000.0);
                expect.check(function, &warm)?;
                after(&instance, &[cold, warm])
            };
            if let Err(error) = warm_run() {
                let tail = instance.log_tail();
                instance.stop()?;
                return Err(error.context(tail));
            }
            instance.stop()?;
        }
        self.measured.functions.push((function.to_owned(), timings));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Option<u16>, body: Value) -> Answer {
        Answer {
            status,
            body: body.to_string(),
        }
    }

    #[test]
    fn answers_are_checked_against_the_expected_statuses() {
        let not_found = answer(Some(404), json!({"error": "not_found"}));
        assert!(Expect::Status(&[400, 404]).check("f", &not_found).is_ok());
        assert!(Expect::Status(&[200]).check("f", &not_found).is_err());
        assert!(Expect::NoHttp.check("f", &not_found).is_err());
        assert!(
            Expect::NoHttp
                .check("janitor", &answer(None, Value::Null))
                .is_ok()
        );
        assert!(
            Expect::Status(&[200])
                .check("janitor", &answer(None, Value::Null))
                .is_err()
        );
    }
}
