//! `bench run`: every endpoint's handler over a real PostgreSQL on loopback, called through the
//! same router and `respond` as in Lambda (no HTTP, no runtime), beside the floor and Argon2's
//! own cost. Sign-in and what the APIs behind us call are here; the account's self-service, second
//! factors, provider sign-ins and the admin API are in the submodules ([`account`], [`factors`],
//! [`providers`], [`admin`]).

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use auth::domain::Password;
use auth::keys::PrivateKey;
use auth::lambda::respond;
use auth::mail::Mailer;
use auth::routes::Handler;
use auth::{App, Endpoint};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_http::http::Method;
use lambda_http::http::header::{CONTENT_TYPE, LOCATION};
use lambda_http::{Body, Request};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use testkit::requests::{bearer_request, from_client, raw_request, with_path_parameter};
use tokio_postgres::NoTls;

use crate::machine;
use crate::results::{EndpointRun, HandlerRun, Machine};
use crate::statements::StatementCounter;
use crate::stats::Summary;

mod account;
mod admin;
mod factors;
mod providers;

const PASSWORD: &str = "correct horse battery staple";
/// A payload 2.0 authorizer event as API Gateway sends it (the tests' fixture, as JSON text), for
/// a request that carries `access_token` as its bearer.
pub fn authorizer_event_json(access_token: &str) -> String {
    const EVENT: &str = include_str!("../../shared/tests/api/fixtures/authorizer_event_v2.json");
    EVENT.replace("AUTHORIZATION", &format!("Bearer {access_token}"))
}

/// [`authorizer_event_json`], as the authorizer's handler takes it.
fn authorizer_event(access_token: &str) -> anyhow::Result<ApiGatewayV2CustomAuthorizerV2Request> {
    Ok(serde_json::from_str(&authorizer_event_json(access_token))?)
}
/// The client introspection is measured as (`client_id:secret`).
const INTROSPECTION_CLIENT: &str = "bench:bench-introspection-secret-0123456789abcdef";
/// Where the reset links point (the default `RESET_URL`), followed by the token.
const RESET_LINK_PREFIX: &str = "http://localhost:5001/reset-password#";
/// Where the confirmation links point (the default `VERIFY_URL`), followed by the token.
const VERIFY_LINK_PREFIX: &str = "http://localhost:5001/verify-email#";

/// How one kind of call runs: `warmup` calls (statements prepared and cached, pool connected;
/// neither timed nor counted), then `counted` calls whose statements are counted, untimed, then
/// `measured` calls timed, uncounted. The counter's queries around a call (pg_stat_activity, then
/// pg_stat_statements, on another connection) are no part of a request and disturb what they
/// surround, so no timed call has them.
#[derive(Clone, Copy)]
struct Plan {
    warmup: usize,
    counted: usize,
    measured: usize,
}

/// Where a call falls in its [`Plan`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Counted,
    Timed,
}

impl Plan {
    fn total(self) -> usize {
        self.warmup + self.counted + self.measured
    }

    /// The phase of call number `call` (from 0).
    fn phase(self, call: usize) -> Phase {
        if call < self.warmup {
            Phase::Warmup
        } else if call - self.warmup < self.counted {
            Phase::Counted
        } else {
            Phase::Timed
        }
    }
}

/// How many iterations each kind of call gets; `--quick` divides the measured ones by ten.
struct Plans {
    /// Endpoints without Argon2: sub-millisecond to a few milliseconds each.
    cheap: Plan,
    /// Endpoints that hash or verify a password (tens of milliseconds each).
    argon2: Plan,
    /// Logout ends a session per call, and each session costs a sign-in to set up.
    logout: Plan,
}

impl Plans {
    fn new(quick: bool) -> Plans {
        let scale = |measured: usize| if quick { measured / 10 } else { measured };
        Plans {
            cheap: Plan {
                warmup: 50,
                counted: 50,
                measured: scale(2000),
            },
            argon2: Plan {
                warmup: 3,
                counted: 3,
                measured: scale(30).max(3),
            },
            logout: Plan {
                warmup: 5,
                counted: 10,
                measured: scale(100),
            },
        }
    }
}

/// Runs the benchmark on a new database of the server at `TEST_DATABASE_URL`/`DATABASE_URL`,
/// dropped afterwards.
pub async fn run(quick: bool) -> anyhow::Result<HandlerRun> {
    run_with(&Plans::new(quick)).await
}

/// What a run works on: the app over a migrated scratch database and the test provider, both
/// dropped with it.
struct Ground {
    bench: Bench,
    statements_unavailable: Option<String>,
    _database: testkit::database::ScratchDatabase,
    _provider: testkit::stack::TestProvider,
}

