//! Any `Authorization` header value: a token exactly when the value is `Bearer <token>`, else
//! `missing_token`; never a panic.
#![no_main]

use auth::http::bearer_token;
use lambda_http::Body;
use lambda_http::http::{HeaderValue, Request, header};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

fuzz_target!(|value: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let request = Request::builder()
        .header(header::AUTHORIZATION, value.clone())
        .body(Body::Empty)
        .unwrap();
    match bearer_token(&request) {
        Ok(token) => {
            let text = value.to_str().expect("a token only from a UTF-8 value");
            let (scheme, rest) = text.trim().split_once(' ').expect("scheme and token");
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{text:?}");
            assert_eq!(token.expose_secret(), rest.trim());
            assert!(!token.expose_secret().is_empty());
        }
        Err(error) => assert_eq!(error.code(), "missing_token"),
    }
});
