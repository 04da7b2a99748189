//! `POST /api/signup`: account creation and every input rule.

use auth::Endpoint;
use lambda_http::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, UNVERIFIED, raw_request};

#[tokio::test]
async fn signup_creates_the_user_and_stores_only_an_argon2id_hash() {
    let app = TestApp::spawn_with(UNVERIFIED).await;

    let response = app
        .signup("  Jane Doe ", " Jane@Example.com ", PASSWORD)
        .await;

    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(response.str("message"), "User created successfully");
    let user = &response.body["user"];
    assert_eq!(user["name"], "Jane Doe");
    assert_eq!(user["email"], "jane@example.com");
    assert!(uuid::Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
    assert_eq!(
        user.as_object().unwrap().len(),
        5,
        "only id, name, email, email_verified and mfa_enabled are exposed"
    );
    assert_eq!(
        user["email_verified"], false,
        "without verification, an address is never proven"
    );
    let row = app
        .db
        .query_one("SELECT password_hash FROM users", &[])
        .await
        .unwrap();
    let hash: String = row.get(0);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn email_is_case_insensitive_and_a_second_signup_is_409() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    app.registered_user("John", "john@example.com").await;

    let response = app.signup("Other John", "John@EXAMPLE.com", PASSWORD).await;

    response.assert_error(409, "email_taken");
    assert_eq!(app.count("SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn invalid_inputs_are_rejected_with_their_codes_and_nothing_is_written() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases = [
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            400,
            "missing_field",
            "name absent",
        ),
        (
            json!({"name": "   ", "email": "a@example.com", "password": PASSWORD}),
            400,
            "missing_field",
            "name blank",
        ),
        (
            json!({"name": "A", "password": PASSWORD}),
            400,
            "missing_field",
            "email absent",
        ),
        (
            json!({"name": "A", "email": "", "password": PASSWORD}),
            400,
            "missing_field",
            "email empty",
        ),
        (
            json!({"name": "A", "email": "a@example.com"}),
            400,
            "missing_field",
            "password absent",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": null}),
            400,
            "missing_field",
            "password null",
        ),
        (
            json!({"name": "A", "email": 123, "password": PASSWORD}),
            400,
            "invalid_json",
            "email is a number",
        ),
        (
            json!({"name": ["A"], "email": "a@example.com", "password": PASSWORD}),
            400,
            "invalid_json",
            "name is an array",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": 12345678}),
            400,
            "invalid_json",
            "password is a number",
        ),
        (
            json!({"name": "A", "email": "not-an-email", "password": PASSWORD}),
            400,
            "invalid_email",
            "no @",
        ),
        (
            json!({"name": "A", "email": long_email, "password": PASSWORD}),
            400,
            "invalid_email",
            "over 254 bytes",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "short"}),
            400,
            "invalid_password",
            "7 characters",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "x".repeat(257)}),
            400,
            "invalid_password",
            "257 characters",
        ),
        (
            json!({"name": "x".repeat(101), "email": "a@example.com", "password": PASSWORD}),
            400,
            "invalid_name",
            "101 characters",
        ),
        (json!([1, 2]), 400, "invalid_json", "not an object"),
    ];
    for (body, status, code, why) in cases {
        let response = app.post_json(Endpoint::Signup, &body).await;
        response.assert_error_because(status, code, why);
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn media_type_and_size_are_checked_before_parsing() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    let valid = json!({"name": "A", "email": "a@example.com", "password": PASSWORD}).to_string();
    let oversized = format!(
        r#"{{"name":"A","email":"a@example.com","password":"{PASSWORD}","pad":"{}"}}"#,
        "x".repeat(16 * 1024)
    );
    let cases = [
        (
            None,
            valid.clone(),
            415,
            "unsupported_media_type",
            "no Content-Type",
        ),
        (
            Some("text/plain"),
            valid.clone(),
            415,
            "unsupported_media_type",
            "text/plain",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "name=A".to_owned(),
            415,
            "unsupported_media_type",
            "form",
        ),
        (
            Some("application/json"),
            oversized,
            413,
            "payload_too_large",
            "over 16 KiB",
        ),
        (
            Some("application/json"),
            "{\"name\": ".to_owned(),
            400,
            "invalid_json",
            "truncated",
        ),
        (
            Some("application/json"),
            "".to_owned(),
            400,
            "invalid_json",
            "empty",
        ),
    ];
    for (content_type, body, status, code, why) in cases {
        let response = app
            .call(
                Endpoint::Signup,
                raw_request(Method::POST, "/api/signup", content_type, body),
            )
            .await;
        response.assert_error_because(status, code, why);
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn exactly_100_character_names_and_256_character_passwords_are_accepted() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    let response = app
        .signup(&"é".repeat(100), "max@example.com", &"🔑".repeat(256))
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    let signin = app.signin("max@example.com", &"🔑".repeat(256)).await;
    assert_eq!(
        signin.status,
        StatusCode::OK,
        "the password was stored untruncated"
    );
    let truncated = app.signin("max@example.com", &"🔑".repeat(255)).await;
    truncated.assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn a_missing_field_error_names_the_field() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    for (body, field) in [
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            "name",
        ),
        (json!({"name": "A", "password": PASSWORD}), "email"),
        (
            json!({"name": "A", "email": "a@example.com", "password": "  "}),
            "password",
        ),
    ] {
        let response = app.post_json(Endpoint::Signup, &body).await;

        response.assert_error_because(400, "missing_field", field);
        assert_eq!(
            response.str("message"),
            format!("Field '{field}' is required")
        );
    }
}

#[tokio::test]
async fn the_readme_password_signs_up_and_in() {
    // The curl examples of the original README use this password: they must keep working.
    let app = TestApp::spawn_with(UNVERIFIED).await;

    let response = app
        .signup("John Doe", "john@example.com", "SecurePass123")
        .await;

    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    let signin = app.signin("john@example.com", "SecurePass123").await;
    assert_eq!(signin.status, StatusCode::OK, "{}", signin.body);
}

#[tokio::test]
async fn common_passwords_are_refused_in_any_case_and_nothing_is_written() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    let common = [
        "password123",
        "Password123",
        "QWERTY123",
        "iloveyou1",
        "1q2w3e4r5t",
        "qwertyuiop",
    ];
    for password in common {
        let response = app.signup("Jane", "jane@example.com", password).await;

        response.assert_error_because(400, "invalid_password", password);
        assert_eq!(
            response.str("message"),
            "Password is too common: it appears in lists of leaked passwords",
            "{password}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_password_containing_the_email_name_is_refused() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    let cases = [
        ("jane.doe@example.com", "Jane.Doe-1999!", "the local part"),
        (
            "jane+news@example.com",
            "my friend janet",
            "the local part without its tag",
        ),
        (
            "bob@example.com",
            "i am BOB, ok?",
            "three characters, other case",
        ),
    ];
    for (email, password, why) in cases {
        let response = app.signup("Jane", email, password).await;

        response.assert_error_because(400, "invalid_password", why);
        assert_eq!(
            response.str("message"),
            "Password must not contain the part of the email address before the @",
            "{why}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_name_of_one_or_two_characters_does_not_restrict_the_password() {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    for (email, password) in [
        ("a@example.io", "a long passphrase"),
        ("al@example.io", "all along the watchtower"),
    ] {
        let response = app.signup("Al", email, password).await;

        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    }
}
