//! Test harness: a fresh, migrated database per test, and typed helpers that call the real
//! handlers with `lambda_http` requests, exactly as the Lambda runtime does.

use std::str::FromStr;
use std::time::Duration;

use auth::config::{
    Config, DatabaseConfig, DbTimeouts, DbTls, EmailTransport, RateLimits, ResetUrl,
};
use auth::lambda::dispatch;
use auth::mail::Mailer;
use auth::tokens::{JwtKeys, PrivateKey, PublicKey};
use auth::{App, Endpoint, handlers};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{HeaderMap, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use tokio_postgres::NoTls;
use uuid::Uuid;

/// The HS256 secret every test app signs with.
pub const TEST_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
/// A password that satisfies the rules.
pub const PASSWORD: &str = "correct horse battery staple";

// Test signing keys, made by another implementation: `openssl genpkey -algorithm ed25519` (or
// `-algorithm EC -pkeyopt ec_paramgen_curve:P-256`) and `openssl pkey -pubout`.
pub const ED25519_A: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIFrXqhIziaujiRUBojNbl3Hxe/+iQrbMyzEfa4Po3GF8
-----END PRIVATE KEY-----
";
pub const ED25519_A_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi17I8Wd9YKMKYq2zkuOrr47qVtUCyfkJ0WjXhc7g3F0=
-----END PUBLIC KEY-----
";
pub const ED25519_B: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPeGkvEleyiyj+oLyPFCt2r/XnJ50LGqCuViCXc1lo2J
-----END PRIVATE KEY-----
";
pub const P256: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIy697kKMwjPtUgcx
1Qpkrbz3KEC7MNjwwkeAp8ra/NihRANCAAR+AeAD2ttjZ/3K0vY0UlFjVe0A1WmT
JdJcgJ3SB3by2bTRVn6ADth6QdzlTjigwsOYuO64xmMwRB+HVTJmw+DZ
-----END PRIVATE KEY-----
";
pub const P256_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfgHgA9rbY2f9ytL2NFJRY1XtANVp
kyXSXICd0gd28tm00VZ+gA7YekHc5U44oMLDmLjuuMZjMEQfh1UyZsPg2Q==
-----END PUBLIC KEY-----
";

/// An asymmetric key ring: signs with [`ED25519_A`], still verifies [`P256`]'s tokens.
pub fn test_key_ring() -> JwtKeys {
    JwtKeys::Asymmetric {
        signing: PrivateKey::from_pem(ED25519_A).unwrap(),
        previous: vec![PublicKey::from_pem(P256_PUBLIC).unwrap()],
    }
}

/// An [`App`] over its own database, plus a direct connection for arranging and asserting.
pub struct TestApp {
    pub app: App,
    pub db: tokio_postgres::Client,
}

/// A response, with the body parsed as JSON (every response of the API is JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    /// The `error` code of an error body.
    pub fn error(&self) -> &str {
        self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }

    /// Asserts an error status and code, and that the body is exactly `{error, message}`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error()),
            (status, code),
            "body: {}",
            self.body
        );
        let keys: Vec<&String> = self.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["error", "message"],
            "error bodies have exactly these fields"
        );
        assert!(!self.body["message"].as_str().unwrap().is_empty());
    }

    /// [`Self::assert_error`], first naming `why` (and the body) if the status or code is wrong.
    #[track_caller]
    pub fn assert_error_because(&self, status: u16, code: &str, why: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error()),
            (status, code),
            "{why}: {}",
            self.body
        );
        self.assert_error(status, code);
    }

    /// Asserts a `WWW-Authenticate: Bearer...` challenge; returns the header for further checks.
    #[track_caller]
    pub fn assert_bearer_challenge(&self, why: &str) -> String {
        let challenge = self
            .headers
            .get(header::WWW_AUTHENTICATE)
            .unwrap_or_else(|| panic!("{why}: no WWW-Authenticate"))
            .to_str()
            .unwrap();
        assert!(challenge.starts_with("Bearer"), "{why}: {challenge}");
        challenge.to_owned()
    }

    /// Asserts a 401 `invalid_token` carrying its bearer challenge with `error="invalid_token"`.
    #[track_caller]
    pub fn assert_invalid_token(&self, why: &str) {
        self.assert_error_because(401, "invalid_token", why);
        let challenge = self.assert_bearer_challenge(why);
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{why}: {challenge}"
        );
    }

    /// The field names of the body (an object), sorted.
    #[track_caller]
    pub fn sorted_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {}", self.body))
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// A string field of the body.
    #[track_caller]
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field} in {}", self.body))
            .to_owned()
    }
}

