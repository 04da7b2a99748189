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

use anyhow::{Context, bail};
use auth::Endpoint;
use auth::janitor::Report;
use serde_json::{Value, json};
use testkit::process::interrupted;
use uuid::Uuid;

use super::events::{Answer, HttpEvent, scheduled_event};
use super::fixtures::Fixtures;
use super::instance::{Instance, RuntimeApi};
use super::production::Production;
use super::sessions::{Session, Sessions};
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

/// One function's times, in milliseconds, and its peak memory.
#[derive(Debug, Default)]
pub struct Timings {
    pub cold_ms: Vec<f64>,
    pub warm_ms: Vec<f64>,
    /// Each process's peak RSS (`VmHWM`) after its two requests, in KiB.
    pub peak_rss_kib: Vec<u64>,
    /// What each process logged of its start: see [`Init`].
    pub init: Vec<Init>,
}

/// Where a cold start's time went, as the function logged it: its `initialised` line (the
/// configuration with its secrets, the state built from it, the first database connection) and
/// its first request's `elapsed_ms`. Absent for a function that logs neither (the
/// stateless ones log no `initialised`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Init {
    pub config_ms: Option<f64>,
    pub state_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub first_request_ms: Option<f64>,
}

impl Init {
    /// From a process's JSON log lines: the first `initialised` and the first `request handled`.
    pub fn from_log(log: &str) -> Init {
        let mut init = Init::default();
        for line in log.lines() {
            let Ok(line) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let fields = &line["fields"];
            match fields["message"].as_str() {
                Some("initialised") if init.config_ms.is_none() => {
                    init.config_ms = fields["config_ms"].as_f64();
                    init.state_ms = fields["state_ms"].as_f64();
                    init.connect_ms = fields["connect_ms"].as_f64();
                }
                Some("request handled") if init.first_request_ms.is_none() => {
                    init.first_request_ms = fields["elapsed_ms"].as_f64();
                }
                _ => {}
            }
        }
        init
    }
}

/// What the cold starts measured.
#[derive(Debug, Default)]
pub struct ColdStarts {
    /// Per function, in the order measured.
    pub functions: Vec<(String, Timings)>,
    /// Each sign-in process's peak RSS (`VmHWM`) after its sign-ins, in KiB.
    pub signin_peak_rss_kib: Vec<u64>,
}

