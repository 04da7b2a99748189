//! End to end over HTTP: the whole user journey against the functions served by
//! `cargo lambda watch` at their production paths. `make test` starts that stack and sets
//! `E2E_BASE_URL` (the API) and `E2E_DATABASE_URL` (its database, where the reset email lands).

use serde_json::{Value, json};
use tokio_postgres::NoTls;

struct Api {
    base: String,
    agent: ureq::Agent,
}

struct Reply {
    status: u16,
    body: Value,
}

impl Api {
    fn new() -> Api {
        let base = std::env::var("E2E_BASE_URL")
            .expect("E2E_BASE_URL is not set: run `make test`, which serves the functions with cargo lambda watch");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Api {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder().method(method).uri(&url);
        let request = match token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        };
        let result = match body {
            Some(body) => self.agent.run(
                request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .unwrap(),
            ),
            None => self.agent.run(request.body(()).unwrap()),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: content-type {content_type:?}"
        );
        let body = response.body_mut().read_json::<Value>().expect("JSON body");
        Reply { status, body }
    }

    /// The status of an HTML page.
    fn page(&self, path: &str) -> u16 {
        let url = format!("{}{path}", self.base);
        let request = ureq::http::Request::builder()
            .method("GET")
            .uri(&url)
            .body(())
            .unwrap();
        let response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        response.status().as_u16()
    }

    fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, None)
    }

    fn post(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.send("POST", path, token, body)
    }
}

#[track_caller]
fn expect(reply: &Reply, status: u16, step: &str) {
    assert_eq!(reply.status, status, "{step}: {}", reply.body);
}

fn field(reply: &Reply, name: &str) -> String {
    reply.body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {}", reply.body))
        .to_owned()
}

/// The token of the link starting `<base><page>` in the newest email queued for `email`, read
/// as its recipient would: the link must point at the stack under test.
async fn emailed_token(email: &str, base: &str, page: &str) -> String {
    let url =
        std::env::var("E2E_DATABASE_URL").expect("E2E_DATABASE_URL is not set: run `make test`");
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("E2E database answers");
    tokio::spawn(connection);
    testkit::outbox::link_token(&client, email, &format!("{base}{page}"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

#[tokio::test]
async fn the_whole_journey_works_over_http() {
    let api = Api::new();
    let email = format!("e2e-{}@Example.com", uuid::Uuid::new_v4().simple());
    let normalised = email.to_lowercase();

    let root = api.get("/", None);
    expect(&root, 200, "GET /");
    assert_eq!(
        root.body,
        json!({"message": "Welcome to JWT Auth API", "status": "online"})
    );
    let public = api.get("/api/public", None);
    assert_eq!(
        (public.status, public.body.clone()),
        (200, json!({"message": "This is a public endpoint"}))
    );

    let signup = api.post(
        "/api/signup",
        None,
        Some(json!({"name": "E2E User", "email": email, "password": "first password"})),
    );
    expect(&signup, 202, "signup");
    let refused = api.post(
        "/api/signin",
        None,
        Some(json!({"email": normalised, "password": "first password"})),
    );
    expect(&refused, 403, "signin before the address is confirmed");
    let confirmation = emailed_token(&normalised, &api.base, "/verify-email#").await;
    let page = api.page("/verify-email");
    assert_eq!(page, 200, "the confirmation page");
    let confirmed = api.post(
        "/api/verify-email",
        None,
        Some(json!({ "token": confirmation })),
    );
    expect(&confirmed, 200, "verify-email");

    let signin = api.post(
        "/api/signin",
        None,
        Some(json!({"email": normalised, "password": "first password"})),
    );
    expect(&signin, 200, "signin");
    assert_eq!(signin.body["token_type"], "Bearer");
    let access = field(&signin, "access_token");
    let refresh = field(&signin, "refresh_token");

    let dashboard = api.get("/api/dashboard", Some(&access));
    expect(&dashboard, 200, "dashboard");
    assert_eq!(field(&dashboard, "message"), "Welcome E2E User!");

    let refreshed = api.post("/api/refresh", Some(&refresh), None);
    expect(&refreshed, 200, "refresh");
    let access = field(&refreshed, "access_token");
    let refresh = field(&refreshed, "refresh_token");
    expect(
        &api.get("/api/dashboard", Some(&access)),
        200,
        "dashboard with the refreshed token",
    );

    let logout = api.post("/api/logout", Some(&access), None);
    expect(&logout, 200, "logout");
    assert_eq!(
        field(&logout, "message"),
        "Logout successful. Tokens revoked."
    );
    let after = api.get("/api/dashboard", Some(&access));
    expect(&after, 401, "dashboard after logout");
    assert_eq!(after.body["error"], "invalid_token");
    expect(
        &api.post("/api/refresh", Some(&refresh), None),
        401,
        "refresh after logout",
    );

    let forgot = api.post("/api/forgot-password", None, Some(json!({"email": email})));
    expect(&forgot, 200, "forgot-password");
    let token = emailed_token(&normalised, &api.base, "/reset-password#").await;
    let token = token.as_str();

    let reset = api.post(
        &format!("/api/reset-password/{token}"),
        None,
        Some(json!({"password": "second password"})),
    );
    expect(
        &reset,
        200,
        "reset-password through the emailed link's token",
    );
    let reused = api.post(
        &format!("/api/reset-password/{token}"),
        None,
        Some(json!({"password": "third password"})),
    );
    expect(&reused, 400, "second use of the reset token");

    expect(
        &api.post(
            "/api/signin",
            None,
            Some(json!({"email": email, "password": "first password"})),
        ),
        401,
        "old password",
    );
    expect(
        &api.post(
            "/api/signin",
            None,
            Some(json!({"email": email, "password": "second password"})),
        ),
        200,
        "new password",
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let api = Api::new();

    let missing = api.get("/api/nothing-here", None);
    expect(&missing, 404, "unknown path");
    assert_eq!(missing.body["error"], "not_found");

    let wrong_method = api.get("/api/signup", None);
    expect(&wrong_method, 405, "GET on a POST route");
    assert_eq!(wrong_method.body["error"], "method_not_allowed");

    let no_content_type = api.send("POST", "/api/signin", None, None);
    expect(&no_content_type, 415, "POST without a JSON body");
}
