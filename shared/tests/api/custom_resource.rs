//! The `migrate` function as a CloudFormation custom resource: every event gets an answer PUT to
//! its response URL (here a local HTTP server standing in for S3), SUCCESS or FAILED.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use auth::config::{DatabaseConfig, DbTls};
use auth::custom_resource::{self, Event};

use crate::helpers::fresh_database;

/// What the stand-in for CloudFormation's response URL received.
struct Received {
    method: String,
    content_type: Option<String>,
    body: serde_json::Value,
}

/// Serves one request on a free loopback port; returns its URL and the request, once answered.
fn response_url() -> (String, std::thread::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cloudformation-response?X-Amz-Signature=abc",
        listener.local_addr().unwrap()
    );
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let method = line.split_whitespace().next().unwrap().to_owned();
        let (mut length, mut content_type) = (0, None);
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "content-type" => content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        Received {
            method,
            content_type,
            body: serde_json::from_slice(&body).unwrap(),
        }
    });
    (url, server)
}

fn event(request_type: &str, url: &str, physical_id: Option<&str>) -> Event {
    let mut event = serde_json::json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:migrate",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/jwt-auth-api/1",
        "RequestId": "unique-request-1",
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "arn", "Revision": "3"}
    });
    if let Some(id) = physical_id {
        event["PhysicalResourceId"] = id.into();
    }
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn create_migrates_the_database_and_reports_success() {
    let database = fresh_database().await;
    // A database the test harness migrated already: make it empty again to see the work done.
    let (client, driver) = auth::db::connect(&database).await.unwrap();
    client
        .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        .await
        .unwrap();
    drop((client, driver));
    let (url, server) = response_url();

    let response = custom_resource::handle(&event("Create", &url, None), "stream-1", || {
        auth::db::migrate(&database)
    })
    .await
    .unwrap();

    let received = server.join().unwrap();
    assert_eq!(received.method, "PUT");
    assert_eq!(
        received.content_type, None,
        "pre-signed S3 URLs are signed without a content type"
    );
    assert_eq!(received.body["Status"], "SUCCESS");
    assert_eq!(received.body["RequestId"], "unique-request-1");
    assert_eq!(received.body["LogicalResourceId"], "DatabaseMigrations");
    assert_eq!(
        received.body["StackId"],
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/jwt-auth-api/1"
    );
    assert_eq!(received.body["PhysicalResourceId"], "database-migrations");
    assert_eq!(received.body["Data"]["Applied"], response.data.applied);
    assert!(
        response.data.applied.contains("V1__initial_schema"),
        "{}",
        response.data.applied
    );
    let (client, _driver) = auth::db::connect(&database).await.unwrap();
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "the schema exists after Create");
}

#[tokio::test]
async fn a_failed_migration_reports_failed_without_details() {
    let port = testkit::ports::free_port().unwrap();
    let unreachable = DatabaseConfig {
        url: tokio_postgres::Config::from_str(&format!(
            "postgres://postgres:hunter2@127.0.0.1:{port}/none"
        ))
        .unwrap(),
        pool_size: 1,
        tls: DbTls::Disable,
        credentials_secret: None,
        timeouts: Default::default(),
    };
    let (url, server) = response_url();

    custom_resource::handle(
        &event("Update", &url, Some("database-migrations")),
        "stream-7",
        || auth::db::migrate(&unreachable),
    )
    .await
    .unwrap();

    let received = server.join().unwrap();
    assert_eq!(
        received.body["Status"], "FAILED",
        "a failed migration fails the deploy"
    );
    let reason = received.body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("stream-7"),
        "the reason points at the log: {reason}"
    );
    assert!(
        !reason.contains("hunter2") && !reason.contains("127.0.0.1"),
        "{reason}"
    );
    assert_eq!(received.body["PhysicalResourceId"], "database-migrations");
}

#[tokio::test]
async fn delete_reports_success_without_touching_the_database() {
    let (url, server) = response_url();
    let migrated = AtomicBool::new(false);

    custom_resource::handle(
        &event("Delete", &url, Some("database-migrations")),
        "stream-2",
        || async {
            migrated.store(true, Ordering::SeqCst);
            Ok(Vec::new())
        },
    )
    .await
    .unwrap();

    let received = server.join().unwrap();
    assert_eq!(
        received.body["Status"], "SUCCESS",
        "deleting the stack never hangs on the database"
    );
    assert!(!migrated.load(Ordering::SeqCst));
}

#[tokio::test]
async fn an_unreachable_response_url_is_an_error_so_lambda_retries() {
    let port = testkit::ports::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}/gone");

    let result = custom_resource::handle(&event("Delete", &url, None), "stream-3", || async {
        Ok(Vec::new())
    })
    .await;

    assert!(result.is_err());
}

#[test]
fn the_migrations_custom_resource_names_the_signing_key_secret() {
    let event = |properties: serde_json::Value| {
        serde_json::from_value::<auth::custom_resource::Event>(serde_json::json!({
            "RequestType": "Create",
            "ResponseURL": "http://127.0.0.1:1/response",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/jwt-auth-api/1",
            "RequestId": "unique-request-1",
            "LogicalResourceId": "DatabaseMigrations",
            "ResourceType": "Custom::DatabaseMigrations",
            "ResourceProperties": properties,
        }))
        .unwrap()
    };
    let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf";

    let with = event(serde_json::json!({"ServiceToken": "arn", "SigningKeySecret": secret}));
    let without = event(serde_json::json!({"ServiceToken": "arn"}));

    assert_eq!(
        with.resource_properties.signing_key_secret.as_deref(),
        Some(secret)
    );
    assert_eq!(without.resource_properties.signing_key_secret, None);
}
