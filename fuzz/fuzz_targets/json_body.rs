//! Any body under any `Content-Type`: a JSON object, or exactly one of the three documented
//! codes in the documented order; each field then a string (or, for a passkey's `credential`, an
//! object), `missing_field` or `invalid_json`.
#![no_main]

use auth::http::{JsonBody, MAX_BODY_BYTES};
use lambda_http::Body;
use lambda_http::http::{HeaderValue, Request, header};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "Application/JSON; charset=utf-8",
    "text/plain",
    "application/jsonp",
];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[selector as usize % CONTENT_TYPES.len()];
    let is_json = selector as usize % CONTENT_TYPES.len() < 2;
    let body_value = match std::str::from_utf8(body) {
        Ok(text) => Body::Text(text.to_owned()),
        Err(_) => Body::Binary(body.to_vec()),
    };
    let request = Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, HeaderValue::from_static(content_type))
        .body(body_value)
        .unwrap();
    let parsed = JsonBody::from_request(&request);
    if !is_json {
        assert_eq!(parsed.unwrap_err().code(), "unsupported_media_type");
        return;
    }
    if body.len() > MAX_BODY_BYTES {
        assert_eq!(parsed.unwrap_err().code(), "payload_too_large");
        return;
    }
    match (parsed, serde_json::from_slice::<Value>(body)) {
        (Ok(parsed), Ok(Value::Object(object))) => {
            for field in ["email", "name", "password"] {
                match (parsed.required(field), object.get(field)) {
                    (Ok(got), Some(Value::String(s))) => assert_eq!(got, s),
                    (Err(e), None | Some(Value::Null)) => assert_eq!(e.code(), "missing_field"),
                    (Err(e), Some(Value::String(s))) if s.trim().is_empty() => {
                        assert_eq!(e.code(), "missing_field")
                    }
                    (Err(e), Some(_)) => assert_eq!(e.code(), "invalid_json"),
                    (got, value) => {
                        panic!("{field}: {:?} for {value:?}", got.map_err(|e| e.code()))
                    }
                }
            }
            match (
                parsed.required_object("credential"),
                object.get("credential"),
            ) {
                (Ok(got), Some(value @ Value::Object(_))) => assert_eq!(&got, value),
                (Err(e), None | Some(Value::Null)) => assert_eq!(e.code(), "missing_field"),
                (Err(e), Some(_)) => assert_eq!(e.code(), "invalid_json"),
                (got, value) => panic!("credential: {:?} for {value:?}", got.map_err(|e| e.code())),
            }
        }
        (Err(error), _) => assert_eq!(error.code(), "invalid_json"),
        (Ok(_), other) => panic!("accepted a body that is not a JSON object: {other:?}"),
    }
});
