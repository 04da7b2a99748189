//! The AWS side against moto (an AWS API emulator on loopback): secrets read from Secrets
//! Manager at start-up, and reset emails sent through SES v2. `make test` starts moto and sets
//! `MOTO_ENDPOINT_URL`.

use auth::aws::Aws;
use auth::config::{Config, EmailTransport, Environment};
use auth::domain::Email;
use auth::mail::Mailer;
use auth::signing_key::{self, Ensured};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::Credentials;
use lambda_http::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, UNVERIFIED, fresh_database};

fn moto_url() -> String {
    std::env::var("MOTO_ENDPOINT_URL").expect(
        "MOTO_ENDPOINT_URL is not set: run the tests with `make test`, which starts moto \
         (pip install 'moto[server]'), or start `moto_server` and point MOTO_ENDPOINT_URL at it",
    )
}

/// SDK configuration aimed at moto, with dummy credentials: nothing leaves the machine.
async fn moto() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

async fn create_secret(sdk: &SdkConfig, value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let name = format!("test-{}", Uuid::new_v4().simple());
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    created.arn.unwrap()
}

/// A sender SES accepts (moto verifies identities on creation).
async fn verified_sender(sdk: &SdkConfig) -> Email {
    let sender = format!("no-reply-{}@example.com", Uuid::new_v4().simple());
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    Email::parse(&sender).unwrap()
}

/// The messages moto recorded as sent to `recipient` (moto's internal model API).
fn sent_to(recipient: &str) -> Vec<Value> {
    let data: Value = ureq::get(format!("{}/moto-api/data.json", moto_url()))
        .call()
        .expect("moto's model API answers")
        .body_mut()
        .read_json()
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|message| {
            message["destinations"]["ToAddresses"]
                .to_string()
                .contains(recipient)
        })
        .collect()
}

#[tokio::test]
async fn migrate_reads_the_runtime_role_from_its_secret() {
    // As CloudFormation generates DatabaseRuntimeSecret: the username of the template, a password.
    let sdk = moto().await;
    let arn = create_secret(
        &sdk,
        r#"{"username": "auth_runtime", "password": "generated"}"#,
    )
    .await;
    let env = Environment::from_pairs([("DB_RUNTIME_SECRET_ARN", arn.as_str())]);

    let role = auth::config::RuntimeRole::load(&env, &Aws::with_config(sdk))
        .await
        .unwrap()
        .expect("a runtime role");

    use secrecy::ExposeSecret;
    assert_eq!(role.name, "auth_runtime");
    assert_eq!(role.password.expose_secret(), "generated");
}

#[tokio::test]
async fn configuration_reads_the_signing_key_and_database_credentials_from_secrets_manager() {
    let sdk = moto().await;
    let jwt_secret = "a-signing-key-from-secrets-manager-of-48-bytes!!";
    let jwt_arn = create_secret(&sdk, jwt_secret).await;
    let database = fresh_database().await;
    let user = database.url.get_user().unwrap().to_owned();
    // The test server's own password (if it has one), as the RDS-managed secret would hold it.
    let password =
        String::from_utf8(database.url.get_password().unwrap_or_default().to_vec()).unwrap();
    let db_secret = serde_json::json!({"username": user, "password": password}).to_string();
    let db_arn = create_secret(&sdk, &db_secret).await;
    let name = database.url.get_dbname().unwrap().to_owned();
    let mut vars = database_variables(&database, &db_arn);
    vars.push(("JWT_SECRET_ARN".into(), jwt_arn));
    let env = Environment::from_pairs(vars);

    // The functions' own SDK configuration, from the variables Lambda would set.
    let lambda = auth::aws::lambda_sdk_config(|name| match name {
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".into()),
        "AWS_SESSION_TOKEN" => Some("session".into()),
        "AWS_ENDPOINT_URL" => Some(moto_url()),
        _ => None,
    });

    let config = Config::load(&env, &Aws::with_config(lambda)).await.unwrap();

    use secrecy::ExposeSecret;
    match &config.jwt.keys {
        Some(auth::keys::JwtKeys::Hs256(secret)) => {
            assert_eq!(secret.expose_secret(), jwt_secret)
        }
        other => panic!("an HS256 secret, not {other:?}"),
    }
    assert_eq!(config.database.url.get_user(), Some(user.as_str()));
    assert_eq!(config.database.url.get_dbname(), Some(name.as_str()));
    // The configuration works end to end: the database answers with those credentials.
    let app = auth::App::new(config, Mailer::Log).unwrap();
    let email = Email::parse("sam@example.com").unwrap();
    let password = auth::domain::NewPassword::parse(PASSWORD, &email).unwrap();
    let signed_up = app
        .signup(
            auth::domain::UserName::parse("Secret Sam").unwrap(),
            email,
            password,
            "http://localhost:5001/verify-email",
            &auth::domain::ClientInfo::default(),
        )
        .await
        .unwrap();
    assert!(
        matches!(signed_up, auth::service::SignedUp::CheckYourEmail),
        "{signed_up:?}"
    );
}

