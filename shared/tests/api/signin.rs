//! `POST /api/signin`: credentials, the token pair it issues, and what is (not) stored.

use auth::Endpoint;
use lambda_http::http::{Method, StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, jti_and_sid, jwt_part, raw_request};

#[tokio::test]
async fn signin_returns_the_documented_body_with_a_token_pair() {
    let app = TestApp::spawn().await;
    let signup = app.registered_user("Jane Doe", "jane@example.com").await;

    let response = app.signin("jane@example.com", PASSWORD).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.sorted_keys(),
        [
            "access_token",
            "device_token",
            "expires_in",
            "message",
            "refresh_token",
            "token_type",
            "user"
        ]
    );
    assert_eq!(
        response.str("device_token").len(),
        43,
        "256 bits, base64url"
    );
    assert_eq!(response.str("message"), "Sign-in successful");
    assert_eq!(response.str("token_type"), "Bearer");
    assert_eq!(response.body["expires_in"], 900);
    assert_eq!(
        response.body["user"],
        json!({"id": signup["id"], "name": "Jane Doe", "email": "jane@example.com", "email_verified": true, "mfa_enabled": false})
    );
    assert_eq!(
        response.headers[header::CACHE_CONTROL],
        "no-store",
        "token responses must not be cached"
    );
}

#[tokio::test]
async fn access_token_is_a_typed_hs256_jwt_and_refresh_token_is_43_url_safe_chars() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let access = signin.str("access_token");
    let refresh = signin.str("refresh_token");

    let header = jwt_part(&access, 0);
    let claims = jwt_part(&access, 1);

    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["sub"], signin.body["user"]["id"]);
    assert_eq!(claims["iss"], "jwt-auth-api");
    assert_eq!(claims["aud"], "jwt-auth-api");
    assert_eq!(claims["aal"], "aal1", "a password alone is one factor");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(
        claims["client_id"], "jwt-auth-api",
        "RFC 9068 §2.2: at+jwt tokens name their client (the audience by default)"
    );
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 900, "exp is iat + ACCESS_TOKEN_TTL");
    assert_eq!(refresh.len(), 43, "{refresh}");
    assert!(
        refresh
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{refresh}"
    );
    assert_ne!(refresh, access);
}

#[tokio::test]
async fn email_is_trimmed_and_case_insensitive_at_signin() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;
    let cases = [
        ("JANE@EXAMPLE.COM", "upper case"),
        ("  Jane@Example.com\t", "mixed case, padded"),
        (" jane@example.com ", "padded"),
    ];
    for (email, why) in cases {
        let response = app.signin(email, PASSWORD).await;
        assert_eq!(response.status, StatusCode::OK, "{why}: {}", response.body);
        assert_eq!(response.body["user"]["email"], "jane@example.com", "{why}");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_byte_identical_401s() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;

    let wrong_password = app.signin("jane@example.com", "not the password").await;
    let unknown_email = app.signin("nobody@example.com", PASSWORD).await;

    wrong_password.assert_error(401, "invalid_credentials");
    unknown_email.assert_error(401, "invalid_credentials");
    assert_eq!(
        (wrong_password.status, wrong_password.body.to_string()),
        (unknown_email.status, unknown_email.body.to_string()),
        "the answer must not reveal which accounts exist"
    );
    assert_eq!(
        wrong_password.headers, unknown_email.headers,
        "headers must not differ either"
    );
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 0);
}