impl Ground {
    /// A new database on the server at `TEST_DATABASE_URL`/`DATABASE_URL`; statements counted
    /// when `count` and the server can.
    async fn prepare(count: bool) -> anyhow::Result<Ground> {
        let admin = testkit::database::server()?;
        let pem = PrivateKey::generate_ed25519_pem()?;
        let provider = test_provider().await?;
        let issuer = provider.issuer();
        let (database, config) = testkit::config::migrated_database(
            &admin,
            "bench",
            &bench_variables(&pem, &issuer),
            |_| {},
        )
        .await?;
        let (db, connection) = database.config().connect(NoTls).await?;
        tokio::spawn(connection);
        let (counter, statements_unavailable) = if count {
            match StatementCounter::connect(&admin, database.name()).await {
                Ok(counter) => (Some(counter), None),
                Err(e) => {
                    eprintln!("statements per request will not be counted: {e:#}");
                    (None, Some(format!("{e:#}")))
                }
            }
        } else {
            (None, Some("not counted (--reads)".to_owned()))
        };
        Ok(Ground {
            bench: Bench {
                app: App::new(config, Mailer::Log)?,
                db,
                counter,
            },
            statements_unavailable,
            _database: database,
            _provider: provider,
        })
    }
}

/// `bench run --reads N`: the authenticated read (`GET /api/dashboard`) and the floor alone, N
/// calls each after the warm-up, statements not counted: a loop to profile (`perf record`) or to
/// repeat, without the other endpoints' minutes. Prints both medians and their ratio.
pub async fn reads(measured: usize) -> anyhow::Result<()> {
    let ground = Ground::prepare(false).await?;
    let bench = &ground.bench;
    let plan = Plan {
        warmup: 50,
        counted: 0,
        measured,
    };
    let access_token = bench.signed_in("reader@example.com").await?.0;
    let dashboard = bench
        .with_token(Endpoint::Dashboard, &access_token, plan)
        .await?;
    let (floor, _) = bench.floor(plan, &access_token).await?;
    let dashboard = dashboard.finish(&floor, false);
    println!(
        "dashboard {:.4} ms, floor {:.4} ms: {:.3}× ({measured} calls each)",
        dashboard.summary.median_ms, floor.median_ms, dashboard.floor_ratio
    );
    Ok(())
}