/// `DB_HOST`, `DB_PORT`, `DB_NAME` of a test database, and `DB_SECRET_ARN`, as the template sets them.
fn database_variables(
    database: &auth::config::DatabaseConfig,
    secret_arn: &str,
) -> Vec<(String, String)> {
    let host = match &database.url.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP test database, not {other:?}"),
    };
    vec![
        ("DB_HOST".into(), host),
        ("DB_PORT".into(), database.url.get_ports()[0].to_string()),
        (
            "DB_NAME".into(),
            database.url.get_dbname().unwrap().to_owned(),
        ),
        ("DB_SECRET_ARN".into(), secret_arn.to_owned()),
        (
            "VERIFICATION_CODE_KEY".into(),
            testkit::keys::TEST_CODE_KEY.to_owned(),
        ),
    ]
}

#[tokio::test]
async fn a_rotated_database_password_is_read_again_from_secrets_manager() {
    let sdk = moto().await;
    let database = fresh_database().await;
    let (admin, _driver) = auth::db::connect(&database).await.unwrap();
    let role = format!("rotating_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'first-password';
             GRANT ALL ON ALL TABLES IN SCHEMA public TO {role};
             GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role};"
        ))
        .await
        .unwrap();
    let mut wrong = database.url.clone();
    wrong.user(&role).password("not-the-password");
    assert!(
        wrong.connect(tokio_postgres::NoTls).await.is_err(),
        "the test server must check passwords over TCP (scram or md5), or this test proves nothing"
    );
    let secret =
        |password: &str| serde_json::json!({"username": role, "password": password}).to_string();
    let arn = create_secret(&sdk, &secret("first-password")).await;
    let env = Environment::from_pairs(database_variables(&database, &arn));
    let config = Config::load(&env, &Aws::with_config(sdk.clone()))
        .await
        .unwrap();
    let app = auth::App::new(config, Mailer::Log).unwrap();
    let signup = |email: &'static str| {
        let app = &app;
        async move {
            let email = Email::parse(email).unwrap();
            let password = auth::domain::NewPassword::parse(PASSWORD, &email).unwrap();
            app.signup(
                auth::domain::UserName::parse("Rotating Rita").unwrap(),
                email,
                password,
                "http://localhost:5001/verify-email",
                &auth::domain::ClientInfo::default(),
            )
            .await
        }
    };
    signup("before@example.com")
        .await
        .expect("the first password works");

    // RDS rotates the password: the database and the secret change, open sessions end.
    admin
        .batch_execute(&format!(
            "ALTER ROLE {role} PASSWORD 'second-password';
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';"
        ))
        .await
        .unwrap();
    aws_sdk_secretsmanager::Client::new(&sdk)
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret("second-password"))
        .send()
        .await
        .unwrap();
    // Let the pooled connection notice it was closed, so the pool replaces it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let after = signup("after@example.com").await;

    assert!(
        after.is_ok(),
        "the new password was fetched and used: {:?}",
        after.err()
    );
}

#[tokio::test]
async fn an_unreadable_secret_stops_start_up_naming_the_variable() {
    let env = Environment::from_pairs([
        ("DATABASE_URL", "postgres://u@localhost/db"),
        (
            "JWT_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
        ),
    ]);

    let error = Config::load(&env, &Aws::with_config(moto().await))
        .await
        .unwrap_err();

    assert_eq!(error.variable, "JWT_SECRET_ARN", "{error}");
}

