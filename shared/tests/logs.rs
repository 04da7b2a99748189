//! No secret reaches the logs: a whole journey (and its usual failures) runs through the real
//! `respond` with every log line captured at TRACE, in the functions' JSON format, from every
//! thread; then no line may hold a password, a token (whole, or its JWT payload or signature),
//! an Argon2 hash or a token hash as the database stores it.
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
    assert!(
        lines.iter().any(|l| l.contains("\"level\":\"TRACE\"")),
        "TRACE lines were captured"
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
