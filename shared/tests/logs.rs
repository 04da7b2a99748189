//! No secret reaches the logs: a whole journey (and its usual failures) runs through the real
//! `respond` with every log line captured at TRACE, in the functions' JSON format, from every
//! thread; then no line may hold a password, a token (whole, or its JWT payload or signature),
//! an Argon2 hash or a token hash as the database stores it. And a real function binary, under
//! the real Lambda runtime at `RUST_LOG=trace`, logs nothing of the event it answers.
//!
//! Its own test binary: the subscriber is process-global, so the connection tasks, the blocking
//! pool (Argon2) and the dependencies' `log` records are all captured. Needs `TEST_DATABASE_URL`
//! and `MOTO_ENDPOINT_URL` (reset emails go through SES, as in AWS: the local stack's
//! `EMAIL_TRANSPORT=log` writes the reset link to the log on purpose, and is not used here).

// The helpers' `TestApp::spawn` future is deep (a runtime role, migrations, keys): its layout
// needs more than the default query depth in this crate.
#![recursion_limit = "256"]

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use auth::aws::Aws;
use auth::config::EmailTransport;
use auth::domain::Email;
use auth::mail::Mailer;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sesv2::config::Credentials;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use lambda_http::http::StatusCode;
use sha2::{Digest, Sha256};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use uuid::Uuid;

use helpers::{PASSWORD, TestApp, jwt_part};

/// Every byte the subscriber writes, shared by all threads.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The lines holding any of the secrets, each with the name of what it leaks.
fn leaks<'a>(lines: &'a [String], secrets: &[(String, String)]) -> Vec<(String, &'a str)> {
    lines
        .iter()
        .flat_map(|line| {
            secrets
                .iter()
                .filter(|(_, secret)| line.contains(secret.as_str()))
                .map(move |(name, _)| (name.clone(), line.as_str()))
        })
        .collect()
}

/// The forms bytes may take in a log line: hex (both cases), base64 (all four alphabets and
/// paddings) and Rust's `Debug` of a byte slice (as a driver prints a `bytea` parameter).
fn byte_forms(name: &str, bytes: &[u8]) -> Vec<(String, String)> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let debug = format!("{bytes:?}");
    [
        ("hex", hex.clone()),
        ("HEX", hex.to_uppercase()),
        ("base64", STANDARD.encode(bytes)),
        ("base64 unpadded", STANDARD_NO_PAD.encode(bytes)),
        ("base64url", URL_SAFE.encode(bytes)),
        ("base64url unpadded", URL_SAFE_NO_PAD.encode(bytes)),
        ("Debug", debug.clone()),
        ("Debug, compact", debug.replace(' ', "")),
        // The middle of a debug list: a line cut short or formatted differently still shows it.
        (
            "Debug, inner",
            debug[debug.len() / 4..debug.len() * 3 / 4].to_owned(),
        ),
    ]
    .into_iter()
    .map(|(form, value)| (format!("{name} ({form})"), value))
    .collect()
}

/// A token, and for a JWT its payload and signature segments (the header is the same for every
/// token and says nothing).
fn token_forms(name: &str, token: &str) -> Vec<(String, String)> {
    let mut forms = vec![(name.to_owned(), token.to_owned())];
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 3 {
        forms.push((format!("{name} payload"), parts[1].to_owned()));
        forms.push((format!("{name} signature"), parts[2].to_owned()));
    }
    forms
}

/// An Argon2 PHC string, and its salt and hash fields on their own.
fn phc_forms(name: &str, phc: &str) -> Vec<(String, String)> {
    let fields: Vec<&str> = phc.split('$').collect();
    let (salt, hash) = (fields[fields.len() - 2], fields[fields.len() - 1]);
    vec![
        (format!("{name} (PHC string)"), phc.to_owned()),
        (format!("{name} salt"), salt.to_owned()),
        (format!("{name} hash"), hash.to_owned()),
    ]
}