#[tokio::test]
async fn forgot_password_queues_the_reset_link_and_the_janitor_sends_it_through_ses() {
    let sdk = moto().await;
    let from = verified_sender(&sdk).await;
    let mailer = Mailer::new(
        &EmailTransport::Ses { from: from.clone() },
        &Aws::with_config(sdk),
    )
    .await;
    let app = TestApp::spawn_with_mailer(UNVERIFIED, mailer).await;
    let recipient = format!("jane-{}@example.com", Uuid::new_v4().simple());
    app.registered_user("Jane", &recipient).await;

    let response = app.forgot_password(&recipient).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        sent_to(&recipient).is_empty(),
        "no SES call in the request: it would make known emails slower to answer"
    );
    // Read while queued: once delivered, the outbox no longer holds it.
    let token = app.reset_token_from_outbox(&recipient).await;

    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!((report.emails_sent, report.emails_failed), (1, 0));
    let messages = sent_to(&recipient);
    assert_eq!(
        messages.len(),
        1,
        "exactly one email reached SES: {messages:?}"
    );
    let message = &messages[0];
    assert_eq!(message["source"], from.as_str());
    assert_eq!(message["subject"], auth::emails::RESET_SUBJECT);
    let link = format!("http://localhost:5001/reset-password#{token}");
    assert!(
        message["body"].as_str().unwrap().contains(&link),
        "{message}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE body_text <> ''")
            .await,
        0,
        "a delivered email's body, live link and all, is not kept"
    );
    let row = app
        .db
        .query_one(
            "SELECT sent_at IS NOT NULL, attempts, last_error FROM email_outbox WHERE subject = 'Reset your password'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, bool>(0),
            row.get::<_, i32>(1),
            row.get::<_, Option<String>>(2)
        ),
        (true, 1, None)
    );
}

