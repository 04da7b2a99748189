//! Outages: a database that stops mid-run, never answers, or is too slow is answered 503
//! `service_unavailable` within the configured timeouts, no change is left half-written, and the
//! API recovers as soon as the database is back.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use auth::Endpoint;
use auth::config::{DatabaseConfig, DbTimeouts, DbTls};
use auth::tokens::TokenHash;
use futures::future::join_all;
use lambda_http::http::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use testkit::cluster::Cluster;
use tokio_postgres::NoTls;

use crate::helpers::{
    PASSWORD, TestApp, TestResponse, bearer_request, fresh_database_with, json_request,
    reset_request,
};

/// Short, so the tests are quick (production defaults: 3 s and 5 s).
const TIMEOUTS: DbTimeouts = DbTimeouts {
    connect: Duration::from_millis(1000),
    statement: Duration::from_millis(1500),
};

/// Argon2 runs before or between database calls (signup hashes first, a reset between two
/// statements); on a machine shared with other tests one hash may take this long.
const HASHING_ALLOWANCE: Duration = Duration::from_secs(2);

const NEW_PASSWORD: &str = "a brand new correct horse";

/// The longest a request may take when the database fails, from the configured timeouts: waiting
/// for a pooled connection, opening one (two logins when a refused login is retried), one
/// statement, and a password hash.
fn request_bound() -> Duration {
    TIMEOUTS.connect + 2 * TIMEOUTS.connect + TIMEOUTS.statement + HASHING_ALLOWANCE
}

/// A response and how long it took.
struct Timed {
    what: &'static str,
    started: Instant,
    elapsed: Duration,
    response: TestResponse,
}

async fn timed(what: &'static str, request: impl Future<Output = TestResponse>) -> Timed {
    let started = Instant::now();
    let response = request.await;
    Timed {
        what,
        started,
        elapsed: started.elapsed(),
        response,
    }
}

/// [`timed`], failing the test instead of hanging when nothing bounds the request.
async fn bounded(what: &'static str, request: impl Future<Output = TestResponse>) -> Timed {
    tokio::time::timeout(
        request_bound() + Duration::from_secs(10),
        timed(what, request),
    )
    .await
    .unwrap_or_else(|_| panic!("{what} hung: nothing bounds how long it waits on the database"))
}

impl Timed {
    /// Asserts a 503 `service_unavailable` (exact body shape) that came back within `bound`.
    #[track_caller]
    fn assert_unavailable_within(&self, bound: Duration) {
        self.response.assert_error(503, "service_unavailable");
        assert!(
            self.elapsed <= bound,
            "{}: answered after {:?}, more than the {bound:?} the timeouts allow",
            self.what,
            self.elapsed
        );
    }

