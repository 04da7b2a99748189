//! The tests' typed helpers: an app over a fresh, migrated database of its own (dropped with
//! it), configured by the real loader, and calls to the real handlers through the same router
//! and `respond` as in Lambda. The pieces come from `testkit`, shared with the benchmark.

use std::collections::HashMap;
use std::sync::Arc;

use auth::config::{Config, DatabaseConfig, DbTimeouts};
use auth::lambda::respond;
use auth::mail::Mailer;
use auth::{App, Endpoint};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{HeaderMap, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use testkit::database::ScratchDatabase;
use tokio_postgres::NoTls;
use uuid::Uuid;

pub use testkit::keys::{ED25519_A, ED25519_A_PUBLIC, ED25519_B, P256, P256_PUBLIC, TEST_SECRET};
pub use testkit::requests::{
    authorization_request, bearer_request, from_client, json_request, raw_request, reset_request,
};

/// The code an authenticator app shows for `secret` (base32) `steps` time steps from now.
pub fn totp_code(secret: &str, steps: i64) -> String {
    testkit::totp::code(secret, steps)
}

/// A password that satisfies the rules.
pub const PASSWORD: &str = "correct horse battery staple";
/// Where the test apps' reset links point (the default `RESET_URL`).
pub const RESET_LINK_PREFIX: &str = "http://localhost:5001/reset-password#";
/// Where the test apps' confirmation links point (the default `VERIFY_URL`), the token after `#`.
pub const VERIFY_LINK_PREFIX: &str = "http://localhost:5001/verify-email#";

/// The original sign-up, without proving addresses: 201 with the user, 409 `email_taken`.
pub const UNVERIFIED: &[(&str, &str)] = &[("REQUIRE_EMAIL_VERIFICATION", "false")];

/// The variables of an asymmetric key ring: signs with [`ED25519_A`], still verifies [`P256`]'s
/// tokens.
pub const KEY_RING: &[(&str, &str)] = &[
    ("JWT_SECRET_KEY", ""),
    ("JWT_PRIVATE_KEY", ED25519_A),
    ("JWT_PREVIOUS_PUBLIC_KEYS", P256_PUBLIC),
];

/// An [`App`] over its own database, plus a direct connection for arranging and asserting.
pub struct TestApp {
    pub app: App,
    pub db: tokio_postgres::Client,
    /// The overrides this app was configured with, on top of testkit's base variables.
    overrides: Vec<(String, String)>,
    /// Shared by the instances of one deployment; the database goes with the last of them.
    database: Option<Arc<ScratchDatabase>>,
}

/// A response, with the body parsed as JSON (every response of the API is JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    /// Asserts the status, showing the body otherwise.
    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.body);
    }

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
        sorted_keys(&self.body)
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

/// The field names of a JSON object, sorted.
#[track_caller]
pub fn sorted_keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
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