async fn ses_mailer() -> Mailer {
    let moto = std::env::var("MOTO_ENDPOINT_URL").expect(
        "MOTO_ENDPOINT_URL is not set: run the tests with `make test`, which starts moto, or \
         start `moto_server` and point MOTO_ENDPOINT_URL at it",
    );
    assert!(
        moto.starts_with("http://127.0.0.1:") || moto.starts_with("http://localhost:"),
        "moto runs on loopback: {moto}"
    );
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await;
    let sender = format!("no-reply-{}@example.com", Uuid::new_v4().simple());
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("moto creates the sender identity");
    let from = Email::parse(&sender).unwrap();
    Mailer::new(&EmailTransport::Ses { from }, &Aws::with_config(sdk)).await
}

/// The Argon2 PHC string stored for an account.
async fn stored_hash(app: &TestApp, email: &str) -> String {
    app.db
        .query_one(
            "SELECT password_hash FROM users WHERE email = $1",
            &[&email],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_logs_no_password_token_or_hash() {
    let capture = Capture::default();
    auth::telemetry::try_init_with(
        Targets::new().with_default(LevelFilter::TRACE),
        capture.clone(),
    )
    .expect("this test binary installs the only global subscriber");

    // Grace 0: the reused refresh token below counts as theft at once.
    let mailer = ses_mailer().await;
    let app = TestApp::spawn_with_mailer(&[("REFRESH_REUSE_GRACE", "0")], mailer).await;
    let email = format!("leak-check-{}@example.com", Uuid::new_v4().simple());
    let new_password = "a brand new passphrase, also secret";
    let wrong_password = "not the password at all";
    let mut secrets: Vec<(String, String)> = vec![
        ("password".into(), PASSWORD.into()),
        ("new password".into(), new_password.into()),
        ("wrong password".into(), wrong_password.into()),
    ];

    // Sign up (and confirm the address with the emailed link), sign in, use and refresh the
    // session.
    app.registered_user("Leak Check", &email).await;
    let confirmation_token = app.verification_token_from_outbox(&email).await;
    // (Its six-digit code is not looked for: log timestamps hold six-digit runs by chance.)
    let first_hash = stored_hash(&app, &email).await;
    let signin = app.signin(&email, PASSWORD).await;
    assert_eq!(signin.status, StatusCode::OK, "{}", signin.body);
    let access = signin.str("access_token");
    let refresh = signin.str("refresh_token");
    assert_eq!(app.dashboard(&access).await.status, StatusCode::OK);
    let refreshed = app.refresh(&refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let access_2 = refreshed.str("access_token");
    let refresh_2 = refreshed.str("refresh_token");

    // Failures: a wrong password, a tampered token, the rotated refresh token again (theft).
    app.signin(&email, wrong_password)
        .await
        .assert_error(401, "invalid_credentials");
    let tampered = format!("{}x", &access_2[..access_2.len() - 1]);
    app.dashboard(&tampered)
        .await
        .assert_error(401, "invalid_token");
    app.refresh(&refresh)
        .await
        .assert_error(401, "invalid_token");
    app.dashboard(&access_2)
        .await
        .assert_error(401, "invalid_token");

    // Reset through the emailed link, sign in with the new password, log out.
    let reset_token = app.requested_reset_token(&email).await;
    // The janitor sends queued SES emails (requests only queue them): its logs count too.
    let sweep = auth::janitor::sweep(&app.app).await.unwrap();
    assert_eq!(
        sweep.emails_sent, 2,
        "the confirmation and the reset: {sweep:?}"
    );
    let reset = app.reset_password(&reset_token, new_password).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    app.reset_password(&reset_token, new_password)
        .await
        .assert_error(400, "invalid_reset_token");
    let second_hash = stored_hash(&app, &email).await;
    let signin_3 = app.signin(&email, new_password).await;
    assert_eq!(signin_3.status, StatusCode::OK, "{}", signin_3.body);
    let access_3 = signin_3.str("access_token");
    let refresh_3 = signin_3.str("refresh_token");
    assert_eq!(app.logout(&access_3).await.status, StatusCode::OK);
    app.logout(&access_3)
        .await
        .assert_error(401, "invalid_token");

    // What must not be in the logs.
    for (name, token) in [
        ("confirmation token", &confirmation_token),
        ("access token", &access),
        ("access token 2", &access_2),
        ("access token 3", &access_3),
        ("tampered access token", &tampered),
        ("refresh token", &refresh),
        ("refresh token 2", &refresh_2),
        ("refresh token 3", &refresh_3),
        ("reset token", &reset_token),
    ] {
        secrets.extend(token_forms(name, token));
        secrets.extend(byte_forms(
            &format!("SHA-256 of the {name}"),
            &Sha256::digest(token.as_bytes()),
        ));
    }
    assert_eq!(jwt_part(&access, 0)["typ"], "at+jwt", "the tokens are JWTs");
    secrets.extend(phc_forms("first password hash", &first_hash));
    secrets.extend(phc_forms("second password hash", &second_hash));
    for table in ["refresh_tokens", "reset_tokens"] {
        let rows = app
            .db
            .query(&format!("SELECT token_hash FROM {table}"), &[])
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{table} has rows to look for");
        for row in rows {
            secrets.extend(byte_forms(&format!("{table}.token_hash"), row.get(0)));
        }
    }

    // The capture sees every thread: a blocking-pool thread and a plain one.
    tokio::task::spawn_blocking(|| tracing::info!(marker = "blocking-pool", "capture check"))
        .await
        .unwrap();
    std::thread::spawn(|| tracing::info!(marker = "plain-thread", "capture check"))
        .join()
        .unwrap();

    let lines = capture.lines();
    for marker in ["blocking-pool", "plain-thread"] {
        assert!(
            lines.iter().any(|line| line.contains(marker)),
            "a line from the {marker} was not captured"
        );
    }
    // The journey itself was logged, at TRACE, in JSON, with the request spans.
    let handled = lines
        .iter()
        .filter(|line| line.contains("\"request handled\""))
        .count();
    assert_eq!(
        handled, 15,
        "one line per request of the journey (the confirmation of the address included)"
    );
    for line in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
    // Everything was asked for: the dependencies' debug lines came through (their trace lines,
    // which can hold payloads, are held back by the functions' filter).
    assert!(
        lines.iter().any(|l| l.contains("\"level\":\"DEBUG\"")),
        "DEBUG lines were captured"
    );

    // The detector finds what it looks for: a canary in the same forms is caught.
    let canary = Uuid::new_v4().simple().to_string();
    tracing::info!(canary = %canary, "canary");
    let with_canary = capture.lines();
    assert_eq!(
        leaks(&with_canary, &token_forms("canary", &canary)).len(),
        1,
        "the leak detector finds a logged value"
    );

    let found = leaks(&lines, &secrets);
    assert!(
        found.is_empty(),
        "{} log line(s) leak a secret:\n{}",
        found.len(),
        found
            .iter()
            .map(|(what, line)| format!("- {what}: {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The Lambda Runtime API, as little of it as a function needs for one invocation: the first
/// `GET …/invocation/next` gets `event`, later ones are left waiting; the function's answer (or
/// error) is sent on `answers`.
fn serve_one_invocation(
    event: String,
    answers: std::sync::mpsc::Sender<(String, String)>,
) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handed_out = Arc::new(Mutex::new(false));
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(connection) = connection else { return };
            let (event, answers, handed_out) = (event.clone(), answers.clone(), handed_out.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(connection.try_clone().unwrap());
                let mut writer = connection;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    if request_line.starts_with("GET") && request_line.contains("/invocation/next")
                    {
                        if std::mem::replace(&mut *handed_out.lock().unwrap(), true) {
                            // One invocation only: the function waits here until it is killed.
                            std::thread::park();
                            return;
                        }
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 60_000;
                        write!(
                            writer,
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             lambda-runtime-aws-request-id: request-1\r\n\
                             lambda-runtime-deadline-ms: {deadline}\r\n\
                             lambda-runtime-invoked-function-arn: \
                             arn:aws:lambda:eu-west-1:123456789012:function:signin\r\n\
                             content-length: {}\r\n\r\n{event}",
                            event.len()
                        )
                        .unwrap();
                    } else {
                        let _ = answers.send((
                            request_line.trim().to_owned(),
                            String::from_utf8_lossy(&body).into_owned(),
                        ));
                        write!(writer, "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                            .unwrap();
                    }
                }
            });
        }
    });
    address
}

/// The real `signin` binary, run by the real Lambda runtime with `RUST_LOG=trace`, answers one
/// API Gateway event holding a password, a bearer token and a token in the query; nothing of
/// them, nor of the tokens it answers, may reach its log (its stdout, as CloudWatch would get it).
/// The binary is the workspace's debug build, which `make test` makes before running the tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_binary_at_rust_log_trace_logs_no_part_of_its_event_or_answer() {
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("signin");
    assert!(
        binary.exists(),
        "{} is missing: build the workspace first (`make test` does)",
        binary.display()
    );
    let database = helpers::migrated_database().await;
    let email = "runtime-log@example.com";
    let hash = auth::hashing::hash(auth::domain::Password::parse(PASSWORD).unwrap())
        .await
        .unwrap();
    let (client, connection) =
        tokio_postgres::connect(&database.connection_string(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO users (name, email, password_hash, email_verified_at)
             VALUES ('Runtime Log', $1, $2, now())",
            &[&email, &hash.as_str()],
        )
        .await
        .unwrap();
    let bearer = "a-bearer-token-that-must-stay-secret";
    let query_token = "a-query-token-that-must-stay-secret";
    let body = serde_json::json!({"email": email, "password": PASSWORD}).to_string();
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /api/signin",
        "rawPath": "/api/signin",
        "rawQueryString": format!("token={query_token}"),
        "headers": {
            "authorization": format!("Bearer {bearer}"),
            "content-type": "application/json",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.example.com",
            "domainPrefix": "abc123", "requestId": "r", "routeKey": "POST /api/signin",
            "stage": "$default", "time": "24/Nov/2026:00:00:00 +0000", "timeEpoch": 1,
            "http": {"method": "POST", "path": "/api/signin", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "test"},
        },
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string();
    let (answers, answered) = std::sync::mpsc::channel();
    let runtime_api = serve_one_invocation(event, answers);

    let mut variables = testkit::config::base_variables(&database.connection_string());
    variables.extend(
        [
            ("RUST_LOG", "trace"),
            ("AWS_LAMBDA_RUNTIME_API", &runtime_api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", "signin"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "stream"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "group"),
            ("AWS_REGION", "eu-west-1"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    let child = std::process::Command::new(&binary)
        .env_clear()
        .envs(variables)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let answer = tokio::task::spawn_blocking(move || {
        answered.recv_timeout(std::time::Duration::from_secs(60))
    })
    .await
    .unwrap();
    let mut child = child;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout).into_owned();
    let answer = answer.unwrap_or_else(|_| {
        panic!(
            "no answer within a minute; stdout:\n{log}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });

    let (request_line, answer) = answer;
    assert!(
        request_line.contains("/invocation/request-1/response"),
        "{request_line} {answer}"
    );
    let response: serde_json::Value =
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(response["statusCode"], 200, "{answer}");
    let answered_body: serde_json::Value =
        serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    let lines: Vec<String> = log.lines().map(str::to_owned).collect();
    assert!(
        lines.iter().any(|l| l.contains("\"level\":\"DEBUG\"")),
        "the runtime logged at RUST_LOG=trace: {log}"
    );
    // Its cold start says where its time went, once, before the request.
    let position = |message: &str| {
        lines
            .iter()
            .position(|l| l.contains(&format!("\"message\":\"{message}\"")))
            .unwrap_or_else(|| panic!("no {message:?} line: {log}"))
    };
    let initialised: serde_json::Value =
        serde_json::from_str(&lines[position("initialised")]).unwrap();
    for phase in ["config_ms", "state_ms"] {
        let ms = initialised["fields"][phase].as_f64();
        assert!(ms.is_some_and(|ms| ms >= 0.0), "{phase}: {initialised}");
    }
    assert!(
        position("initialised") < position("request handled"),
        "{log}"
    );
    let mut secrets = vec![
        ("password".to_owned(), PASSWORD.to_owned()),
        ("bearer token".to_owned(), bearer.to_owned()),
        ("query token".to_owned(), query_token.to_owned()),
    ];
    for field in ["access_token", "refresh_token", "device_token"] {
        let token = answered_body[field].as_str().unwrap();
        secrets.extend(token_forms(field, token));
    }
    let leaked = leaks(&lines, &secrets);
    assert!(leaked.is_empty(), "secrets in the log: {leaked:#?}");
}