/// One part of a JWT (`0` header, `1` claims), base64url-decoded and parsed as JSON.
#[track_caller]
pub fn jwt_part(token: &str, index: usize) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        parts.len(),
        3,
        "a JWT has three dot-separated parts: {token}"
    );
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[index])
        .unwrap_or_else(|e| panic!("JWT part {index} is not base64url: {e}"));
    serde_json::from_slice(&bytes).expect("JWT parts are JSON")
}

/// The `jti` and `sid` claims of an access token.
#[track_caller]
pub fn jti_and_sid(access_token: &str) -> (Uuid, Uuid) {
    let claims = jwt_part(access_token, 1);
    let uuid = |name: &str| Uuid::parse_str(claims[name].as_str().unwrap()).unwrap();
    (uuid("jti"), uuid("sid"))
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").expect(
        "TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a throwaway \
         PostgreSQL, or point TEST_DATABASE_URL at a server whose user may CREATE DATABASE",
    )
}

/// The configuration tests run with: production defaults except the database and the secret.
pub fn test_config(database: DatabaseConfig) -> Config {
    Config {
        database,
        jwt_keys: Some(JwtKeys::Hs256(TEST_SECRET.into())),
        jwt_issuer: "jwt-auth-api".into(),
        jwt_audience: "jwt-auth-api".into(),
        access_token_ttl: Duration::from_secs(900),
        refresh_token_ttl: Duration::from_secs(604_800),
        refresh_reuse_grace: Duration::from_secs(10),
        reset_token_ttl: Duration::from_secs(1800),
        reset_url: ResetUrl::Fixed("http://localhost:5001/reset-password".into()),
        email: EmailTransport::Log,
        limits: RateLimits::default(),
    }
}

/// Creates a fresh database with the migrations applied; returns its connection config.
pub async fn fresh_database() -> DatabaseConfig {
    fresh_database_with(DbTimeouts::default()).await
}

