//! Any bearer value at `GET /api/dashboard`, through the real handler and `dispatch`: always a
//! 401 with a bearer code. The database is unreachable on purpose, so a token that got past the
//! signature check would show up as a 503: no input may forge one.
#![no_main]

use std::sync::LazyLock;

use auth::aws::Aws;
use auth::config::{Config, Environment};
use auth::lambda::dispatch;
use auth::mail::Mailer;
use auth::{App, Endpoint, handlers};
use lambda_http::Body;
use lambda_http::http::{HeaderValue, Method, Request, header};
use libfuzzer_sys::fuzz_target;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

static APP: LazyLock<App> = LazyLock::new(|| {
    RUNTIME.block_on(async {
        // Port 1 on loopback: nothing listens, nothing leaves the machine.
        let env = Environment::from_pairs([
            ("DATABASE_URL", "postgres://fuzz:fuzz@127.0.0.1:1/fuzz"),
            (
                "JWT_SECRET_KEY",
                "a-fuzzing-secret-that-is-at-least-32-bytes",
            ),
        ]);
        let config = Config::load(&env, &Aws::from_environment()).await.unwrap();
        App::new(config, Mailer::Log).unwrap()
    })
});

fuzz_target!(|value: &[u8]| {
    let mut authorization = b"Bearer ".to_vec();
    authorization.extend_from_slice(value);
    let Ok(authorization) = HeaderValue::from_bytes(&authorization) else {
        return;
    };
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/dashboard")
        .header(header::AUTHORIZATION, authorization)
        .body(Body::Empty)
        .unwrap();
    let response = RUNTIME
        .block_on(dispatch(
            Endpoint::Dashboard,
            Method::GET,
            handlers::dashboard(&APP, request),
        ))
        .unwrap();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str::<serde_json::Value>(text).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(response.status().as_u16(), 401, "{body}");
    let code = body["error"].as_str().unwrap();
    assert!(
        ["missing_token", "invalid_token", "token_expired"].contains(&code),
        "{body}"
    );
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
});