/// Measures every function `runs` times against `api`, starting the binaries in `bin_dir`, each
/// with the stack's environment or, given `production`, with its production-shaped one; each
/// function's last instance's output goes to `logs/<function>.log`.
pub fn run(
    api: &RuntimeApi,
    bin_dir: &Path,
    runs: usize,
    logs: &Path,
    production: Option<&Production>,
) -> anyhow::Result<ColdStarts> {
    let mut runner = Runner {
        api,
        bin_dir,
        runs,
        logs,
        production,
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
    everything_else(&mut runner, &email, &reader)?;
    // The janitor is invoked by a schedule, with an EventBridge event; its sweep is its request.
    // The emails the functions above queued are sent first, untimed: each run then finds the same
    // empty outbox, and its two sweeps do the same work, whatever was measured before.
    runner.sweep_until_idle()?;
    runner.measure("janitor", Expect::NoHttp, Repeat::Same, || {
        Ok(scheduled_event())
    })?;
    Ok(runner.measured)
}

/// The functions not measured above, each with a real request where the bench can make one
/// cheaply, else one it refuses only after the work a real one starts with (the token checked,
/// the row looked up): every function's process is started, configured and connected as for a
/// real request. The account changes (password, address, deletion) come last, each on accounts
/// of its own made in this process.
fn everything_else(runner: &mut Runner, email: &str, reader: &Session) -> anyhow::Result<()> {
    let fixtures = Fixtures::from_env()?;
    let (owner_email, owner) = fixtures.signed_in()?;
    let bogus_token = "x".repeat(43);
    let nobody = Uuid::new_v4().to_string();
    let ceremony = json!({"ceremony_id": nobody, "credential": {}});
    // Well formed, so that the function goes as far as taking the (unknown) ceremony.
    let assertion = json!({"ceremony_id": nobody, "credential": {
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {
            "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA",
            "userHandle": "AAAA"
        }
    }});
    let wrong_code = json!({"code": "000000"});
    let redirect_to = allowed_redirect()?;
    let (_, challenge) = testkit::oidc::app_pkce();
    let authorize = [
        ("redirect_to", redirect_to.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let provider = testkit::stack::STACK_PROVIDER;
    let introspection_client = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!(
                "{}:{}",
                testkit::stack::INTROSPECTION_CLIENT_ID,
                testkit::stack::INTROSPECTION_CLIENT_SECRET
            )
        )
    );
    let owner_id = accounts::user_id(&owner_email)?;
    let operated_id = accounts::user_id(&fixtures.registered()?)?;
    // The local bearer, and the IAM caller API Gateway passes in AWS (where no ADMIN_TOKEN is
    // set, as in the production-shaped run): each function takes the one its configuration names.
    let admin = |endpoint: Endpoint, id: Option<&str>| {
        let event = HttpEvent::to(endpoint)
            .bearer(testkit::stack::ADMIN_TOKEN)
            .iam_caller("arn:aws:iam::123456789012:user/bench-operator");
        match id {
            Some(id) => event.path_parameter("id", id),
            None => event,
        }
    };
    let context = json!({
        "sub": owner_id, "sid": owner.id, "aal": "aal1", "amr": "pwd", "email_verified": "true"
    });
    let same: Vec<(HttpEvent, &'static [u16])> = vec![
        (HttpEvent::to(Endpoint::VerifyPage), &[200]),
        (HttpEvent::to(Endpoint::SigninPage), &[200]),
        (HttpEvent::to(Endpoint::SignupPage), &[200]),
        (HttpEvent::to(Endpoint::AccountPage), &[200]),
        (
            HttpEvent::to(Endpoint::ProtectedExample).authorized(context),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::VerifyEmail).json(json!({"token": bogus_token})),
            &[400],
        ),
        (
            HttpEvent::to(Endpoint::ResendVerification).json(json!({"email": email})),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::MfaStatus).bearer(&reader.access),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::Passkeys).bearer(&reader.access),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::Identities).bearer(&reader.access),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::PasskeyRegisterStart).bearer(&reader.access),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::PasskeyRegisterFinish)
                .bearer(&reader.access)
                .json(ceremony.clone()),
            &[400],
        ),
        (
            HttpEvent::to(Endpoint::DeletePasskey)
                .path_parameter("id", &nobody)
                .bearer(&reader.access),
            &[404],
        ),
        (
            HttpEvent::to(Endpoint::DeleteIdentity)
                .path_parameter("id", &nobody)
                .bearer(&reader.access),
            &[404],
        ),
        (
            HttpEvent::to(Endpoint::PasskeySigninStart).json(json!({})),
            &[200],
        ),
        (
            HttpEvent::to(Endpoint::PasskeySigninFinish).json(assertion),
            &[400],
        ),
        (
            HttpEvent::to(Endpoint::MfaEnroll).bearer(&owner.access),
            &[201],
        ),
        (
            HttpEvent::to(Endpoint::MfaConfirm)
                .bearer(&owner.access)
                .json(wrong_code.clone()),
            &[400],
        ),
        (
            HttpEvent::to(Endpoint::MfaVerify)
                .json(json!({"mfa_token": bogus_token, "code": "000000"})),
            &[401],
        ),
        (
            HttpEvent::to(Endpoint::MfaDisable)
                .bearer(&owner.access)
                .json(wrong_code),
            // A session without a second step: `aal2_required`, once the session is read.
            &[403],
        ),
        (
            HttpEvent::to(Endpoint::MfaRecoveryCodes).bearer(&owner.access),
            &[403],
        ),
        (
            HttpEvent::to(Endpoint::OauthAuthorize)
                .path_parameter("provider", provider)
                .query(&authorize),
            &[302],
        ),
        (
            HttpEvent::to(Endpoint::OauthCallback)
                .path_parameter("provider", provider)
                .query(&[("code", "bogus"), ("state", &bogus_token)]),
            &[400],
        ),
        (
            HttpEvent::to(Endpoint::OauthCallbackForm)
                .path_parameter("provider", provider)
                .form(&[("code", "bogus"), ("state", &bogus_token)]),
            &[400],
        ),
        (
            HttpEvent::to(Endpoint::OauthToken)
                .json(json!({"code": bogus_token, "code_verifier": bogus_token})),
            &[400],
        ),
        (
            HttpEvent::to(Endpoint::Introspect)
                .header("authorization", &introspection_client)
                .form(&[("token", reader.access.as_str())]),
            &[200],
        ),
        (admin(Endpoint::AdminListUsers, None), &[200]),
        (admin(Endpoint::AdminGetUser, Some(&owner_id)), &[200]),
        (admin(Endpoint::AdminAudit, None), &[200]),
        (
            admin(Endpoint::AdminDisableUser, Some(&operated_id)),
            &[200],
        ),
        (admin(Endpoint::AdminEnableUser, Some(&operated_id)), &[200]),
        (
            admin(Endpoint::AdminRevokeSessions, Some(&operated_id)),
            &[200],
        ),
        (admin(Endpoint::AdminResetMfa, Some(&operated_id)), &[200]),
        (
            HttpEvent::to(Endpoint::ChangeEmail)
                .bearer(&owner.access)
                .json(json!({"password": PASSWORD, "new_email": accounts::new_email()})),
            &[202],
        ),
    ];
    for (request, statuses) in same {
        runner.measure(
            request.endpoint().function(),
            Expect::Status(statuses),
            Repeat::Same,
            || Ok(request.event()),
        )?;
    }
    // The authorizer answers API Gateway's authorizer event, not an HTTP request.
    let authorizer_event: Value =
        serde_json::from_str(&crate::run::authorizer_event_json(&reader.access))?;
    runner.measure("authorizer", Expect::NoHttp, Repeat::Same, || {
        Ok(authorizer_event.clone())
    })?;

    runner.measure(
        Endpoint::AdminDeleteUser.function(),
        Expect::Status(&[204]),
        Repeat::Fresh,
        || {
            let id = accounts::user_id(&fixtures.registered()?)?;
            Ok(admin(Endpoint::AdminDeleteUser, Some(&id)).event())
        },
    )?;
    runner.measure(
        Endpoint::ChangePassword.function(),
        Expect::Status(&[200]),
        Repeat::Fresh,
        || {
            let (_, session) = fixtures.signed_in()?;
            Ok(HttpEvent::to(Endpoint::ChangePassword)
                .bearer(&session.access)
                .json(
                    json!({"current_password": PASSWORD, "new_password": format!("{PASSWORD}-2")}),
                )
                .event())
        },
    )?;
    runner.measure(
        Endpoint::DeleteAccount.function(),
        Expect::Status(&[200]),
        Repeat::Fresh,
        || {
            let (_, session) = fixtures.signed_in()?;
            Ok(HttpEvent::to(Endpoint::DeleteAccount)
                .bearer(&session.access)
                .json(json!({"password": PASSWORD}))
                .event())
        },
    )?;
    Ok(())
}