    /// Asserts a 503 that came after the server's statement timeout cancelled a blocked statement.
    #[track_caller]
    fn assert_timed_out(&self) {
        self.assert_unavailable_within(request_bound());
        assert!(
            self.elapsed >= TIMEOUTS.statement,
            "{}: answered after {:?}, before the statement timeout: it did not wait on the lock",
            self.what,
            self.elapsed
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The database stopped mid-run
// ---------------------------------------------------------------------------------------------

/// Runs a blocking cluster command off the runtime, so requests keep flowing meanwhile.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}

/// A signed-up user and the tokens of their latest sign-in.
struct Account {
    email: String,
    access: String,
    refresh: String,
}

async fn signed_in(app: &TestApp, email: String) -> Account {
    let response = app.signed_in_user(&email).await;
    Account {
        email,
        access: response.str("access_token"),
        refresh: response.str("refresh_token"),
    }
}

/// When the server was stopped; requests keep coming for a while after it.
struct Outage {
    stopped_at: OnceLock<Instant>,
}

impl Outage {
    /// Requests keep coming this long after the stop.
    const LINGER: Duration = Duration::from_millis(1500);

    fn over(&self) -> bool {
        self.stopped_at
            .get()
            .is_some_and(|at| at.elapsed() > Self::LINGER)
    }
}

/// Signs in, rotates, reads the dashboard, asks for a reset, signs up someone new and logs out,
/// over and over, until the outage is over.
async fn user_traffic(
    app: &TestApp,
    mut me: Account,
    worker: usize,
    outage: &Outage,
) -> Vec<Timed> {
    let mut seen = Vec::new();
    let mut round = 0;
    while !outage.over() {
        round += 1;
        for what in [
            "signin",
            "refresh",
            "dashboard",
            "forgot-password",
            "signup",
            "logout",
        ] {
            let (endpoint, request) = match what {
                "signin" => (
                    Endpoint::Signin,
                    json_request(
                        Endpoint::Signin.path(),
                        &json!({"email": me.email, "password": PASSWORD}),
                    ),
                ),
                "refresh" => (
                    Endpoint::Refresh,
                    bearer_request(Method::POST, "/api/refresh", &me.refresh),
                ),
                "dashboard" => (
                    Endpoint::Dashboard,
                    bearer_request(Method::GET, "/api/dashboard", &me.access),
                ),
                "forgot-password" => (
                    Endpoint::ForgotPassword,
                    json_request(Endpoint::ForgotPassword.path(), &json!({"email": me.email})),
                ),
                "signup" => (
                    Endpoint::Signup,
                    json_request(
                        Endpoint::Signup.path(),
                        &json!({
                            "name": "New Comer",
                            "email": format!("new-{worker}-{round}@example.com"),
                            "password": PASSWORD,
                        }),
                    ),
                ),
                _ => (
                    Endpoint::Logout,
                    bearer_request(Method::POST, "/api/logout", &me.access),
                ),
            };
            // One await for every request: in a debug build, each await of a handler future
            // costs its own stack space.
            let answer = timed(what, app.call(endpoint, request)).await;
            if answer.response.status == StatusCode::OK {
                match what {
                    "signin" => {
                        me.access = answer.response.str("access_token");
                        me.refresh = answer.response.str("refresh_token");
                    }
                    "refresh" => me.refresh = answer.response.str("refresh_token"),
                    _ => {}
                }
            }
            seen.push(answer);
        }
    }
    seen
}

/// Spends the reset tokens one after the other, then keeps presenting the last one.
async fn reset_traffic(app: &TestApp, tokens: Vec<String>, outage: &Outage) -> Vec<Timed> {
    let mut seen = Vec::new();
    let mut tokens = tokens.iter().cycle();
    while !outage.over() {
        let token = tokens.next().unwrap();
        seen.push(timed("reset-password", app.reset_password(token, NEW_PASSWORD)).await);
    }
    seen
}

/// The statuses each endpoint may answer in this workload while the database is up; 503 is
/// allowed for all of them (it is checked separately).
fn documented(what: &str) -> &'static [(u16, &'static str)] {
    match what {
        "signin" => &[(200, "")],
        "refresh" => &[(200, ""), (401, "invalid_token")],
        "dashboard" => &[(200, ""), (401, "invalid_token")],
        "forgot-password" => &[(200, "")],
        "signup" => &[(202, "")],
        "logout" => &[(200, ""), (401, "invalid_token")],
        "reset-password" => &[(200, ""), (400, "invalid_reset_token")],
        other => panic!("unknown request {other}"),
    }
}

#[tokio::test]
async fn a_database_stopped_mid_run_is_503_leaves_nothing_half_written_and_the_api_recovers() {
    // A cluster of this test's own: it is stopped, which the shared one every other test is
    // using must not be.
    let cluster = Arc::new(blocking(|| Cluster::start().unwrap()).await);
    let (admin, connection) = cluster.url("postgres").connect(NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    admin.batch_execute("CREATE DATABASE auth").await.unwrap();
    drop(admin);
    let _ = driver.await;
    let database = DatabaseConfig {
        url: cluster.url("auth"),
        pool_size: 8,
        tls: DbTls::Disable,
        credentials_secret: None,
        timeouts: TIMEOUTS,
    };
    auth::db::migrate(&database).await.unwrap();
    let app = TestApp::over_database(database, None).await;
    // Each phase is boxed: in a debug build, one async fn awaiting this many handler futures
    // needs more stack than a test thread has.
    let (users, resetters, reset_tokens) = Box::pin(arrange(&app)).await;
    let probe = Account {
        email: users[0].email.clone(),
        access: users[0].access.clone(),
        refresh: users[0].refresh.clone(),
    };

    let (seen, stopped_at) =
        Box::pin(traffic_through_a_stop(&app, &cluster, users, reset_tokens)).await;

    assert_only_documented_answers_or_503(&seen, stopped_at);
    Box::pin(assert_every_endpoint_is_503(&app, &probe)).await;
    blocking({
        let cluster = Arc::clone(&cluster);
        move || cluster.start_again().unwrap()
    })
    .await;
    // The very next request is served, on a new connection.
    Box::pin(assert_signin_and_dashboard_work(&app, &probe.email)).await;
    let app = app.reconnected().await;
    Box::pin(assert_no_half_written_state(&app)).await;
    Box::pin(assert_resets_are_all_or_nothing(&app, &resetters)).await;
}

/// Users who sign in and out; users with a live session and a pending reset, and their tokens.
async fn arrange(app: &TestApp) -> (Vec<Account>, Vec<Account>, Vec<String>) {
    let mut users = Vec::new();
    for worker in 0..4 {
        users.push(signed_in(app, format!("user-{worker}@example.com")).await);
    }
    let mut resetters = Vec::new();
    let mut reset_tokens = Vec::new();
    for n in 0..12 {
        let account = signed_in(app, format!("resetter-{n}@example.com")).await;
        reset_tokens.push(app.requested_reset_token(&account.email).await);
        resetters.push(account);
    }
    (users, resetters, reset_tokens)
}

/// Traffic from several clients while the server is killed under it; returns every answer and
/// when the server was gone.
async fn traffic_through_a_stop(
    app: &TestApp,
    cluster: &Arc<Cluster>,
    users: Vec<Account>,
    reset_tokens: Vec<String>,
) -> (Vec<Timed>, Instant) {
    let outage = Outage {
        stopped_at: OnceLock::new(),
    };
    let traffic = futures::future::join(
        join_all(
            users
                .into_iter()
                .enumerate()
                .map(|(worker, me)| Box::pin(user_traffic(app, me, worker, &outage))),
        ),
        Box::pin(reset_traffic(app, reset_tokens, &outage)),
    );
    let kill = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let cluster = Arc::clone(cluster);
        blocking(move || cluster.stop_immediately().unwrap()).await;
        outage.stopped_at.set(Instant::now()).unwrap();
    };
    let ((users_seen, resets_seen), ()) = futures::join!(traffic, kill);
    let mut seen: Vec<Timed> = users_seen.into_iter().flatten().collect();
    seen.extend(resets_seen);
    (seen, *outage.stopped_at.get().unwrap())
}

/// Every answer is one its endpoint documents or a well-formed 503 within the bound; every
/// request made after the stop is a 503.
fn assert_only_documented_answers_or_503(seen: &[Timed], stopped_at: Instant) {
    let bound = request_bound();
    let mut answered_before = 0;
    let mut refused_after = 0;
    for request in seen {
        let response = &request.response;
        let status = response.status.as_u16();
        if status == 503 {
            request.assert_unavailable_within(bound);
        } else {
            let code = if status < 300 { "" } else { response.error() };
            assert!(
                documented(request.what).contains(&(status, code)),
                "{}: unexpected {status} {}",
                request.what,
                response.body
            );
            if status >= 400 {
                response.assert_error(status, code);
            }
        }
        if request.started >= stopped_at {
            assert_eq!(
                status, 503,
                "{} after the stop: {}",
                request.what, response.body
            );
            refused_after += 1;
        } else if status < 300 {
            answered_before += 1;
        }
    }
    assert!(
        answered_before > 0,
        "the database served requests before it was stopped"
    );
    assert!(
        refused_after > 0,
        "requests were made while the database was down"
    );
}

/// Every endpoint that needs the database, while it is down.
async fn assert_every_endpoint_is_503(app: &TestApp, probe: &Account) {
    let probes = [
        (
            Endpoint::Signup,
            json_request(
                Endpoint::Signup.path(),
                &json!({"name": "Late", "email": "late@example.com", "password": PASSWORD}),
            ),
        ),
        (
            Endpoint::Signin,
            json_request(
                Endpoint::Signin.path(),
                &json!({"email": probe.email, "password": PASSWORD}),
            ),
        ),
        (
            Endpoint::Refresh,
            bearer_request(Method::POST, "/api/refresh", &probe.refresh),
        ),
        (
            Endpoint::Dashboard,
            bearer_request(Method::GET, "/api/dashboard", &probe.access),
        ),
        (
            Endpoint::Logout,
            bearer_request(Method::POST, "/api/logout", &probe.access),
        ),
        (
            Endpoint::ForgotPassword,
            json_request(
                Endpoint::ForgotPassword.path(),
                &json!({"email": probe.email}),
            ),
        ),
        (
            Endpoint::ResetPassword,
            reset_request(&"x".repeat(43), &json!({"password": NEW_PASSWORD})),
        ),
    ];
    for (endpoint, request) in probes {
        let answer = timed(endpoint.path(), app.call(endpoint, request)).await;
        answer.assert_unavailable_within(request_bound());
    }
}

async fn assert_signin_and_dashboard_work(app: &TestApp, email: &str) {
    let signin = app.signin(email, PASSWORD).await;
    assert_eq!(signin.status, StatusCode::OK, "{}", signin.body);
    let dashboard = app.dashboard(&signin.str("access_token")).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
}

/// A reset either happened entirely (new password, old sessions ended) or not at all.
async fn assert_resets_are_all_or_nothing(app: &TestApp, resetters: &[Account]) {
    for account in resetters {
        let consumed = app
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM reset_tokens t JOIN users u ON u.id = t.user_id
                                WHERE u.email = $1 AND t.used_at IS NOT NULL)",
                &[&account.email],
            )
            .await
            .unwrap()
            .get::<_, bool>(0);
        let password = if consumed { NEW_PASSWORD } else { PASSWORD };
        let signin = app.signin(&account.email, password).await;
        assert_eq!(
            signin.status,
            StatusCode::OK,
            "{} (reset consumed: {consumed}): {}",
            account.email,
            signin.body
        );
        let old_session = app.dashboard(&account.access).await;
        if consumed {
            old_session.assert_invalid_token("a completed reset ended the sessions from before it");
        } else {
            assert_eq!(old_session.status, StatusCode::OK, "{}", old_session.body);
        }
    }
}

