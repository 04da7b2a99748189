//! Any bearer value at `GET /api/dashboard`, through the real router and `respond`: always a
//! 401 with a bearer code. The database is unreachable on purpose, so a token that got past the
//! signature check would show up as a 503: no input may forge one.
#![no_main]

use std::sync::LazyLock;

use auth::lambda::respond;
use auth::mail::Mailer;
use auth::{App, Endpoint};
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
        // Port 1 on loopback: nothing listens, nothing leaves the machine. The tests' own
        // configuration otherwise, through the real loader.
        let config = testkit::config::load("postgres://fuzz:fuzz@127.0.0.1:1/fuzz", &[]).await;
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
    let response = RUNTIME.block_on(respond(Endpoint::Dashboard.route(), Some(&*APP), request));
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