impl TestApp {
    /// A new app over a new database.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    /// A new app over a new database, configured with these variables on top of the base ones.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_with_mailer(overrides, Mailer::Log).await
    }

    /// [`Self::spawn_with`] with the given mailer (SES against moto).
    pub async fn spawn_with_mailer(overrides: &[(&str, &str)], mailer: Mailer) -> TestApp {
        let database = migrated_database().await;
        let overrides = owned(overrides);
        let config =
            testkit::config::load(&database.connection_string(), &borrowed(&overrides)).await;
        Self::start(config, mailer, overrides, Some(database)).await
    }

    /// An app over `database` (timeouts of the test's own, say), the base variables otherwise.
    pub async fn over(database: FreshDatabase) -> TestApp {
        Self::over_database(database.config, Some(database.scratch)).await
    }

    /// An app over a database of the test's own making (on a cluster of its own, say), kept
    /// alive by `guard` when given.
    pub async fn over_database(
        database: DatabaseConfig,
        guard: Option<Arc<ScratchDatabase>>,
    ) -> TestApp {
        let url = url_of(&database);
        let config = Config {
            database,
            ..testkit::config::load(&url, &[]).await
        };
        Self::start(config, Mailer::Log, Vec::new(), guard).await
    }

    /// This app with a new direct connection (after its database restarted).
    pub async fn reconnected(self) -> TestApp {
        let (db, connection) = self.app.config.database.url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        TestApp { db, ..self }
    }

    /// An app whose database cannot be reached (or refuses it): its `db` is a connection to a
    /// scratch database of its own instead, for the tests that never use it.
    pub async fn unreachable(config: Config) -> TestApp {
        let spare = scratch_database().await;
        let (db, connection) = spare.config().connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        TestApp {
            app: App::new(config, Mailer::Log).unwrap(),
            db,
            overrides: Vec::new(),
            database: Some(Arc::new(spare)),
        }
    }

    async fn start(
        config: Config,
        mailer: Mailer,
        overrides: Vec<(String, String)>,
        database: Option<Arc<ScratchDatabase>>,
    ) -> TestApp {
        let (db, connection) = config.database.url.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        TestApp {
            app: App::new(config, mailer).unwrap(),
            db,
            overrides,
            database,
        }
    }

    /// Another app over the same database, configured with this one's overrides and then
    /// `more`: the same stack redeployed with new settings, e.g. a rotated signing key.
    pub async fn redeployed(&self, more: &[(&str, &str)]) -> TestApp {
        let mut overrides = self.overrides.clone();
        overrides.extend(owned(more));
        let database = self.app.config.database.clone();
        let reloaded = testkit::config::load(&url_of(&database), &borrowed(&overrides)).await;
        // Same database and database settings (they may be a test's own), new everything else.
        let config = Config {
            database,
            ..reloaded
        };
        Self::start(config, Mailer::Log, overrides, self.database.clone()).await
    }

    /// Answers a request for `endpoint` as its function does in Lambda: the same router and
    /// [`respond`].
    pub async fn call_raw(&self, endpoint: Endpoint, request: Request) -> Response<Body> {
        respond(endpoint.route(), Some(&self.app), request).await
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

    /// `endpoint` with its own method and path, a bearer token and a JSON body when given
    /// (`Value::Null`: no body).
    pub async fn call_endpoint(
        &self,
        endpoint: Endpoint,
        token: Option<&str>,
        body: Value,
    ) -> TestResponse {
        let body = (!body.is_null()).then_some(body);
        self.call(
            endpoint,
            endpoint_request(endpoint, endpoint.path(), token, body.as_ref()),
        )
        .await
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

    /// `DELETE /api/sessions/{id}` with the access token as bearer.
    pub async fn end_session(&self, access_token: &str, id: &str) -> TestResponse {
        let request = bearer_request(Method::DELETE, &format!("/api/sessions/{id}"), access_token)
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]));
        self.call(Endpoint::EndSession, request).await
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

    /// Signs up `name` with [`PASSWORD`] and, while addresses must be proven, confirms the
    /// address with the emailed link as its owner would; returns the user object as sign-in
    /// shows it.
    pub async fn registered_user(&self, name: &str, email: &str) -> Value {
        let response = self.signup(name, email, PASSWORD).await;
        if response.status == StatusCode::CREATED {
            return response.body["user"].clone();
        }
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
        let stored = email.trim().to_lowercase();
        let token = self.verification_token_from_outbox(&stored).await;
        self.verify_email(&json!({ "token": token }))
            .await
            .assert_status(StatusCode::OK);
        let row = self
            .db
            .query_one(
                "SELECT id, name, email, email_verified_at IS NOT NULL AS verified
                 FROM users WHERE email = $1",
                &[&stored],
            )
            .await
            .expect("the account exists");
        json!({
            "id": row.get::<_, Uuid>("id"),
            "name": row.get::<_, String>("name"),
            "email": row.get::<_, String>("email"),
            "email_verified": row.get::<_, bool>("verified"),
        })
    }

    /// `POST /api/verify-email` with this body.
    pub async fn verify_email(&self, body: &Value) -> TestResponse {
        self.post_json(Endpoint::VerifyEmail, body).await
    }

    /// The token of the confirmation link in the newest email queued for `email`.
    pub async fn verification_token_from_outbox(&self, email: &str) -> String {
        self.reset_token_from_outbox_at(email, VERIFY_LINK_PREFIX)
            .await
    }

    /// The 6-digit code of the newest email queued for `email`: its one six-digit number.
    pub async fn verification_code_from_outbox(&self, email: &str) -> String {
        let body: String = self
            .db
            .query_one(
                "SELECT body_text FROM email_outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
                &[&email],
            )
            .await
            .expect("an email was queued")
            .get(0);
        let codes: Vec<&str> = body
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| run.len() == 6)
            .collect();
        assert_eq!(codes.len(), 1, "one six-digit code: {body}");
        codes[0].to_owned()
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
        self.reset_token_from_outbox_at(email, RESET_LINK_PREFIX)
            .await
    }

    /// Like [`TestApp::reset_token_from_outbox`], for a link starting with `prefix`.
    pub async fn reset_token_from_outbox_at(&self, email: &str, prefix: &str) -> String {
        testkit::outbox::link_token(&self.db, email, prefix)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
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
        self.redeployed(&[]).await
    }

    /// `POST /api/signin` as API Gateway delivers it from the client address `ip`.
    pub async fn signin_from(&self, ip: &str, email: &str, password: &str) -> TestResponse {
        self.signin_on_device(ip, email, password, None).await
    }

    /// `POST /api/signin` from `ip`, presenting `device_token` when given.
    pub async fn signin_on_device(
        &self,
        ip: &str,
        email: &str,
        password: &str,
        device_token: Option<&str>,
    ) -> TestResponse {
        let request = json_request(
            Endpoint::Signin.path(),
            &json!({"email": email, "password": password, "device_token": device_token}),
        );
        self.call(Endpoint::Signin, from_client(request, ip, "test-agent/1.0"))
            .await
    }

    /// Number of rows a query counts (`SELECT count(*) ...`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.db.query_one(sql, &[]).await.unwrap().get(0)
    }
}