/// Where a provider sign-in may send the app back: the first address of the stack's
/// `OAUTH_REDIRECT_ALLOWLIST`.
fn allowed_redirect() -> anyhow::Result<String> {
    let allowlist = std::env::var("OAUTH_REDIRECT_ALLOWLIST")
        .context("OAUTH_REDIRECT_ALLOWLIST (the stack starts the test provider)")?;
    let first = allowlist.split(',').next().unwrap_or_default();
    anyhow::ensure!(!first.is_empty(), "an empty OAUTH_REDIRECT_ALLOWLIST");
    Ok(first.to_owned())
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
    production: Option<&'a Production>,
    measured: ColdStarts,
}

impl Runner<'_> {
    /// Sweeps with a janitor of its own, untimed, until a sweep finds nothing to send or delete.
    fn sweep_until_idle(&self) -> anyhow::Result<()> {
        // Of at most 50 emails each (`janitor::BATCH`): far more than the functions above queue.
        const SWEEPS: usize = 100;
        let log = self.logs.join("janitor-until-idle.log");
        let binary = self.bin_dir.join("janitor");
        let instance = Instance::start(
            self.api,
            &binary,
            "janitor",
            self.environment("janitor")?,
            &log,
        )?;
        instance.run_then_stop(|_| {
            for _ in 0..SWEEPS {
                let report = self.api.invoke_for_json("janitor", &scheduled_event())?;
                if is_idle(report)? {
                    return Ok(());
                }
            }
            bail!("the janitor still found work after {SWEEPS} sweeps")
        })
    }

    /// `function`'s production-shaped environment, in the production-shaped run.
    fn environment(&self, function: &str) -> anyhow::Result<Option<&[(String, String)]>> {
        self.production
            .map(|production| production.environment(function))
            .transpose()
    }

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
        let environment = self.environment(function)?;
        for _ in 0..self.runs {
            if interrupted() {
                bail!("interrupted");
            }
            let event = next_event()?;
            let started = Instant::now();
            let instance = Instance::start(self.api, &binary, function, environment, &log)?;
            instance.run_then_stop(|instance| {
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
                timings.peak_rss_kib.push(instance.peak_rss_kib()?);
                after(instance, &[cold, warm])
            })?;
            timings
                .init
                .push(Init::from_log(&std::fs::read_to_string(&log)?));
        }
        self.measured.functions.push((function.to_owned(), timings));
        Ok(())
    }
}