#[tokio::test]
async fn an_ses_failure_leaves_the_email_unsent_for_the_next_run() {
    let sdk = moto().await;
    // Never verified: SES refuses to send from it.
    let from = Email::parse(&format!(
        "unverified-{}@example.com",
        Uuid::new_v4().simple()
    ))
    .unwrap();
    let mailer = Mailer::new(&EmailTransport::Ses { from }, &Aws::with_config(sdk)).await;
    let app = TestApp::spawn_with_mailer(UNVERIFIED, mailer).await;
    let recipient = format!("jane-{}@example.com", Uuid::new_v4().simple());
    app.registered_user("Jane", &recipient).await;

    let known = app.forgot_password(&recipient).await;
    let unknown = app.forgot_password("nobody@example.com").await;

    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let report = auth::janitor::sweep(&app.app).await.unwrap();
    assert_eq!((report.emails_sent, report.emails_failed), (0, 1));
    assert!(sent_to(&recipient).is_empty());
    let row = app
        .db
        .query_one(
            "SELECT sent_at IS NULL, attempts, last_error FROM email_outbox WHERE subject = 'Reset your password'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "left unsent for the janitor");
    assert_eq!(row.get::<_, i32>(1), 1);
    let error: String = row.get(2);
    assert!(error.contains("SES"), "{error}");
    assert!(
        !error.contains(&app.reset_token_from_outbox(&recipient).await),
        "no token in the recorded error"
    );
}

#[tokio::test]
async fn the_janitor_retries_an_unsent_email_once_ses_accepts_it() {
    let sdk = moto().await;
    let sender = format!("later-{}@example.com", Uuid::new_v4().simple());
    let from = Email::parse(&sender).unwrap();
    let mailer = Mailer::new(
        &EmailTransport::Ses { from },
        &Aws::with_config(sdk.clone()),
    )
    .await;
    let app = TestApp::spawn_with_mailer(UNVERIFIED, mailer).await;
    let recipient = format!("jane-{}@example.com", Uuid::new_v4().simple());
    app.registered_user("Jane", &recipient).await;
    app.forgot_password(&recipient).await;
    let first = auth::janitor::sweep(&app.app).await.unwrap();
    assert_eq!(
        (first.emails_sent, first.emails_failed),
        (0, 1),
        "the first attempt failed: sender not verified yet"
    );
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!((report.emails_sent, report.emails_failed), (1, 0));
    assert_eq!(sent_to(&recipient).len(), 1);
    let row = app
        .db
        .query_one(
            "SELECT sent_at IS NOT NULL, attempts FROM email_outbox WHERE subject = 'Reset your password'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, i32>(1)), (true, 2));
    let again = auth::janitor::sweep(&app.app).await.unwrap();
    assert_eq!(again.emails_sent, 0, "a sent email is never sent twice");
}

/// A secret with no value yet, as the template's `JwtSigningKey` is created.
async fn create_empty_secret(sdk: &SdkConfig) -> String {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let name = format!("test-empty-{}", Uuid::new_v4().simple());
    let created = client.create_secret().name(name).send().await.unwrap();
    created.arn.unwrap()
}

#[tokio::test]
async fn the_signing_key_is_generated_into_its_empty_secret_once_and_read_from_there() {
    let sdk = moto().await;
    let aws = Aws::with_config(sdk.clone());
    let arn = create_empty_secret(&sdk).await;

    let first = signing_key::ensure(&aws, &arn).await.unwrap();
    let second = signing_key::ensure(&aws, &arn).await.unwrap();

    let Ensured::Generated { kid, public_key } = first else {
        panic!("an empty secret gets a new key, not {first:?}")
    };
    assert_eq!(
        second,
        Ensured::Kept {
            kid: kid.clone(),
            public_key: public_key.clone()
        },
        "a key is never replaced"
    );
    assert_eq!(
        auth::keys::PublicKey::from_pem(&public_key).unwrap().kid(),
        kid,
        "the public half the verifying functions are given"
    );
    let env = Environment::from_pairs([
        ("DATABASE_URL", "postgres://u@localhost/db"),
        ("JWT_PRIVATE_KEY_ARN", arn.as_str()),
    ]);
    let config = Config::load(&env, &aws).await.unwrap();
    match &config.jwt.keys {
        Some(auth::keys::JwtKeys::Asymmetric { signing, previous }) => {
            assert_eq!(signing.public_key().kid(), kid);
            assert_eq!(
                signing.public_key().algorithm(),
                jsonwebtoken::Algorithm::EdDSA
            );
            assert!(previous.is_empty());
        }
        other => panic!("an asymmetric key ring, not {other:?}"),
    }
}

#[tokio::test]
async fn a_signing_key_secret_holding_anything_else_is_left_alone_and_fails_the_step() {
    let sdk = moto().await;
    let aws = Aws::with_config(sdk.clone());
    let arn = create_secret(&sdk, "not-a-key").await;

    let error = signing_key::ensure(&aws, &arn).await.unwrap_err();

    assert!(format!("{error:#}").contains("left unchanged"), "{error:#}");
    use secrecy::ExposeSecret;
    assert_eq!(
        aws.secret_string(&arn).await.unwrap().expose_secret(),
        "not-a-key"
    );
}

#[tokio::test]
async fn the_mfa_key_is_generated_into_its_empty_secret_once_and_never_replaced() {
    use secrecy::ExposeSecret;
    let sdk = moto().await;
    let aws = Aws::with_config(sdk.clone());
    let arn = create_empty_secret(&sdk).await;

    assert!(auth::lambda::ensure_mfa_key(&aws, &arn).await.unwrap());
    let key = aws.secret_string(&arn).await.unwrap();
    assert!(!auth::lambda::ensure_mfa_key(&aws, &arn).await.unwrap());

    assert_eq!(
        aws.secret_string(&arn).await.unwrap().expose_secret(),
        key.expose_secret(),
        "a key is never replaced"
    );
    let env = Environment::from_pairs([
        ("DATABASE_URL", "postgres://u@localhost/db"),
        (
            "JWT_SECRET_KEY",
            "a-secret-of-more-than-32-bytes-for-hs256-tokens",
        ),
        ("MFA_ENCRYPTION_KEY_ARN", arn.as_str()),
    ]);
    let config = Config::load(&env, &aws).await.unwrap();
    assert!(config.mfa.key.is_some(), "the functions read it from there");

    let other = create_secret(&sdk, "not-a-key").await;
    let error = auth::lambda::ensure_mfa_key(&aws, &other)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("left unchanged"), "{error:#}");
    assert_eq!(
        aws.secret_string(&other).await.unwrap().expose_secret(),
        "not-a-key"
    );
}

#[test]
fn moto_url_is_a_loopback_address() {
    // Tests must never reach real AWS: the emulator is on this machine.
    let url = moto_url();
    let host = url
        .split("://")
        .nth(1)
        .unwrap()
        .split([':', '/'])
        .next()
        .unwrap();
    assert!(["127.0.0.1", "localhost", "[::1]"].contains(&host), "{url}");
}