async fn run_with(plans: &Plans) -> anyhow::Result<HandlerRun> {
    let ground = Ground::prepare(true).await?;
    let bench = &ground.bench;
    let statements_unavailable = ground.statements_unavailable.clone();
    let postgres: String = bench.db.query_one("SHOW server_version", &[]).await?.get(0);

    eprintln!("==> signup, signin");
    let signup = bench.signup(plans.argon2).await?;
    let signin = bench.signin(plans.argon2).await?;
    eprintln!("==> refresh, dashboard, sessions, the floor");
    let refresh = bench.refresh(plans.cheap).await?;
    let access_token = bench.signed_in("reader@example.com").await?.0;
    let dashboard = bench
        .with_token(Endpoint::Dashboard, &access_token, plans.cheap)
        .await?;
    let sessions = bench
        .with_token(Endpoint::Sessions, &access_token, plans.cheap)
        .await?;
    let (floor, floor_statements) = bench.floor(plans.cheap, &access_token).await?;
    eprintln!("==> verify-email, the second step, a provider's code, a passkey");
    let verify_email = bench.verify_email(plans.logout).await?;
    let resend_verification = bench.resend_verification(plans.cheap).await?;
    let mfa_verify = bench.mfa_verify(plans.logout).await?;
    let oauth_token = bench.oauth_token(plans.logout).await?;
    let passkey_signin = bench.passkey_signin(plans.logout).await?;
    let passkey_signin_start = bench.passkey_signin_start(plans.cheap).await?;
    eprintln!("==> for the APIs behind us: the Lambda authorizer, introspection, the example");
    let authorizer = bench.authorizer(&access_token, plans.cheap).await?;
    let introspect = bench.introspect(&access_token, plans.cheap).await?;
    let protected_example = bench.protected_example(&access_token, plans.cheap).await?;
    eprintln!("==> logout (a sign-in per session first), a session ended");
    let logout = bench.logout(plans.logout).await?;
    let end_session = bench.end_session(plans.logout).await?;
    eprintln!("==> forgot-password, reset-password");
    let forgot_password = bench.forgot_password(plans.cheap).await?;
    let reset_password = bench.reset_password(plans.argon2).await?;
    eprintln!("==> the account: password, address, deletion");
    let change_password = bench.change_password(plans.argon2).await?;
    let change_email = bench.change_email(plans.argon2).await?;
    let delete_account = bench.delete_account(plans.argon2).await?;
    eprintln!("==> second factors: TOTP on and off, passkeys added and removed");
    let mfa_status = bench
        .with_token(Endpoint::MfaStatus, &access_token, plans.cheap)
        .await?;
    let passkeys = bench
        .with_token(Endpoint::Passkeys, &access_token, plans.cheap)
        .await?;
    let totp = bench.totp_round(plans.logout).await?;
    let passkey = bench.passkey_round(plans.logout).await?;
    eprintln!("==> an OpenID provider: authorize, callbacks, identities");
    let provider_round = bench.provider_round(plans.logout).await?;
    let (identities, delete_identity) = bench.identities(plans.cheap, plans.logout).await?;
    eprintln!("==> the admin API");
    let operator = bench.admin_round(plans.cheap, plans.logout).await?;
    eprintln!("==> pages, jwks, public, the catch-all, Argon2");
    let mut stateless = Vec::new();
    for endpoint in Endpoint::ALL {
        if matches!(
            endpoint.route().handler,
            Handler::Stateless(_) | Handler::WithKeys(_)
        ) && endpoint != Endpoint::ProtectedExample
        {
            stateless.push(bench.stateless(endpoint, plans.cheap).await?);
        }
    }
    let (argon2_hash, argon2_verify) = argon2(plans.argon2).await?;

    let endpoints = [
        signup,
        signin,
        verify_email,
        resend_verification,
        mfa_verify,
        oauth_token,
        passkey_signin_start,
        passkey_signin,
        refresh,
        dashboard,
        logout,
        sessions,
        end_session,
        authorizer,
        introspect,
        protected_example,
        forgot_password,
        reset_password,
        change_password,
        change_email,
        delete_account,
        mfa_status,
        totp.enroll,
        totp.confirm,
        totp.recovery_codes,
        totp.disable,
        passkeys,
        passkey.register_start,
        passkey.register_finish,
        passkey.delete,
        provider_round.authorize,
        provider_round.callback,
        provider_round.callback_form,
        identities,
        delete_identity,
        operator.list_users,
        operator.get_user,
        operator.audit,
        operator.disable,
        operator.enable,
        operator.revoke_sessions,
        operator.reset_mfa,
        operator.delete,
    ]
    .into_iter()
    .chain(stateless)
    .map(|recording| recording.finish(&floor, bench.counter.is_some()))
    .collect();
    Ok(HandlerRun {
        machine: Machine {
            cpu: machine::cpu_model(),
            cores: machine::cores(),
            postgres,
            pool_size: bench.app.config.database.pool_size,
        },
        floor,
        floor_statements,
        argon2_hash,
        argon2_verify,
        endpoints,
        statements_unavailable,
    })
}

/// Production settings, through the real loader: one connection (as in production, where one
/// Lambda instance serves one request at a time), an Ed25519 key made for the run, budgets high
/// enough that the benchmark's thousands of requests from one address are not throttled, the
/// test provider at `issuer` as `local`, and a local operator token.
fn bench_variables<'a>(pem: &'a SecretString, issuer: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("RATE_LIMIT_PASSKEY_SIGNIN", "1000000"),
        ("INTROSPECTION_CLIENTS", INTROSPECTION_CLIENT),
        ("DB_POOL_SIZE", "1"),
        ("JWT_SECRET_KEY", ""),
        ("JWT_PRIVATE_KEY", pem.expose_secret()),
        ("RATE_LIMIT_SIGNUP", "1000000"),
        ("RATE_LIMIT_SIGNIN", "1000000"),
        ("RATE_LIMIT_FORGOT_PASSWORD", "1000000"),
        ("RESET_EMAILS_PER_WINDOW", "1000000"),
        ("OIDC_PROVIDERS", providers::PROVIDER),
        ("OIDC_LOCAL_ISSUER", issuer),
        ("OIDC_LOCAL_CLIENT_ID", PROVIDER_CLIENT.0),
        ("OIDC_LOCAL_CLIENT_SECRET", PROVIDER_CLIENT.1),
        ("OAUTH_REDIRECT_ALLOWLIST", providers::APP_CALLBACK),
        ("API_PUBLIC_URL", "http://127.0.0.1:9"),
        ("ADMIN_TOKEN", admin::ADMIN_TOKEN),
    ]
}

/// The bench's client at the test provider: `(client_id, client_secret)`.
const PROVIDER_CLIENT: (&str, &str) = ("bench", "bench-provider-secret");

