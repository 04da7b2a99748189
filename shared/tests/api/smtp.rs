//! Reset emails sent over SMTP to a real server: MailDev on loopback, which `make test` starts
//! with a login, naming its SMTP URL (user and password included) in `SMTP_TEST_URL` and its REST
//! API, where the tests read what arrived, in `SMTP_TEST_API`.

use auth::aws::Aws;
use auth::config::EmailTransport;
use auth::domain::Email;
use auth::mail::Mailer;
use lambda_http::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{RESET_LINK_PREFIX, TestApp, UNVERIFIED};

fn variable(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `make test`, which starts MailDev (npm ci \
             --prefix local), or start an SMTP server and set SMTP_TEST_URL (its smtp:// URL) and \
             SMTP_TEST_API (the base of MailDev's REST API)"
        )
    })
}

/// The SMTP URL of the test server, its login included.
fn smtp_url() -> String {
    variable("SMTP_TEST_URL")
}

/// The messages the server received for `recipient`, as MailDev's API lists them.
fn received_by(recipient: &str) -> Vec<Value> {
    let inbox: Value = ureq::get(format!("{}/email", variable("SMTP_TEST_API")))
        .call()
        .expect("MailDev's API answers")
        .body_mut()
        .read_json()
        .unwrap();
    inbox
        .as_array()
        .expect("GET /email lists the messages")
        .iter()
        .filter(|message| addresses(&message["to"]) == [recipient])
        .cloned()
        .collect()
}

/// The addresses of a MailDev address list (`[{"address", "name"}]`).
fn addresses(list: &Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["address"].as_str())
        .collect()
}

/// A sender of this test's own, so its messages cannot be confused with another test's.
fn sender() -> Email {
    Email::parse(&format!("no-reply-{}@example.com", Uuid::new_v4().simple())).unwrap()
}

async fn smtp_mailer(url: &str, from: &Email) -> Mailer {
    let transport = EmailTransport::Smtp {
        url: url.into(),
        from: from.clone(),
    };
    Mailer::new(&transport, &Aws::from_environment()).await
}

/// An SMTP URL's parts: scheme, user, password, server (`host:port`).
fn login_parts(url: &str) -> (&str, &str, &str, &str) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (login, server) = rest
        .split_once('@')
        .expect("SMTP_TEST_URL names a server that requires a login (user:password@)");
    let (user, password) = login.split_once(':').unwrap();
    (scheme, user, password, server)
}

/// `url` with another password.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, user, _, server) = login_parts(url);
    format!("{scheme}://{user}:{password}@{server}")
}

/// The outbox row of the one email queued: sent, attempts, last error.
async fn outbox_row(app: &TestApp) -> (bool, i32, Option<String>) {
    let row = app
        .db
        .query_one(
            "SELECT sent_at IS NOT NULL, attempts, last_error FROM email_outbox",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn forgot_password_queues_the_reset_link_and_the_janitor_delivers_it_over_smtp() {
    let from = sender();
    let app = TestApp::spawn_with_mailer(UNVERIFIED, smtp_mailer(&smtp_url(), &from).await).await;
    let recipient = format!("jane-{}@example.com", Uuid::new_v4().simple());
    app.registered_user("Jane", &recipient).await;

    let response = app.forgot_password(&recipient).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        received_by(&recipient).is_empty(),
        "no SMTP call in the request: it would make known emails slower to answer"
    );
    // Read while queued: once delivered, the outbox no longer holds it.
    let queued_body: String = app
        .db
        .query_one("SELECT body_text FROM email_outbox", &[])
        .await
        .unwrap()
        .get(0);
    let token = app.reset_token_from_outbox(&recipient).await;

    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!((report.emails_sent, report.emails_failed), (1, 0));
    let messages = received_by(&recipient);
    assert_eq!(messages.len(), 1, "exactly one email arrived: {messages:?}");
    let message = &messages[0];
    assert_eq!(addresses(&message["from"]), [from.as_str()], "{message}");
    assert_eq!(
        message["envelope"]["from"]["address"],
        from.as_str(),
        "{message}"
    );
    assert_eq!(message["subject"], auth::emails::RESET_SUBJECT);
    let text = message["text"].as_str().expect("a plain-text body");
    assert_eq!(
        text.trim_end(),
        queued_body.trim_end(),
        "the body arrived intact"
    );
    let kept: String = app
        .db
        .query_one("SELECT body_text FROM email_outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        kept, "",
        "a delivered email's body, live link and all, is not kept"
    );
    assert!(
        text.contains(&format!("{RESET_LINK_PREFIX}{token}")),
        "{text}"
    );
    assert_eq!(outbox_row(&app).await, (true, 1, None));
    let again = auth::janitor::sweep(&app.app).await.unwrap();
    assert_eq!(again.emails_sent, 0, "a sent email is never sent twice");
    assert_eq!(received_by(&recipient).len(), 1);
}

#[tokio::test]
async fn a_refused_smtp_connection_leaves_the_email_unsent_for_the_next_run() {
    // A loopback port nothing listens on: the connection is refused at once.
    let port = testkit::ports::free_port().unwrap();
    let mailer = smtp_mailer(&format!("smtp://127.0.0.1:{port}"), &sender()).await;
    let app = TestApp::spawn_with_mailer(UNVERIFIED, mailer).await;
    let recipient = format!("jane-{}@example.com", Uuid::new_v4().simple());
    app.registered_user("Jane", &recipient).await;

    let known = app.forgot_password(&recipient).await;
    let unknown = app.forgot_password("nobody@example.com").await;

    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let report = auth::janitor::sweep(&app.app).await.unwrap();
    assert_eq!((report.emails_sent, report.emails_failed), (0, 1));
    let (sent, attempts, error) = outbox_row(&app).await;
    assert_eq!((sent, attempts), (false, 1), "left unsent for the janitor");
    let error = error.expect("the failure is recorded");
    assert!(error.contains("SMTP"), "{error}");
    assert!(
        !error.contains(&app.reset_token_from_outbox(&recipient).await),
        "no token in the recorded error"
    );
}

#[tokio::test]
async fn a_refused_smtp_login_is_retried_and_no_password_is_recorded() {
    let from = sender();
    let wrong_password = format!("wrong-{}", Uuid::new_v4().simple());
    let wrong = with_password(&smtp_url(), &wrong_password);
    let app = TestApp::spawn_with_mailer(UNVERIFIED, smtp_mailer(&wrong, &from).await).await;
    let recipient = format!("jane-{}@example.com", Uuid::new_v4().simple());
    app.registered_user("Jane", &recipient).await;
    app.forgot_password(&recipient).await;

    let first = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!((first.emails_sent, first.emails_failed), (0, 1));
    assert!(received_by(&recipient).is_empty());
    let (sent, attempts, error) = outbox_row(&app).await;
    assert_eq!((sent, attempts), (false, 1));
    let error = error.expect("the failure is recorded");
    let url = smtp_url();
    let (_, _, right_password, _) = login_parts(&url);
    assert!(
        !error.contains(&wrong_password) && !error.contains(right_password),
        "no password in the recorded error: {error}"
    );

    // The next run, with the right password (a redeploy with the secret fixed), delivers it.
    let fixed = auth::App::new(
        app.app.config.clone(),
        smtp_mailer(&smtp_url(), &from).await,
    )
    .unwrap();
    let report = auth::janitor::sweep(&fixed).await.unwrap();
    assert_eq!((report.emails_sent, report.emails_failed), (1, 0));
    assert_eq!(received_by(&recipient).len(), 1);
    assert_eq!(outbox_row(&app).await, (true, 2, None));
}