/// Whether a janitor's answer, its `Report`, says the sweep did nothing.
fn is_idle(answer: Value) -> anyhow::Result<bool> {
    let report: Report = serde_json::from_value(answer.clone())
        .with_context(|| format!("a janitor's answer that is no report: {answer}"))?;
    Ok(report.is_idle())
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
    fn the_start_is_read_from_the_first_initialised_and_request_lines() {
        let log = [
            r#"{"level":"INFO","fields":{"message":"initialised","config_ms":3.5,"state_ms":1.25,"connect_ms":6.0}}"#,
            "not json: a panic message, say",
            r#"{"level":"INFO","fields":{"message":"signed in"}}"#,
            r#"{"level":"INFO","fields":{"message":"request handled","status":200,"elapsed_ms":7.0}}"#,
            r#"{"level":"INFO","fields":{"message":"request handled","status":200,"elapsed_ms":2.0}}"#,
        ]
        .join("\n");
        assert_eq!(
            Init::from_log(&log),
            Init {
                config_ms: Some(3.5),
                state_ms: Some(1.25),
                connect_ms: Some(6.0),
                first_request_ms: Some(7.0),
            }
        );
        assert_eq!(Init::from_log(""), Init::default());
    }

    #[test]
    fn a_sweep_is_idle_when_its_report_counts_nothing() {
        let report = |report: Report| serde_json::to_value(report).unwrap();
        assert!(is_idle(report(Report::default())).unwrap());
        let sent = Report {
            emails_sent: 50,
            ..Report::default()
        };
        let failed = Report {
            emails_failed: 1,
            ..Report::default()
        };
        assert!(!is_idle(report(sent)).unwrap());
        assert!(!is_idle(report(failed)).unwrap());
        for not_a_report in [json!(null), json!({}), json!({"sessions": "0"}), json!([0])] {
            assert!(is_idle(not_a_report.clone()).is_err(), "{not_a_report}");
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