/// The test OpenID provider (Node.js, `local/oidc-provider.mjs`) for the provider sign-ins, its
/// log beside the bench's results.
async fn test_provider() -> anyhow::Result<testkit::stack::TestProvider> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let log = crate::output_dir().join("oidc-provider.log");
    tokio::task::spawn_blocking(move || {
        testkit::stack::TestProvider::start(
            &workspace,
            PROVIDER_CLIENT.0,
            PROVIDER_CLIENT.1,
            &[providers::PROVIDER_CALLBACK],
            &log,
        )
    })
    .await?
}

/// The app under test, a direct connection for setting up, and the statement counter.
struct Bench {
    app: App,
    db: tokio_postgres::Client,
    counter: Option<StatementCounter>,
}

/// One endpoint's measured calls (or the Lambda authorizer's, which is no endpoint of the API:
/// API Gateway calls it): their times and the statements they ran.
struct Recording {
    /// The endpoint whose handler is called; `None` for the authorizer.
    endpoint: Option<Endpoint>,
    /// The function measured, its method and path as the report shows them.
    function: &'static str,
    method: String,
    path: String,
    plan: Plan,
    calls: usize,
    samples: Vec<Duration>,
    /// Statements of the counted calls, and how many those were.
    statements: i64,
    counted_calls: usize,
}

impl Recording {
    fn new(endpoint: Endpoint, plan: Plan) -> Recording {
        let method = endpoint
            .method()
            .map_or_else(|| "any".to_owned(), |m| m.to_string());
        Recording {
            endpoint: Some(endpoint),
            ..Recording::named(endpoint.function(), method, endpoint.path(), plan)
        }
    }

    /// A function that is no endpoint of the API (the authorizer), as the report names it.
    fn named(
        function: &'static str,
        method: impl Into<String>,
        path: impl Into<String>,
        plan: Plan,
    ) -> Recording {
        Recording {
            endpoint: None,
            function,
            method: method.into(),
            path: path.into(),
            plan,
            calls: 0,
            samples: Vec::with_capacity(plan.measured),
            statements: 0,
            counted_calls: 0,
        }
    }

    /// Calls made to set up another measurement: never recorded.
    fn setup(endpoint: Endpoint) -> Recording {
        Recording::new(
            endpoint,
            Plan {
                warmup: usize::MAX,
                counted: 0,
                measured: 0,
            },
        )
    }

    /// Statements per counted call; `None` when they were not counted.
    fn statements_per_call(&self, counted: bool) -> Option<f64> {
        (counted && self.counted_calls > 0)
            .then(|| self.statements as f64 / self.counted_calls as f64)
    }

    /// The summary; statements per request only when they were counted.
    fn finish(self, floor: &Summary, counted: bool) -> EndpointRun {
        let summary = Summary::of(&self.samples);
        let statements_per_request = self.statements_per_call(counted);
        EndpointRun {
            endpoint: self.function.to_owned(),
            method: self.method,
            path: self.path,
            floor_ratio: summary.median_ms / floor.median_ms,
            statements_per_request,
            summary,
        }
    }
}