#[tokio::test]
async fn a_password_outside_the_length_rules_is_invalid_credentials_not_a_400() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;
    let cases = [
        ("1234567".to_owned(), "7 characters"),
        ("x".to_owned(), "1 character"),
        ("a".repeat(257), "257 characters"),
    ];
    for (password, why) in cases {
        let response = app.signin("jane@example.com", &password).await;
        response.assert_error_because(401, "invalid_credentials", why);
    }
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn invalid_inputs_are_rejected_with_their_codes_and_no_session_is_opened() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;
    let cases = [
        (
            json!({"password": PASSWORD}),
            400,
            "missing_field",
            "email absent",
        ),
        (
            json!({"email": "  ", "password": PASSWORD}),
            400,
            "missing_field",
            "email blank",
        ),
        (
            json!({"email": "jane@example.com"}),
            400,
            "missing_field",
            "password absent",
        ),
        (
            json!({"email": "jane@example.com", "password": null}),
            400,
            "missing_field",
            "password null",
        ),
        (
            json!({"email": "jane@example.com", "password": ""}),
            400,
            "missing_field",
            "password empty",
        ),
        (
            json!({"email": 42, "password": PASSWORD}),
            400,
            "invalid_json",
            "email is a number",
        ),
        (
            json!({"email": "jane@example.com", "password": 12345678}),
            400,
            "invalid_json",
            "password is a number",
        ),
        (
            json!({"email": "jane@example.com", "password": [PASSWORD]}),
            400,
            "invalid_json",
            "password is an array",
        ),
        (
            json!({"email": "jane.example.com", "password": PASSWORD}),
            400,
            "invalid_email",
            "no @",
        ),
        (
            json!({"email": "jane@localhost", "password": PASSWORD}),
            400,
            "invalid_email",
            "single-label domain",
        ),
        (json!("jane"), 400, "invalid_json", "not an object"),
    ];
    for (body, status, code, why) in cases {
        let response = app.post_json(Endpoint::Signin, &body).await;
        response.assert_error_because(status, code, why);
    }
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn media_type_is_checked_before_credentials() {
    let app = TestApp::spawn().await;
    app.registered_user("Jane", "jane@example.com").await;
    let valid = json!({"email": "jane@example.com", "password": PASSWORD}).to_string();
    let cases = [
        (None, "no Content-Type"),
        (Some("text/plain"), "text/plain"),
    ];
    for (content_type, why) in cases {
        let response = app
            .call(
                Endpoint::Signin,
                raw_request(Method::POST, "/api/signin", content_type, valid.clone()),
            )
            .await;
        response.assert_error_because(415, "unsupported_media_type", why);
    }
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn each_signin_opens_its_own_session_with_its_own_refresh_token() {
    let app = TestApp::spawn().await;
    let first = app.signed_in_user("jane@example.com").await;

    let second = app.signin("jane@example.com", PASSWORD).await;

    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > now()")
            .await,
        2,
        "both sessions are live"
    );
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 2);
    let (_, first_sid) = jti_and_sid(&first.str("access_token"));
    let (_, second_sid) = jti_and_sid(&second.str("access_token"));
    assert_ne!(first_sid, second_sid);
    let user_id = Uuid::parse_str(first.body["user"]["id"].as_str().unwrap()).unwrap();
    let rows = app
        .db
        .query("SELECT id, user_id FROM sessions ORDER BY created_at", &[])
        .await
        .unwrap();
    let mut stored: Vec<Uuid> = rows.iter().map(|r| r.get("id")).collect();
    stored.sort();
    let mut expected = vec![first_sid, second_sid];
    expected.sort();
    assert_eq!(
        stored, expected,
        "the tokens' sid claims are the session ids"
    );
    assert!(rows.iter().all(|r| r.get::<_, Uuid>("user_id") == user_id));
    assert_ne!(first.str("refresh_token"), second.str("refresh_token"));
}

#[tokio::test]
async fn only_the_sha256_of_the_refresh_token_is_stored() {
    let app = TestApp::spawn().await;
    let signin = app.signed_in_user("jane@example.com").await;
    let refresh = signin.str("refresh_token");
    let (_, sid) = jti_and_sid(&signin.str("access_token"));

    let row = app
        .db
        .query_one(
            "SELECT token_hash, session_id, t::text AS whole_row FROM refresh_tokens t",
            &[],
        )
        .await
        .unwrap();

    let stored: Vec<u8> = row.get("token_hash");
    assert_eq!(stored.len(), 32);
    assert_eq!(stored, Sha256::digest(refresh.as_bytes()).to_vec());
    assert_eq!(row.get::<_, Uuid>("session_id"), sid);
    assert_ne!(stored, refresh.as_bytes());
    let whole_row: String = row.get("whole_row");
    assert!(
        !whole_row.contains(&refresh),
        "plaintext refresh token stored: {whole_row}"
    );
    let hex_plaintext: String = refresh.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!whole_row.contains(&hex_plaintext));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM refresh_tokens WHERE position(convert_to('{refresh}', 'UTF8') IN token_hash) > 0"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn the_client_id_claim_is_configurable() {
    let app = TestApp::spawn_with(&[("JWT_CLIENT_ID", "example-web-app")]).await;
    let signin = app.signed_in_user("jane@example.com").await;

    let claims = jwt_part(&signin.str("access_token"), 1);

    assert_eq!(claims["client_id"], "example-web-app");
    assert_eq!(claims["aud"], "jwt-auth-api");
    app.dashboard(&signin.str("access_token"))
        .await
        .assert_status(StatusCode::OK);
}