/// [`fresh_database`] with these timeouts, which the migration makes the database's defaults.
pub async fn fresh_database_with(timeouts: DbTimeouts) -> DatabaseConfig {
    let admin =
        tokio_postgres::Config::from_str(&admin_url()).expect("TEST_DATABASE_URL is a valid URL");
    let (client, connection) = admin
        .connect(NoTls)
        .await
        .expect("TEST_DATABASE_URL answers");
    tokio::spawn(connection);
    let name = format!("test_{}", Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("creating the test database");
    let mut url = admin.clone();
    url.dbname(&name);
    // Enough connections for the concurrency tests; production runs with 1.
    let config = DatabaseConfig {
        url,
        pool_size: 32,
        tls: DbTls::Disable,
        credentials_secret: None,
        timeouts,
    };
    auth::db::migrate(&config)
        .await
        .expect("migrations apply to an empty database");
    config
}

impl TestApp {
    /// A new app over a new database.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A new app whose configuration `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_with_mailer(adjust, Mailer::Log).await
    }

    /// A new app with its configuration adjusted and the given mailer (SES against moto).
    pub async fn spawn_with_mailer(adjust: impl FnOnce(&mut Config), mailer: Mailer) -> TestApp {
        let database = fresh_database().await;
        let (db, connection) = database.url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        let mut config = test_config(database);
        adjust(&mut config);
        TestApp {
            app: App::new(config, mailer).unwrap(),
            db,
        }
    }

    /// An app over an existing database (one with its own timeouts, or on its own cluster).
    pub async fn over(database: DatabaseConfig) -> TestApp {
        let (db, connection) = database.url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        TestApp {
            app: App::new(test_config(database), Mailer::Log).unwrap(),
            db,
        }
    }

    /// Another app over the same database, its configuration (a copy of this one's) adjusted
    /// first: the same stack redeployed with new settings, e.g. a rotated signing key.
    pub async fn redeployed(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.app.config.clone();
        adjust(&mut config);
        let (db, connection) = config.database.url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        TestApp {
            app: App::new(config, Mailer::Log).unwrap(),
            db,
        }
    }

    /// Calls an endpoint's handler through the same dispatch the Lambda runtime uses.
    pub async fn call_raw(&self, endpoint: Endpoint, request: Request) -> Response<Body> {
        let method = request.method().clone();
        let app = &self.app;
        match endpoint {
            Endpoint::Root => dispatch(endpoint, method, handlers::root(request)).await,
            Endpoint::Public => dispatch(endpoint, method, handlers::public(request)).await,
            Endpoint::NotFound => dispatch(endpoint, method, handlers::not_found(request)).await,
            Endpoint::ResetPage => dispatch(endpoint, method, handlers::reset_page(request)).await,
            Endpoint::Signup => dispatch(endpoint, method, handlers::signup(app, request)).await,
            Endpoint::Signin => dispatch(endpoint, method, handlers::signin(app, request)).await,
            Endpoint::Refresh => dispatch(endpoint, method, handlers::refresh(app, request)).await,
            Endpoint::Dashboard => {
                dispatch(endpoint, method, handlers::dashboard(app, request)).await
            }
            Endpoint::Logout => dispatch(endpoint, method, handlers::logout(app, request)).await,
            Endpoint::Sessions => {
                dispatch(endpoint, method, handlers::sessions(app, request)).await
            }
            Endpoint::EndSession => {
                dispatch(endpoint, method, handlers::end_session(app, request)).await
            }
            Endpoint::ForgotPassword => {
                dispatch(endpoint, method, handlers::forgot_password(app, request)).await
            }
            Endpoint::ResetPassword => {
                dispatch(endpoint, method, handlers::reset_password(app, request)).await
            }
            Endpoint::Jwks => dispatch(endpoint, method, handlers::jwks(app, request)).await,
        }
        .expect("handlers never return a Lambda error")
    }

    /// Like [`TestApp::call_raw`], for the JSON API: asserts the response is JSON and parses it.
    pub async fn call(&self, endpoint: Endpoint, request: Request) -> TestResponse {
        let response = self.call_raw(endpoint, request).await;
        let status = response.status();
        let headers = response.headers().clone();
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/json",
            "every response is JSON"
        );
        let body = match response.into_body() {
            Body::Text(text) => serde_json::from_str(&text).expect("response body is JSON"),
            other => panic!("unexpected body {other:?}"),
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// POSTs a JSON body to an endpoint.
    pub async fn post_json(&self, endpoint: Endpoint, body: &Value) -> TestResponse {
        self.call(endpoint, json_request(endpoint.path(), body))
            .await
    }

    /// Signs up with a JSON body (`POST /api/signup`).
    pub async fn signup(&self, name: &str, email: &str, password: &str) -> TestResponse {
        self.post_json(
            Endpoint::Signup,
            &json!({"name": name, "email": email, "password": password}),
        )
        .await
    }

    /// Signs in with a JSON body (`POST /api/signin`).
    pub async fn signin(&self, email: &str, password: &str) -> TestResponse {
        self.post_json(
            Endpoint::Signin,
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// `POST /api/refresh` with the refresh token as bearer.
    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.call(
            Endpoint::Refresh,
            bearer_request(Method::POST, "/api/refresh", refresh_token),
        )
        .await
    }

    /// `GET /api/dashboard` with the access token as bearer.
    pub async fn dashboard(&self, access_token: &str) -> TestResponse {
        self.call(
            Endpoint::Dashboard,
            bearer_request(Method::GET, "/api/dashboard", access_token),
        )
        .await
    }

    /// `POST /api/logout` with the access token as bearer.
    pub async fn logout(&self, access_token: &str) -> TestResponse {
        self.call(
            Endpoint::Logout,
            bearer_request(Method::POST, "/api/logout", access_token),
        )
        .await
    }

    /// `POST /api/forgot-password` for `email`.
    pub async fn forgot_password(&self, email: &str) -> TestResponse {
        self.post_json(Endpoint::ForgotPassword, &json!({"email": email}))
            .await
    }

    /// `POST /api/reset-password/{token}` setting `password`.
    pub async fn reset_password(&self, token: &str, password: &str) -> TestResponse {
        self.call(
            Endpoint::ResetPassword,
            reset_request(token, &json!({"password": password})),
        )
        .await
    }

    /// Signs up `name` with [`PASSWORD`], asserting 201; returns the signup response.
    pub async fn registered_user(&self, name: &str, email: &str) -> TestResponse {
        let response = self.signup(name, email, PASSWORD).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response
    }

    /// Signs up a user "Jane Doe" and signs in; returns the sign-in response.
    pub async fn signed_in_user(&self, email: &str) -> TestResponse {
        self.registered_user("Jane Doe", email).await;
        let response = self.signin(email, PASSWORD).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        response
    }

    /// [`Self::signed_in_user`], keeping only the access token.
    pub async fn signed_in_access_token(&self, email: &str) -> String {
        self.signed_in_user(email).await.str("access_token")
    }

    /// The reset token from the newest email queued for `email`, read from the link in its body
    /// as a person would read it from their inbox.
    pub async fn reset_token_from_outbox(&self, email: &str) -> String {
        self.reset_token_from_outbox_at(email, "http://localhost:5001/reset-password/")
            .await
    }

    /// Like [`TestApp::reset_token_from_outbox`], for a link starting with `prefix`.
    pub async fn reset_token_from_outbox_at(&self, email: &str, prefix: &str) -> String {
        let row = self
            .db
            .query_one(
                "SELECT body_text FROM email_outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
                &[&email],
            )
            .await
            .expect("a reset email was queued");
        let body: String = row.get(0);
        let start = body
            .find(prefix)
            .unwrap_or_else(|| panic!("the email holds a link starting {prefix}: {body}"))
            + prefix.len();
        body[start..].split_whitespace().next().unwrap().to_owned()
    }

    /// Asks for a reset for `email` (as stored: lower case), asserting 200; returns the token.
    pub async fn requested_reset_token(&self, email: &str) -> String {
        let response = self.forgot_password(email).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        self.reset_token_from_outbox(email).await
    }

    /// Another Lambda instance of the same deployment: its own `App` and connection pool over the
    /// same database, sharing nothing in memory with this one.
    pub async fn second_instance(&self) -> TestApp {
        self.redeployed(|_| {}).await
    }

    /// `POST /api/signin` as API Gateway delivers it from the client address `ip`.
    pub async fn signin_from(&self, ip: &str, email: &str, password: &str) -> TestResponse {
        let request = json_request(
            Endpoint::Signin.path(),
            &json!({"email": email, "password": password}),
        );
        self.call(Endpoint::Signin, from_client(request, ip, "test-agent/1.0"))
            .await
    }

    /// Number of rows a query counts (`SELECT count(*) ...`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.db.query_one(sql, &[]).await.unwrap().get(0)
    }
}

/// A POST with `Content-Type: application/json`.
pub fn json_request(path: &str, body: &Value) -> Request {
    raw_request(
        Method::POST,
        path,
        Some("application/json"),
        body.to_string(),
    )
}

/// A request with any method, content type and body.
pub fn raw_request(
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body.into()).unwrap()
}

/// `request` as API Gateway delivers it: from the client address `ip` (the request context's
/// `sourceIp`), with a `User-Agent` header.
pub fn from_client(request: Request, ip: &str, user_agent: &str) -> Request {
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(ip.to_owned());
    let mut request =
        request.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
    request.headers_mut().insert(
        header::USER_AGENT,
        lambda_http::http::HeaderValue::from_str(user_agent).unwrap(),
    );
    request
}

/// A request with a raw `Authorization` header value and an empty body.
pub fn authorization_request(method: Method, path: &str, value: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, value)
        .body(Body::Empty)
        .unwrap()
}

/// A request carrying `Authorization: Bearer <token>`.
pub fn bearer_request(method: Method, path: &str, token: &str) -> Request {
    authorization_request(method, path, &format!("Bearer {token}"))
}

/// `POST /api/reset-password/{token}`, with the path parameter filled in as API Gateway does.
pub fn reset_request(token: &str, body: &Value) -> Request {
    json_request(&format!("/api/reset-password/{token}"), body).with_path_parameters(
        std::collections::HashMap::from([("token".to_owned(), token.to_owned())]),
    )
}