/// A fresh database with the migrations applied, dropped with the guard.
pub async fn migrated_database() -> Arc<ScratchDatabase> {
    fresh_database().await.scratch
}

/// A migrated scratch database with its configuration as the loader reads it (dereferences to
/// it); the database is dropped with this.
pub struct FreshDatabase {
    pub config: DatabaseConfig,
    pub scratch: Arc<ScratchDatabase>,
}

impl std::ops::Deref for FreshDatabase {
    type Target = DatabaseConfig;

    fn deref(&self) -> &DatabaseConfig {
        &self.config
    }
}

/// [`migrated_database`] with its configuration.
pub async fn fresh_database() -> FreshDatabase {
    fresh_database_with(DbTimeouts::default()).await
}

/// A fresh database with these timeouts, which the migration makes the database's defaults.
pub async fn fresh_database_with(timeouts: DbTimeouts) -> FreshDatabase {
    let server = testkit::database::server().unwrap_or_else(|e| panic!("{e:#}"));
    let (scratch, config) = testkit::config::migrated_database(&server, "test", &[], |config| {
        config.database.timeouts = timeouts
    })
    .await
    .unwrap_or_else(|e| panic!("a fresh, migrated database: {e:#}"));
    FreshDatabase {
        config: config.database,
        scratch: Arc::new(scratch),
    }
}

/// A connection string for the database `config` connects to.
fn url_of(config: &DatabaseConfig) -> String {
    testkit::database::connection_string(&config.url)
}

/// A new, empty database on the test server, dropped with the guard.
async fn scratch_database() -> ScratchDatabase {
    let server = testkit::database::server().unwrap_or_else(|e| panic!("{e:#}"));
    ScratchDatabase::create(&server, "test")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// A request to `endpoint` (its method) at `path`, with a bearer token and a JSON body when given.
pub fn endpoint_request(
    endpoint: Endpoint,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(endpoint.method().expect("a method"))
        .uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::Empty),
    }
    .unwrap()
}