/// The schema's cross-row invariants, each kept by one transaction in the service.
async fn assert_no_half_written_state(app: &TestApp) {
    let checks = [
        (
            "a session without a refresh token (signin writes both)",
            "SELECT count(*) FROM sessions s
             WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)",
        ),
        (
            "a rotated refresh token without its successor (refresh marks one and inserts the other)",
            "SELECT count(*) FROM refresh_tokens t
             WHERE t.used_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM refresh_tokens n
                               WHERE n.session_id = t.session_id AND n.issued_at > t.issued_at)",
        ),
        (
            "a logged-out session whose access token was not revoked (logout writes both)",
            "SELECT count(*) FROM sessions s
             WHERE s.revoked_reason = 'logout'
               AND NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.session_id = s.id)",
        ),
        (
            "a consumed reset token without the new password or with sessions left live",
            "SELECT count(*) FROM reset_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.used_at IS NOT NULL
               AND (u.updated_at < t.used_at
                    OR EXISTS (SELECT 1 FROM sessions s
                               WHERE s.user_id = u.id AND s.created_at < t.used_at
                                 AND s.revoked_at IS NULL))",
        ),
        (
            "an account made by sign-up without its confirmation and its email (one statement)",
            "SELECT count(*) FROM users u
             WHERE u.verification_required AND u.email_verified_at IS NULL
               AND (NOT EXISTS (SELECT 1 FROM email_verifications v WHERE v.user_id = u.id)
                    OR NOT EXISTS (SELECT 1 FROM email_outbox o
                                   WHERE o.recipient = u.email
                                     AND o.subject = 'Confirm your email address'))",
        ),
        (
            "reset tokens and reset emails in different numbers (forgot-password writes both)",
            "SELECT abs((SELECT count(*) FROM reset_tokens) - (SELECT count(*) FROM email_outbox WHERE subject = 'Reset your password'))",
        ),
    ];
    for (what, sql) in checks {
        assert_eq!(app.count(sql).await, 0, "{what}");
    }
    // Each queued email carries the link of a stored token.
    let rows = app
        .db
        .query(
            "SELECT body_text FROM email_outbox WHERE subject = 'Reset your password'",
            &[],
        )
        .await
        .unwrap();
    for row in rows {
        let body: String = row.get(0);
        let prefix = "/reset-password#";
        let start = body.find(prefix).expect("a reset link") + prefix.len();
        let token = body[start..].split_whitespace().next().unwrap();
        let hash = TokenHash::of(&SecretString::from(token.to_owned()));
        let stored = app
            .db
            .query_one(
                "SELECT count(*) FROM reset_tokens WHERE token_hash = $1",
                &[&hash.0.as_slice()],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        assert_eq!(stored, 1, "an email whose reset token was not stored");
    }
}