impl Bench {
    /// Calls the endpoint's handler, timing only the call; fails on any answer but a 2xx or a
    /// redirect. Returns the body if it is JSON, a redirect's target as `{"location": …}`, and
    /// `null` for anything else (a page, no body).
    async fn call(&self, recording: &mut Recording, request: Request) -> anyhow::Result<Value> {
        let endpoint = recording
            .endpoint
            .context("only an endpoint's recording calls its handler")?;
        let response = self
            .timed(recording, call(&self.app, endpoint, request))
            .await?;
        let (parts, body) = response.into_parts();
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|value: &lambda_http::http::HeaderValue| value.to_str().ok())
        };
        let json = header(CONTENT_TYPE).is_some_and(|kind| kind.starts_with("application/json"));
        let body: Value = match body {
            Body::Text(text) if json => serde_json::from_str(&text)?,
            _ => Value::Null,
        };
        // Error bodies carry no secrets: printing them is safe.
        ensure!(
            parts.status.is_success() || parts.status.is_redirection(),
            "{} answered {}: {body}",
            recording.function,
            parts.status
        );
        Ok(match header(LOCATION) {
            Some(location) => json!({ "location": location }),
            None => body,
        })
    }

    /// Runs `work` as its place in `recording`'s plan says: past the warm-up, counting its
    /// statements, then timing it.
    async fn timed<T>(
        &self,
        recording: &mut Recording,
        work: impl std::future::Future<Output = T>,
    ) -> anyhow::Result<T> {
        let phase = recording.plan.phase(recording.calls);
        recording.calls += 1;
        Ok(match phase {
            Phase::Warmup => work.await,
            Phase::Counted => {
                let before = self.statements_so_far().await?;
                let output = work.await;
                recording.statements += self.statements_so_far().await? - before;
                recording.counted_calls += 1;
                output
            }
            Phase::Timed => {
                let started = Instant::now();
                let output = work.await;
                recording.samples.push(started.elapsed());
                output
            }
        })
    }

    /// The Lambda authorizer on API Gateway's payload 2.0 event with a live access token; fails
    /// unless it authorizes.
    async fn authorizer(&self, access_token: &str, plan: Plan) -> anyhow::Result<Recording> {
        let mut recording = Recording::named(
            "authorizer",
            "event",
            "(Lambda authorizer, payload 2.0)",
            plan,
        );
        let event = authorizer_event(access_token)?;
        for _ in 0..plan.total() {
            let answer = self
                .timed(
                    &mut recording,
                    auth::handlers::authorizer(&self.app, &event),
                )
                .await?;
            ensure!(answer.is_authorized, "the authorizer refused a live token");
        }
        Ok(recording)
    }

    /// Each confirmation takes the emailed link of a sign-up of its own (made beforehand,
    /// unrecorded).
    async fn verify_email(&self, plan: Plan) -> anyhow::Result<Recording> {
        let mut setup = Recording::setup(Endpoint::Signup);
        let mut tokens = Vec::with_capacity(plan.total());
        for i in 0..plan.total() {
            let email = format!("verify-{i}@example.com");
            self.call(&mut setup, signup_request(&email)).await?;
            tokens.push(testkit::outbox::link_token(&self.db, &email, VERIFY_LINK_PREFIX).await?);
        }
        let mut recording = Recording::new(Endpoint::VerifyEmail, plan);
        for token in tokens {
            let request = json_request(Endpoint::VerifyEmail, &json!({ "token": token }));
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// A sign-in's second step with a TOTP code: an account with TOTP on, a password step per
    /// call beforehand (unrecorded), and the code's time step made acceptable again before each
    /// call (unrecorded: a code is accepted once, and a benchmark cannot wait 30 s per call).
    async fn mfa_verify(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "mfa@example.com";
        let (access, _) = self.signed_in(email).await?;
        let (secret, _) = self
            .turn_totp_on(
                &access,
                &mut Recording::setup(Endpoint::MfaEnroll),
                &mut Recording::setup(Endpoint::MfaConfirm),
            )
            .await?;
        let mut setup = Recording::setup(Endpoint::Signin);
        let mut mfa_tokens = Vec::with_capacity(plan.total());
        for _ in 0..plan.total() {
            let body = self.call(&mut setup, signin_request(email)).await?;
            mfa_tokens.push(token(&body, "mfa_token")?);
        }
        let mut recording = Recording::new(Endpoint::MfaVerify, plan);
        for mfa_token in mfa_tokens {
            self.db
                .execute("UPDATE mfa_totp SET last_step = last_step - 10", &[])
                .await?;
            let body = json!({"mfa_token": mfa_token, "code": testkit::totp::code(&secret, 0)});
            self.call(&mut recording, json_request(Endpoint::MfaVerify, &body))
                .await?;
        }
        Ok(recording)
    }

    /// A usernameless passkey sign-in's finish: one passkey registered through the endpoints,
    /// then for each call a sign-in started (unrecorded) and answered by the software
    /// authenticator, as a browser would.
    async fn passkey_signin(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "passkey@example.com";
        let (access, _) = self.signed_in(email).await?;
        let mut key = testkit::passkeys::SoftPasskey::new(true);
        self.register_passkey(
            &mut key,
            &access,
            &mut Recording::setup(Endpoint::PasskeyRegisterStart),
            &mut Recording::setup(Endpoint::PasskeyRegisterFinish),
        )
        .await?;
        let row = self
            .db
            .query_one(
                "SELECT p.credential_id, u.id FROM passkeys p JOIN users u ON u.id = p.user_id
                 WHERE u.email = $1",
                &[&email],
            )
            .await?;
        let (credential_id, user): (Vec<u8>, uuid::Uuid) = (row.get(0), row.get(1));
        let mut recording = Recording::new(Endpoint::PasskeySigninFinish, plan);
        for _ in 0..plan.total() {
            let mut setup = Recording::setup(Endpoint::PasskeySigninStart);
            let started = self
                .call(
                    &mut setup,
                    json_request(Endpoint::PasskeySigninStart, &json!({})),
                )
                .await?;
            let assertion =
                testkit::passkeys::assert_with(&mut key, &started["options"], &credential_id, user);
            let body = json!({"ceremony_id": started["ceremony_id"], "credential": assertion});
            let signed_in = self
                .call(
                    &mut recording,
                    json_request(Endpoint::PasskeySigninFinish, &body),
                )
                .await?;
            ensure!(
                signed_in["access_token"].is_string(),
                "passkey: {signed_in}"
            );
        }
        Ok(recording)
    }

    /// A provider sign-in's last step: the one-time code and the app's PKCE verifier for a
    /// session. The codes are issued beforehand as the callback issues them (unrecorded: the
    /// provider's part is the provider's time, not ours).
    async fn oauth_token(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "provider@example.com";
        self.registered(email).await?;
        let mut exchanges = Vec::with_capacity(plan.total());
        for i in 0..plan.total() {
            let (verifier, challenge) = testkit::oidc::app_pkce();
            let code = format!("bench-code-{i}-{}", uuid::Uuid::new_v4().simple());
            self.db
                .execute(
                    "INSERT INTO oauth_codes (code_hash, user_id, provider, code_challenge,
                                              provider_mfa, expires_at)
                     SELECT sha256(convert_to($1, 'UTF8')), id, 'bench', $2, false,
                            now() + interval '1 hour'
                     FROM users WHERE email = $3",
                    &[&code, &challenge, &email],
                )
                .await?;
            exchanges.push(json!({"code": code, "code_verifier": verifier}));
        }
        let mut recording = Recording::new(Endpoint::OauthToken, plan);
        for exchange in exchanges {
            let body = self
                .call(
                    &mut recording,
                    json_request(Endpoint::OauthToken, &exchange),
                )
                .await?;
            ensure!(body["access_token"].is_string(), "oauth token: {body}");
        }
        Ok(recording)
    }

    /// `POST /api/introspect` as a client of `INTROSPECTION_CLIENTS`, on a live access token.
    async fn introspect(&self, access_token: &str, plan: Plan) -> anyhow::Result<Recording> {
        let mut recording = Recording::new(Endpoint::Introspect, plan);
        let basic = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                INTROSPECTION_CLIENT
            )
        );
        for _ in 0..plan.total() {
            let mut request = raw_request(
                Method::POST,
                Endpoint::Introspect.path(),
                Some("application/x-www-form-urlencoded"),
                format!("token={access_token}"),
            );
            request
                .headers_mut()
                .insert("authorization", basic.parse()?);
            let body = self.call(&mut recording, request).await?;
            ensure!(body["active"] == true, "introspection: {body}");
        }
        Ok(recording)
    }

    async fn statements_so_far(&self) -> anyhow::Result<i64> {
        match &self.counter {
            Some(counter) => counter.total().await,
            None => Ok(0),
        }
    }

    async fn signup(&self, plan: Plan) -> anyhow::Result<Recording> {
        let mut recording = Recording::new(Endpoint::Signup, plan);
        for i in 0..plan.total() {
            let request = signup_request(&format!("signup-{i}@example.com"));
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// Registers `email` and confirms the address with the emailed link, as its owner would
    /// (unrecorded).
    async fn registered(&self, email: &str) -> anyhow::Result<()> {
        let mut setup = Recording::setup(Endpoint::Signup);
        self.call(&mut setup, signup_request(email)).await?;
        let token = testkit::outbox::link_token(&self.db, email, VERIFY_LINK_PREFIX).await?;
        let mut setup = Recording::setup(Endpoint::VerifyEmail);
        let confirm = json_request(Endpoint::VerifyEmail, &json!({ "token": token }));
        self.call(&mut setup, confirm).await?;
        Ok(())
    }

    /// The id of the account at `email`.
    async fn user_id(&self, email: &str) -> anyhow::Result<String> {
        let row = self
            .db
            .query_one("SELECT id::text FROM users WHERE email = $1", &[&email])
            .await?;
        Ok(row.get(0))
    }

    /// Registers `email` and signs in (unrecorded); returns the access and refresh tokens.
    async fn signed_in(&self, email: &str) -> anyhow::Result<(String, String)> {
        self.registered(email).await?;
        let mut setup = Recording::setup(Endpoint::Signin);
        let body = self.call(&mut setup, signin_request(email)).await?;
        Ok((
            token(&body, "access_token")?,
            token(&body, "refresh_token")?,
        ))
    }

    async fn signin(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "signin@example.com";
        self.registered(email).await?;
        let mut recording = Recording::new(Endpoint::Signin, plan);
        for _ in 0..plan.total() {
            self.call(&mut recording, signin_request(email)).await?;
        }
        Ok(recording)
    }

    /// Each refresh presents the token the previous one returned, as a client does.
    async fn refresh(&self, plan: Plan) -> anyhow::Result<Recording> {
        let (_, mut refresh_token) = self.signed_in("refresh@example.com").await?;
        let mut recording = Recording::new(Endpoint::Refresh, plan);
        for _ in 0..plan.total() {
            let request = bearer(Endpoint::Refresh, &refresh_token);
            let body = self.call(&mut recording, request).await?;
            refresh_token = token(&body, "refresh_token")?;
        }
        Ok(recording)
    }

    /// An endpoint that only reads with the caller's access token.
    async fn with_token(
        &self,
        endpoint: Endpoint,
        access_token: &str,
        plan: Plan,
    ) -> anyhow::Result<Recording> {
        let mut recording = Recording::new(endpoint, plan);
        for _ in 0..plan.total() {
            self.call(&mut recording, bearer(endpoint, access_token))
                .await?;
        }
        Ok(recording)
    }

    /// Every logout ends a session of its own, opened by a sign-in beforehand.
    async fn logout(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "logout@example.com";
        self.registered(email).await?;
        let mut tokens = Vec::with_capacity(plan.total());
        let mut setup = Recording::setup(Endpoint::Signin);
        for _ in 0..plan.total() {
            let body = self.call(&mut setup, signin_request(email)).await?;
            tokens.push(token(&body, "access_token")?);
        }
        let mut recording = Recording::new(Endpoint::Logout, plan);
        for access_token in tokens {
            let request = bearer(Endpoint::Logout, &access_token);
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    async fn forgot_password(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "forgot@example.com";
        self.registered(email).await?;
        let mut recording = Recording::new(Endpoint::ForgotPassword, plan);
        for _ in 0..plan.total() {
            let request = json_request(Endpoint::ForgotPassword, &json!({"email": email}));
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// A reset ends the user's other reset tokens, so each one asks for its own first.
    async fn reset_password(&self, plan: Plan) -> anyhow::Result<Recording> {
        let email = "reset@example.com";
        self.registered(email).await?;
        let mut setup = Recording::setup(Endpoint::ForgotPassword);
        let mut recording = Recording::new(Endpoint::ResetPassword, plan);
        for i in 0..plan.total() {
            let request = json_request(Endpoint::ForgotPassword, &json!({"email": email}));
            self.call(&mut setup, request).await?;
            let reset_token = self.emailed_reset_token(email).await?;
            let body = json!({"password": format!("{PASSWORD} {i}")});
            let request = with_path_parameter(
                json_request(Endpoint::ResetPassword, &body),
                "token",
                reset_token.expose_secret(),
            );
            self.call(&mut recording, request).await?;
        }
        Ok(recording)
    }

    /// The token in the link of the newest reset email queued for `email`.
    async fn emailed_reset_token(&self, email: &str) -> anyhow::Result<SecretString> {
        let token = testkit::outbox::link_token(&self.db, email, RESET_LINK_PREFIX).await?;
        Ok(SecretString::from(token))
    }

    /// What an authenticated request cannot go below: a connection from the pool, one prepared
    /// `SELECT 1` (one round trip, like each of the API's statements) and one signature check.
    /// Returns the times and, when counted, the statements per iteration (one, by design).
    async fn floor(
        &self,
        plan: Plan,
        access_token: &str,
    ) -> anyhow::Result<(Summary, Option<f64>)> {
        let token = SecretString::from(access_token.to_owned());
        let tokens = self.app.tokens().map_err(|e| anyhow!("{e}"))?;
        // Run, counted and timed like the endpoints' calls, so that both run under the same
        // conditions.
        let mut recording = Recording::named("floor", "", "", plan);
        for _ in 0..plan.total() {
            self.timed(&mut recording, async {
                let client = self.app.pool.get().await?;
                let statement = client.prepare_cached("SELECT 1").await?;
                client.query_one(&statement, &[]).await?;
                drop(client);
                tokens.verify(&token).map_err(|e| anyhow!("{e}"))?;
                anyhow::Ok(())
            })
            .await??;
        }
        let statements = recording.statements_per_call(self.counter.is_some());
        Ok((Summary::of(&recording.samples), statements))
    }
}

/// Argon2id alone, at the API's parameters, on the blocking pool as the handlers run it.
async fn argon2(plan: Plan) -> anyhow::Result<(Summary, Summary)> {
    let password = || Password::parse(PASSWORD).map_err(|e| anyhow!("{e}"));
    let mut hashes = Vec::with_capacity(plan.measured);
    let mut verifications = Vec::with_capacity(plan.measured);
    for i in 0..plan.total() {
        let started = Instant::now();
        let hash = auth::hashing::hash(password()?).await?;
        let hashed = started.elapsed();
        let started = Instant::now();
        let verified = auth::hashing::verify(password()?, Some(hash)).await?;
        let checked = started.elapsed();
        ensure!(verified, "a password did not verify against its own hash");
        if plan.phase(i) == Phase::Timed {
            hashes.push(hashed);
            verifications.push(checked);
        }
    }
    Ok((Summary::of(&hashes), Summary::of(&verifications)))
}

/// The endpoint's handler through [`respond`], as its function calls it in Lambda.
async fn call(app: &App, endpoint: Endpoint, request: Request) -> Response {
    respond(endpoint.route(), Some(app), request).await
}

type Response = lambda_http::Response<Body>;

/// A request to `endpoint` as API Gateway delivers it: from a client address, with a
/// `User-Agent`.
fn request(endpoint: Endpoint, content_type: Option<&str>, body: Body) -> Request {
    let method = endpoint.method().unwrap_or(Method::GET);
    let request = raw_request(method, endpoint.path(), content_type, body);
    from_client(request, "198.51.100.7", "bench/1.0")
}

/// A JSON POST. For the reset, the token goes in as a path parameter, which is what the handler
/// reads; the path itself stays the route's.
fn json_request(endpoint: Endpoint, body: &Value) -> Request {
    request(endpoint, Some("application/json"), body.to_string().into())
}

fn bearer(endpoint: Endpoint, token: &str) -> Request {
    let method = endpoint.method().unwrap_or(Method::GET);
    from_client(
        bearer_request(method, endpoint.path(), token),
        "198.51.100.7",
        "bench/1.0",
    )
}

/// `request` with an access token as its bearer.
fn with_bearer(mut request: Request, token: &str) -> Request {
    let value = format!("Bearer {token}")
        .parse()
        .expect("a header-safe token");
    request
        .headers_mut()
        .insert(lambda_http::http::header::AUTHORIZATION, value);
    request
}

fn signup_request(email: &str) -> Request {
    json_request(
        Endpoint::Signup,
        &json!({"name": "Bench User", "email": email, "password": PASSWORD}),
    )
}

fn signin_request(email: &str) -> Request {
    json_request(
        Endpoint::Signin,
        &json!({"email": email, "password": PASSWORD}),
    )
}

fn token(body: &Value, field: &str) -> anyhow::Result<String> {
    body[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {field} in the response"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budgets;

    /// Every function is in the benchmark, and the statement budgets hold: counted by
    /// PostgreSQL over a short run of every handler (the same harness as `make bench`, a few
    /// calls each; no time is asserted).
    #[tokio::test]
    async fn every_endpoint_runs_within_its_statement_budget() {
        let short = Plan {
            warmup: 2,
            counted: 3,
            measured: 3,
        };
        let plans = Plans {
            cheap: short,
            argon2: short,
            logout: short,
        };
        let run = run_with(&plans).await.expect("every endpoint answered");
        assert_eq!(
            run.statements_unavailable, None,
            "pg_stat_statements is loaded"
        );
        assert_eq!(
            run.floor_statements,
            Some(1.0),
            "the floor is one statement"
        );
        let measured: Vec<&str> = run.endpoints.iter().map(|e| e.endpoint.as_str()).collect();
        let missing: Vec<&str> = Endpoint::ALL
            .into_iter()
            .map(Endpoint::function)
            .filter(|function| !measured.contains(function))
            .collect();
        assert!(missing.is_empty(), "not in the benchmark: {missing:?}");
        let budgeted: Vec<&str> = budgets::STATEMENTS
            .into_iter()
            .chain(budgets::HELD_STATEMENTS)
            .map(|(name, _)| name)
            .collect();
        let unbudgeted: Vec<&str> = measured
            .iter()
            .copied()
            .filter(|name| !budgeted.contains(name))
            .collect();
        assert!(
            unbudgeted.is_empty(),
            "no statement count in budgets.rs: {unbudgeted:?}"
        );
        for (name, budget) in budgets::STATEMENTS
            .into_iter()
            .chain(budgets::HELD_STATEMENTS)
        {
            let endpoint = run
                .endpoints
                .iter()
                .find(|e| e.endpoint == name)
                .unwrap_or_else(|| panic!("{name} was measured"));
            let statements = endpoint
                .statements_per_request
                .unwrap_or_else(|| panic!("{name}: statements counted"));
            assert!(
                statements <= budget,
                "statements per {name} request: {statements}, over its budget of {budget}"
            );
        }
    }
}