// ---------------------------------------------------------------------------------------------
// A database that never answers, or has no connection free
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_database_that_accepts_but_never_answers_the_login_is_503_within_the_timeouts() {
    // The kernel completes TCP handshakes on a listening socket that nobody accepts from: the
    // login is sent and never answered, as by a hung server or a proxy waiting for a backend.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!(
        "postgres://postgres@127.0.0.1:{}/silent",
        silent.local_addr().unwrap().port()
    );
    let database = DatabaseConfig {
        url: tokio_postgres::Config::from_str(&silent_url).unwrap(),
        pool_size: 1,
        tls: DbTls::Disable,
        credentials_secret: None,
        timeouts: TIMEOUTS,
    };
    let app = TestApp::unreachable(auth::config::Config {
        database: database.clone(),
        ..testkit::config::load(&silent_url, &[]).await
    })
    .await;
    let bound = request_bound();

    let signin = bounded("signin", app.signin("jane@example.com", PASSWORD)).await;
    let started = Instant::now();
    let direct = tokio::time::timeout(bound, auth::db::connect(&database))
        .await
        .expect("connect hung: opening a connection is not bounded");

    signin.assert_unavailable_within(bound);
    assert!(signin.elapsed >= TIMEOUTS.connect, "{:?}", signin.elapsed);
    let error = direct.expect_err("nothing answered");
    assert!(
        started.elapsed() <= TIMEOUTS.connect + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        format!("{error:#}").contains("no answer within"),
        "{error:#}"
    );
}

#[tokio::test]
async fn a_request_that_finds_no_free_connection_is_503_within_the_connect_timeout() {
    let mut database = fresh_database_with(TIMEOUTS).await;
    database.config.pool_size = 1;
    let app = TestApp::over(database).await;
    app.registered_user("Jane", "jane@example.com").await;
    let held = app.app.pool.get().await.unwrap();

    let waited = bounded("signin", app.signin("jane@example.com", PASSWORD)).await;

    waited.assert_unavailable_within(request_bound());
    assert!(waited.elapsed >= TIMEOUTS.connect, "{:?}", waited.elapsed);
    drop(held);
    let signin = app.signin("jane@example.com", PASSWORD).await;
    assert_eq!(signin.status, StatusCode::OK, "{}", signin.body);
}

// ---------------------------------------------------------------------------------------------
// A slow database: a lock held elsewhere blocks a change half-way
// ---------------------------------------------------------------------------------------------

/// Another session holding a lock in an open transaction, as a long migration or a stuck job
/// would, until released.
struct LockHolder {
    client: tokio_postgres::Client,
}

impl LockHolder {
    async fn take(app: &TestApp, lock: &str) -> LockHolder {
        let url = app.app.config.database.url.clone();
        let (client, connection) = url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        // Its own session is exempt from the database's timeouts, or the server would end it
        // (idle in a transaction) while the request is still waiting on its lock.
        client
            .batch_execute(&format!(
                "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;
                 BEGIN; {lock}"
            ))
            .await
            .unwrap();
        LockHolder { client }
    }

    async fn release(self) {
        self.client.batch_execute("ROLLBACK").await.unwrap();
    }
}

/// An app whose database cancels statements after [`TIMEOUTS`]`.statement`.
async fn impatient_app() -> TestApp {
    TestApp::over(fresh_database_with(TIMEOUTS).await).await
}

#[tokio::test]
async fn a_signup_blocked_on_a_lock_is_503_after_the_statement_timeout() {
    let app = impatient_app().await;
    let holder = LockHolder::take(&app, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE").await;

    let blocked = bounded("signup", app.signup("Jane", "jane@example.com", PASSWORD)).await;
    holder.release().await;

    blocked.assert_timed_out();
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
    app.registered_user("Jane", "jane@example.com").await;
}

#[tokio::test]
async fn a_signin_blocked_half_way_leaves_no_session_behind() {
    let app = impatient_app().await;
    app.registered_user("Jane", "jane@example.com").await;
    // The session row is written first; the refresh token's insert then waits.
    let holder = LockHolder::take(&app, "LOCK TABLE refresh_tokens IN ACCESS EXCLUSIVE MODE").await;

    let blocked = bounded("signin", app.signin("jane@example.com", PASSWORD)).await;
    holder.release().await;

    blocked.assert_timed_out();
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
    let again = app.signin("jane@example.com", PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_no_half_written_state(&app).await;
}

#[tokio::test]
async fn a_refresh_blocked_half_way_leaves_the_presented_token_unused() {
    let app = impatient_app().await;
    let refresh = app
        .signed_in_user("jane@example.com")
        .await
        .str("refresh_token");
    // The presented token is marked used first; pushing the session's expiry then waits.
    let holder = LockHolder::take(&app, "SELECT 1 FROM sessions FOR UPDATE").await;

    let blocked = bounded("refresh", app.refresh(&refresh)).await;
    holder.release().await;

    blocked.assert_timed_out();
    assert_eq!(
        app.count("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL")
            .await,
        0,
        "the failed rotation marked the token used"
    );
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 1);
    let retried = app.refresh(&refresh).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_no_half_written_state(&app).await;
}

#[tokio::test]
async fn a_logout_blocked_half_way_leaves_the_session_live() {
    let app = impatient_app().await;
    let access = app.signed_in_access_token("jane@example.com").await;
    // The session is ended first; revoking the access token then waits.
    let holder = LockHolder::take(&app, "LOCK TABLE revoked_tokens IN ACCESS EXCLUSIVE MODE").await;

    let blocked = bounded("logout", app.logout(&access)).await;
    holder.release().await;

    blocked.assert_timed_out();
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
            .await,
        1
    );
    let dashboard = app.dashboard(&access).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    let logout = app.logout(&access).await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
    assert_no_half_written_state(&app).await;
}

#[tokio::test]
async fn a_forgot_password_blocked_half_way_leaves_no_token_without_its_email() {
    let app = impatient_app().await;
    app.registered_user("Jane", "jane@example.com").await;
    // The reset token is written first; queueing its email then waits.
    let holder = LockHolder::take(&app, "LOCK TABLE email_outbox IN ACCESS EXCLUSIVE MODE").await;

    let blocked = bounded("forgot-password", app.forgot_password("jane@example.com")).await;
    holder.release().await;

    blocked.assert_timed_out();
    assert_eq!(app.count("SELECT count(*) FROM reset_tokens").await, 0);
    app.requested_reset_token("jane@example.com").await;
    assert_no_half_written_state(&app).await;
}

#[tokio::test]
async fn a_reset_blocked_half_way_keeps_the_old_password_token_and_sessions() {
    let app = impatient_app().await;
    let access = app.signed_in_access_token("jane@example.com").await;
    let token = app.requested_reset_token("jane@example.com").await;
    // The token is consumed and the password written first; ending the sessions then waits.
    let holder = LockHolder::take(&app, "LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE").await;

    let blocked = bounded("reset-password", app.reset_password(&token, NEW_PASSWORD)).await;
    holder.release().await;

    blocked.assert_timed_out();
    assert_eq!(
        app.count("SELECT count(*) FROM reset_tokens WHERE used_at IS NOT NULL")
            .await,
        0,
        "the failed reset consumed the token"
    );
    let dashboard = app.dashboard(&access).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    let old_password = app.signin("jane@example.com", PASSWORD).await;
    assert_eq!(old_password.status, StatusCode::OK, "{}", old_password.body);
    let reset = app.reset_password(&token, NEW_PASSWORD).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let new_password = app.signin("jane@example.com", NEW_PASSWORD).await;
    assert_eq!(new_password.status, StatusCode::OK, "{}", new_password.body);
    assert_no_half_written_state(&app).await;
}

// ---------------------------------------------------------------------------------------------
// The server-side defaults themselves
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_server_ends_a_session_left_idle_inside_a_transaction() {
    let database = fresh_database_with(TIMEOUTS).await;
    let connect = || async {
        let (client, connection) = database.url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    };
    let idle_in_transaction = connect().await;
    let idle_outside = connect().await;
    idle_in_transaction
        .batch_execute("BEGIN; SELECT 1")
        .await
        .unwrap();

    tokio::time::sleep(TIMEOUTS.statement + Duration::from_millis(700)).await;

    assert!(
        idle_in_transaction.simple_query("SELECT 1").await.is_err(),
        "a transaction left open (its locks with it) outlived the timeout"
    );
    idle_outside.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn migrations_wait_for_another_deploy_longer_than_a_request_may() {
    let database = fresh_database_with(TIMEOUTS).await;
    let (other_deploy, connection) = database.url.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    other_deploy
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&auth::db::MIGRATION_LOCK_KEY],
        )
        .await
        .unwrap();

    let release = async {
        tokio::time::sleep(2 * TIMEOUTS.statement).await;
        other_deploy
            .execute(
                "SELECT pg_advisory_unlock($1)",
                &[&auth::db::MIGRATION_LOCK_KEY],
            )
            .await
            .unwrap();
    };
    let (migrated, ()) = futures::join!(auth::db::migrate(&database), release);

    migrated.expect("the migration waited for the lock instead of timing out");
}
