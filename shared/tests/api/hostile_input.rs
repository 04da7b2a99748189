//! Hostile input, property-tested: arbitrary `Authorization` headers, near-JWTs, refresh and reset
//! tokens, content types and bodies (invalid UTF-8, wrong JSON types, deep nesting, huge strings)
//! against the edge parsers and, through the real `dispatch`, the handlers over a real database.
//!
//! The properties: nothing panics, nothing answers 5xx, and every answer is a status the endpoint
//! documents in `openapi.yaml` with, for errors, one of the `error` codes documented for that
//! status and a body of exactly `{error, message}`.
//!
//! The `make test` counterpart of the cargo-fuzz targets in `fuzz/` (`make fuzz`, nightly only):
//! proptest runs on stable Rust and against the database. Cases per property: [`PURE_CASES`] for the parsers, [`HANDLER_CASES`] through the
//! handlers; `PROPTEST_CASES` overrides both (e.g. `PROPTEST_CASES=20000` for a long run).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use auth::Endpoint;
use auth::domain::{
    CeremonyId, Email, EmailCode, PasskeyName, Password, RecoveryCode, TotpCode, UserName,
};
use auth::http::{JsonBody, MAX_BODY_BYTES, Query, bearer_token};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::{HeaderValue, Method, header};
use lambda_http::{Body, Request, RequestExt, Response};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TEST_SECRET, TestApp, from_client};

/// Cases per property of a pure parser: cheap, so many.
const PURE_CASES: u32 = 3_000;
/// Cases per property through a handler and the database.
const HANDLER_CASES: u32 = 600;

// ---------------------------------------------------------------------------------------------
// What each endpoint may answer, read from openapi.yaml.

const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let text = std::fs::read_to_string(SPEC_PATH).unwrap_or_else(|e| panic!("{SPEC_PATH}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{SPEC_PATH} is not YAML: {e}"))
});

/// Follows local `$ref`s.
fn resolve(mut value: &'static Value) -> &'static Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        value = SPEC
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    value
}

/// One documented answer: a status, and for errors the `error` code.
type Answer = (u16, Option<String>);

/// The answers an endpoint documents, 5xx left out: with a working database none may occur.
fn documented_answers(endpoint: Endpoint) -> BTreeSet<Answer> {
    let method = endpoint.method().unwrap().as_str().to_lowercase();
    let operation = &SPEC["paths"][endpoint.path()][method.as_str()];
    let responses = operation["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{endpoint:?} is not documented"));
    let mut answers = BTreeSet::new();
    for (status, response) in responses {
        let status: u16 = status.parse().expect("statuses are numbers");
        if status >= 500 {
            continue;
        }
        if status < 400 {
            answers.insert((status, None));
            continue;
        }
        let media = &resolve(response)["content"]["application/json"];
        let examples = media
            .get("examples")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|map| map.values().map(|e| &resolve(e)["value"]))
            .chain(media.get("example"));
        for example in examples {
            let code = example["error"]
                .as_str()
                .expect("error examples carry a code");
            answers.insert((status, Some(code.to_owned())));
        }
    }
    // Per-IP rate limits answer 429 on the endpoints that cost an Argon2 hash or send mail.
    // So does the passkey sign-in's start, which keeps a ceremony for each.
    if matches!(
        endpoint,
        Endpoint::Signup
            | Endpoint::Signin
            | Endpoint::ForgotPassword
            | Endpoint::PasskeySigninStart
    ) {
        for code in ["too_many_attempts", "rate_limited"] {
            answers.insert((429, Some(code.to_owned())));
        }
    }
    answers
}

/// Checks one response against the documented answers; the `Err` says what is wrong and why.
fn check_answer(
    endpoint: Endpoint,
    allowed: &BTreeSet<Answer>,
    response: Response<Body>,
    input: &dyn std::fmt::Debug,
) -> Result<(), TestCaseError> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if status == 302 || status == 303 {
        // A provider route's redirect: documented, somewhere to go, no body.
        prop_assert!(
            allowed.contains(&(status, None)) && headers.contains_key(header::LOCATION),
            "{endpoint:?}: an undocumented redirect or one without a Location, to {input:?}"
        );
        return Ok(());
    }
    if status == 204 {
        // Done, nothing to say (an admin's deletion): documented, and no body.
        prop_assert!(
            allowed.contains(&(status, None)) && matches!(response.body(), Body::Empty),
            "{endpoint:?}: an undocumented 204 or one with a body, to {input:?}"
        );
        return Ok(());
    }
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        other => return Err(TestCaseError::fail(format!("non-text body {other:?}"))),
    };
    let context = || format!("{endpoint:?} answered {status} {body} to {input:?}");
    prop_assert!(status < 500, "a server error: {}", context());
    prop_assert_eq!(
        headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes),
        Some(&b"application/json"[..]),
        "{}",
        context()
    );
    let json: Value = serde_json::from_str(&body)
        .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {}", context())))?;
    if status < 400 {
        prop_assert!(
            allowed.contains(&(status, None)),
            "undocumented: {}",
            context()
        );
        return Ok(());
    }
    let object = json.as_object();
    let keys: Vec<&str> = object
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    prop_assert_eq!(
        keys,
        ["error", "message"],
        "error bodies are exactly {{error, message}}: {}",
        context()
    );
    let code = json["error"].as_str().unwrap_or_default().to_owned();
    prop_assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        context()
    );
    prop_assert!(
        allowed.contains(&(status, Some(code.clone()))),
        "undocumented status and code: {}",
        context()
    );
    if [
        "missing_token",
        "invalid_token",
        "token_expired",
        "invalid_admin_token",
    ]
    .contains(&code.as_str())
    {
        prop_assert!(
            headers.contains_key(header::WWW_AUTHENTICATE),
            "a bearer 401 without its challenge: {}",
            context()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Running properties.

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A runner with `n` cases (or `PROPTEST_CASES`); random seed, so every run explores anew, and a
/// failure prints its shrunk input. No regression files: the input in the message is enough to
/// turn a failure into a table case.
fn runner(n: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(n),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    })
}

/// Runs `property` over `strategy`, failing the test with the shrunk counterexample.
#[track_caller]
fn check<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    if let Err(failure) = runner(cases).run(&strategy, property) {
        panic!("{name}: {failure}");
    }
}

/// A multi-threaded runtime, so the database connections' tasks run between cases too.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Strategies.

/// Bytes of a generated header value or body, shown as text in a failure message (not as a list
/// of numbers).
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.0);
        let shown: String = text.chars().take(400).collect();
        write!(f, "{} bytes {shown:?}", self.0.len())?;
        if shown.len() < text.len() {
            write!(f, "...")?;
        }
        Ok(())
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Bytes a header value may hold (RFC 9110: visible ASCII, space, tab, obs-text); not all UTF-8.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => 0x20u8..0x7f,
            1 => Just(b'\t'),
            1 => 0x80u8..=0xff,
        ],
        0..max,
    )
}

/// Any string: arbitrary Unicode, control characters, blanks, lookalikes, and sizes past the
/// body limit.
fn hostile_string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => any::<String>(),
        1 => "[\\x00-\\x1f\\x7f]{0,8}",
        1 => "[ \\t\\r\\n\\u{a0}\\u{2028}\\u{3000}]{0,8}",
        1 => "[\\u{202e}\\u{200b}\\u{feff}\\u{fffd}\\u{1f600}é]{1,12}",
        1 => "%[0-9A-Fa-f]{2}(%[0-9A-Fa-f]{2}){0,6}",
        1 => (0usize..=MAX_BODY_BYTES + 16).prop_map(|n| "a".repeat(n)),
        1 => (0usize..=6_000).prop_map(|n| "é".repeat(n)),
    ]
    .boxed()
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON numbers are finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// `depth` arrays or objects inside each other: serde_json stops at 128 levels, never overflows.
fn nested(depth: usize, objects: bool) -> String {
    if objects {
        format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
    } else {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }
}

/// A field of a JSON body: absent, or any value, with plausible-and-valid ones weighted up so
/// the later checks (and the service behind them) are reached too.
fn field(valid: BoxedStrategy<String>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        8 => valid.prop_map(|s| Some(Value::String(s))),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => any_json().prop_map(Some),
        2 => hostile_string().prop_map(|s| Some(Value::String(s))),
        1 => (1usize..120, any::<bool>())
            .prop_map(|(depth, objects)| Some(serde_json::from_str(&nested(depth, objects)).unwrap())),
    ]
    .boxed()
}

fn valid_email() -> BoxedStrategy<String> {
    "[a-z0-9]{1,12}(\\.[a-z]{1,5})?@[a-z]{1,10}\\.(com|org|example)".boxed()
}

fn valid_name() -> BoxedStrategy<String> {
    "[A-Za-zé' -]{1,30}".boxed()
}

fn valid_password() -> BoxedStrategy<String> {
    "[ -~]{8,40}".boxed()
}

/// A JSON object with the given fields, each drawn from its strategy, plus stray fields.
fn object_body(fields: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<Vec<u8>> {
    let fields: Vec<_> = fields
        .into_iter()
        .map(|(name, valid)| field(valid).prop_map(move |value| (name, value)))
        .collect();
    (
        fields,
        prop::collection::btree_map(any::<String>(), any_json(), 0..3),
    )
        .prop_map(|(fields, extra)| {
            let mut object: serde_json::Map<String, Value> = extra.into_iter().collect();
            for (name, value) in fields {
                match value {
                    Some(value) => object.insert(name.to_owned(), value),
                    None => object.remove(name),
                };
            }
            Value::Object(object).to_string().into_bytes()
        })
        .boxed()
}

/// Request bodies: mostly objects of the endpoint's fields, then any JSON, raw bytes (invalid
/// UTF-8 included), deep nesting, a string holding invalid UTF-8, and sizes around the limit.
fn hostile_body(fields: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<Vec<u8>> {
    let first_field = fields[0].0;
    prop_oneof![
        10 => object_body(fields),
        1 => any_json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => (1usize..3_000, any::<bool>()).prop_map(|(depth, objects)| nested(depth, objects).into_bytes()),
        1 => prop::collection::vec(0x80u8..=0xff, 1..8).prop_map(move |junk| {
            let mut body = format!(r#"{{"{first_field}":""#).into_bytes();
            body.extend(junk);
            body.extend(br#""}"#);
            body
        }),
        2 => (MAX_BODY_BYTES - 40..MAX_BODY_BYTES + 40).prop_map(move |size| {
            let mut body = format!(r#"{{"{first_field}":""#).into_bytes();
            body.resize(size.saturating_sub(2), b'x');
            body.extend(br#""}"#);
            body
        }),
    ]
    .boxed()
}

/// `Content-Type` values: JSON in its accepted spellings, near misses, junk, or none.
fn content_type() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        16 => prop::sample::select(vec![
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ; q=1",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => prop::sample::select(vec![
            "application/jsonp",
            "application/json-patch+json",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application",
            "",
            ";application/json",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => header_bytes(64).prop_map(Some),
        1 => Just(None),
    ]
}

/// Mostly the endpoint's own method, sometimes another (405 before anything else runs).
fn method(own: Method) -> impl Strategy<Value = Method> {
    prop_oneof![
        16 => Just(own),
        1 => prop::sample::select(vec![
            Method::GET, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD, Method::OPTIONS,
        ]),
        1 => "[A-Z]{1,10}".prop_filter_map("a valid method token", |m| Method::from_bytes(m.as_bytes()).ok()),
    ]
}

/// A request as API Gateway hands it over: binary body unless it is UTF-8.
fn request(
    method: Method,
    path: &str,
    content_type: Option<&[u8]>,
    authorization: Option<&[u8]>,
    body: &[u8],
) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path);
    if let Some(value) = content_type {
        builder = builder.header(
            header::CONTENT_TYPE,
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    if let Some(value) = authorization {
        builder = builder.header(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let body = match String::from_utf8(body.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(bytes) => Body::Binary(bytes.into_bytes()),
    };
    builder.body(body).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The edge parsers, pure.

fn authorization_request(value: &[u8]) -> Request {
    request(Method::GET, "/api/dashboard", None, Some(value), &[])
}

#[test]
fn bearer_token_takes_any_header_value_and_answers_a_token_or_missing_token() {
    check(
        "arbitrary Authorization bytes",
        PURE_CASES,
        header_bytes(300),
        |value| {
            match bearer_token(&authorization_request(&value)) {
                Ok(token) => {
                    let token = token.expose_secret();
                    let text =
                        std::str::from_utf8(&value).expect("only UTF-8 values yield a token");
                    let (scheme, rest) = text.trim().split_once(' ').unwrap();
                    prop_assert!(scheme.eq_ignore_ascii_case("bearer"), "{text:?}");
                    prop_assert_eq!(token, rest.trim());
                    prop_assert!(!token.is_empty());
                }
                Err(error) => prop_assert_eq!(error.code(), "missing_token"),
            }
            Ok(())
        },
    );
}

#[test]
fn bearer_token_returns_exactly_the_token_of_a_well_formed_header() {
    let scheme = prop_oneof![Just("Bearer".to_owned()), "[Bb][Ee][Aa][Rr][Ee][Rr]",];
    let token = "[!-~]{1,200}";
    check(
        "Bearer in any case, spaces around, any visible token",
        PURE_CASES,
        (scheme, " {1,4}", token, " {0,3}", " {0,3}"),
        |(scheme, gap, token, before, after)| {
            let value = format!("{before}{scheme}{gap}{token}{after}");
            let parsed = bearer_token(&authorization_request(value.as_bytes()));
            prop_assert!(parsed.is_ok(), "{value:?} was refused");
            // A token may not contain a space, so `token` is everything after the gap.
            let parsed = parsed.unwrap();
            prop_assert_eq!(parsed.expose_secret(), token.as_str(), "{:?}", value);
            Ok(())
        },
    );
}

#[test]
fn bearer_token_refuses_every_other_scheme_and_separator() {
    let other_scheme = prop_oneof![
        Just("Basic".to_owned()),
        Just("Bearer:".to_owned()),
        Just("Bearerx".to_owned()),
        Just("Token".to_owned()),
        Just(String::new()),
        "[A-Za-z]{1,10}".prop_filter("not bearer", |s| !s.eq_ignore_ascii_case("bearer")),
    ]
    .prop_map(|scheme| format!("{scheme} "));
    let bearer_without_space =
        prop::sample::select(vec!["Bearer\t", "Bearer", "Bearer,", "Bearer:"])
            .prop_map(str::to_owned);
    // Visible characters only: the token never brings a space of its own.
    let token = "[!-~]{0,60}";
    check(
        "other schemes; Bearer without a space",
        PURE_CASES,
        (prop_oneof![other_scheme, bearer_without_space], token),
        |(prefix, token)| {
            let value = format!("{prefix}{token}");
            let parsed = bearer_token(&authorization_request(value.as_bytes()));
            prop_assert!(parsed.is_err(), "{value:?} was accepted");
            prop_assert_eq!(parsed.unwrap_err().code(), "missing_token");
            Ok(())
        },
    );
}

#[test]
fn json_body_answers_a_map_or_one_of_its_three_codes_in_the_documented_order() {
    let body = prop_oneof![
        3 => hostile_body(vec![("email", valid_email())]),
        1 => prop::collection::vec(any::<u8>(), 0..MAX_BODY_BYTES + 64),
    ];
    check(
        "arbitrary content types and bodies",
        PURE_CASES,
        (
            content_type().prop_map(|c| c.map(Bytes)),
            body.prop_map(Bytes),
        ),
        |(content_type, body)| {
            let size = body.len();
            let request = request(
                Method::POST,
                "/api/signup",
                content_type.as_deref(),
                None,
                &body,
            );
            let is_json = content_type
                .as_deref()
                .and_then(|ct| std::str::from_utf8(ct).ok())
                .map(|ct| {
                    ct.split(';')
                        .next()
                        .unwrap()
                        .trim()
                        .eq_ignore_ascii_case("application/json")
                })
                .unwrap_or(false);
            let expected = if !is_json {
                Some("unsupported_media_type")
            } else if size > MAX_BODY_BYTES {
                Some("payload_too_large")
            } else if !matches!(serde_json::from_slice::<Value>(&body), Ok(Value::Object(_))) {
                Some("invalid_json")
            } else {
                None
            };
            match (JsonBody::from_request(&request), expected) {
                (Ok(parsed), None) => {
                    let object: Value = serde_json::from_slice(&body).unwrap();
                    for field in ["email", "name", "password", "absent"] {
                        check_field(&parsed, &object, field)?;
                    }
                }
                (Err(error), Some(code)) => prop_assert_eq!(error.code(), code),
                (got, expected) => {
                    return Err(TestCaseError::fail(format!(
                        "expected {expected:?}, got {:?}",
                        got.map_err(|e| e.code())
                    )));
                }
            }
            Ok(())
        },
    );
}

/// `required` answers the string when it is one and not blank, `missing_field` for absent, null
/// or blank, `invalid_json` for any other type.
fn check_field(body: &JsonBody, object: &Value, field: &'static str) -> Result<(), TestCaseError> {
    let got = body.required(field).map_err(|e| e.code());
    match object.get(field) {
        None | Some(Value::Null) => prop_assert_eq!(got, Err("missing_field")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            prop_assert_eq!(got, Err("missing_field"))
        }
        Some(Value::String(s)) => prop_assert_eq!(got, Ok(s.as_str())),
        Some(_) => prop_assert_eq!(got, Err("invalid_json")),
    }
    Ok(())
}

#[test]
fn domain_parsers_take_any_string_and_answer_their_own_code() {
    let input = prop_oneof![
        3 => hostile_string(),
        1 => valid_email(),
        1 => valid_name(),
        1 => valid_password(),
        1 => " ?[0-9]{5,7}\n?".boxed(),
        1 => "[0-9 ]{5,9}".boxed(),
        1 => "[0-9A-Za-z -]{10,16}".boxed(),
    ];
    check(
        "Email, Password, UserName, EmailCode, TotpCode and RecoveryCode on arbitrary strings",
        PURE_CASES,
        input,
        |raw| {
            if let Err(e) = Email::parse(&raw) {
                prop_assert!(
                    ["invalid_email", "missing_field"].contains(&e.code()),
                    "{}",
                    e.code()
                );
            }
            if let Err(e) = Password::parse(&raw) {
                prop_assert!(
                    ["invalid_password", "missing_field"].contains(&e.code()),
                    "{}",
                    e.code()
                );
            }
            if let Err(e) = UserName::parse(&raw) {
                prop_assert!(
                    ["invalid_name", "missing_field"].contains(&e.code()),
                    "{}",
                    e.code()
                );
            }
            match EmailCode::parse(&raw) {
                Ok(code) => prop_assert!(
                    code.as_str().len() == 6 && code.as_str().bytes().all(|b| b.is_ascii_digit()),
                    "{:?}",
                    code
                ),
                Err(e) => prop_assert_eq!(e.code(), "invalid_verification_token"),
            }
            if let Some(code) = TotpCode::parse(&raw) {
                prop_assert!(
                    code.as_str().len() == 6 && code.as_str().bytes().all(|b| b.is_ascii_digit()),
                    "{:?}",
                    code
                );
            }
            if let Some(code) = RecoveryCode::parse(&raw) {
                // Canonical, and what it shows reads back to itself.
                prop_assert_eq!(code.as_str().len(), 12);
                prop_assert!(
                    code.as_str()
                        .bytes()
                        .all(|b| auth::domain::RECOVERY_ALPHABET.contains(&b))
                );
                prop_assert_eq!(RecoveryCode::parse(&code.to_string()), Some(code));
            }
            Ok(())
        },
    );
}

#[test]
fn passkey_parsers_take_any_string_and_answer_their_own_code() {
    let input = prop_oneof![
        3 => hostile_string(),
        1 => valid_name(),
        1 => "[0-9a-fA-F-]{30,40}".boxed(),
        1 => any::<[u8; 16]>().prop_map(|b| uuid::Uuid::from_bytes(b).to_string()).boxed(),
    ];
    check(
        "PasskeyName and CeremonyId on arbitrary strings (the fuzz target passkey_parsers)",
        PURE_CASES,
        input,
        |raw| {
            match PasskeyName::parse(Some(&raw)) {
                Ok(name) => {
                    let text = name.as_str();
                    prop_assert_eq!(text, text.trim());
                    prop_assert!((1..=64).contains(&text.chars().count()), "{:?}", text);
                    prop_assert!(!text.chars().any(char::is_control), "{:?}", text);
                }
                Err(e) => prop_assert_eq!(e.code(), "invalid_name"),
            }
            match CeremonyId::parse(&raw) {
                Ok(id) => prop_assert_eq!(uuid::Uuid::parse_str(&raw).ok(), Some(id.as_uuid())),
                Err(e) => prop_assert_eq!(e.code(), "invalid_passkey"),
            }
            Ok(())
        },
    );
}

/// The parameters the provider sign-in reads from a query string.
const OAUTH_PARAMETERS: [&str; 6] = [
    "redirect_to",
    "code_challenge",
    "code_challenge_method",
    "code",
    "state",
    "error",
];

#[test]
fn oauth_query_takes_any_query_string_and_answers_a_value_or_missing_field() {
    // Raw strings, and strings shaped like queries: known names, `&`, `=`, percent escapes.
    let pair = (
        prop_oneof![
            prop::sample::select(OAUTH_PARAMETERS.to_vec()).prop_map(str::to_owned),
            hostile_string()
        ],
        prop_oneof![Just(String::new()), hostile_string()],
    )
        .prop_map(|(name, value)| format!("{name}={value}"));
    let shaped = prop::collection::vec(pair, 0..6).prop_map(|pairs| pairs.join("&"));
    check(
        "Query::parse on arbitrary strings (the fuzz target oauth_query)",
        PURE_CASES,
        prop_oneof![hostile_string(), shaped],
        |raw| {
            let query = Query::parse(&raw);
            for name in OAUTH_PARAMETERS {
                match query.required(name) {
                    Ok(value) => {
                        prop_assert!(!value.trim().is_empty(), "{:?}", raw);
                        prop_assert_eq!(query.optional(name), Some(value));
                    }
                    Err(error) => {
                        prop_assert_eq!(error.code(), "missing_field");
                        prop_assert!(
                            query.optional(name).is_none_or(|v| v.trim().is_empty()),
                            "{:?}",
                            raw
                        );
                    }
                }
            }
            Ok(())
        },
    );
}

#[test]
fn oauth_query_reads_each_parameter_of_a_well_formed_query_exactly() {
    let value = "[!-~]{1,80}".prop_filter("not blank", |v: &String| !v.trim().is_empty());
    check(
        "every parameter present, percent-encoded",
        PURE_CASES,
        prop::collection::vec(value, 6),
        |values| {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in OAUTH_PARAMETERS.iter().zip(&values) {
                serializer.append_pair(name, value);
            }
            let query = Query::parse(&serializer.finish());
            for (name, value) in OAUTH_PARAMETERS.iter().zip(&values) {
                prop_assert_eq!(query.required(name).unwrap(), value.as_str());
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Through the handlers, against a real database.

/// Arbitrary calls of one endpoint against one app; every answer checked against the document.
/// Returns how often each answer came, for the caller to check that the cases reached past the
/// first checks.
fn fuzz_endpoint<S: Strategy>(
    app: &TestApp,
    runtime: &tokio::runtime::Runtime,
    endpoint: Endpoint,
    strategy: S,
    to_request: impl Fn(&S::Value) -> Request,
) -> BTreeMap<Answer, usize>
where
    S::Value: std::fmt::Debug,
{
    let allowed = documented_answers(endpoint);
    let seen = Mutex::new(BTreeMap::new());
    check(
        &format!("{endpoint:?} through the handler"),
        HANDLER_CASES,
        strategy,
        |input| {
            let response = runtime.block_on(app.call_raw(endpoint, to_request(&input)));
            let answer = answer_of(&response);
            check_answer(endpoint, &allowed, response, &input)?;
            *seen.lock().unwrap().entry(answer).or_default() += 1;
            Ok(())
        },
    );
    let seen = seen.into_inner().unwrap();
    eprintln!("{endpoint:?}: {seen:?}");
    seen
}

/// The status and `error` code of a response.
fn answer_of(response: &Response<Body>) -> Answer {
    let code = match response.body() {
        Body::Text(text) => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|body| body["error"].as_str().map(str::to_owned)),
        _ => None,
    };
    (response.status().as_u16(), code)
}

/// Asserts that the generated cases reached each of `expected` answers at least once: hostile
/// input that never gets past the first check tests nothing behind it.
#[track_caller]
fn assert_reached(seen: &BTreeMap<Answer, usize>, expected: &[(u16, Option<&str>)]) {
    for (status, code) in expected {
        let answer = (*status, code.map(str::to_owned));
        assert!(
            seen.contains_key(&answer),
            "no case got {answer:?}; the strategies no longer reach it: {seen:?}"
        );
    }
}

/// A signed-in user's real tokens, to mutate.
struct Genuine {
    access: String,
    refresh: String,
}

fn signed_in(app: &TestApp, runtime: &tokio::runtime::Runtime, email: &str) -> Genuine {
    let response = runtime.block_on(app.signed_in_user(email));
    Genuine {
        access: response.str("access_token"),
        refresh: response.str("refresh_token"),
    }
}

/// Claims around a genuine access token's, each kept, dropped or replaced by a hostile value.
fn near_claims(genuine: Value) -> impl Strategy<Value = Value> {
    let names = [
        "iss",
        "aud",
        "sub",
        "iat",
        "nbf",
        "exp",
        "jti",
        "sid",
        "client_id",
        "typ",
    ];
    let mutation = prop_oneof![
        6 => Just(None),
        1 => Just(Some(None)),
        1 => any_json().prop_map(|v| Some(Some(v))),
        1 => prop::sample::select(vec![
            json!(0), json!(-1), json!(u64::MAX), json!(i64::MIN), json!(1e300), json!(4102444800u64),
            json!("00000000-0000-0000-0000-000000000000"), json!(""), json!([]), json!({}),
        ])
        .prop_map(|v| Some(Some(v))),
    ];
    prop::collection::vec(mutation, names.len()).prop_map(move |mutations| {
        let mut claims = genuine.clone();
        for (name, mutation) in names.iter().zip(mutations) {
            match mutation {
                None => {}
                Some(None) => {
                    claims.as_object_mut().unwrap().remove(*name);
                }
                Some(Some(value)) => claims[*name] = value,
            }
        }
        claims
    })
}

fn segment(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Authorization values aimed at the JWT check: near-JWTs with mutated headers and claims (alg
/// none, other algorithms, re-signed with the test secret or keeping the genuine signature),
/// mutilated genuine tokens, wrong encodings, huge values and arbitrary bytes.
fn near_jwt_authorization(genuine: &str) -> BoxedStrategy<Vec<u8>> {
    let parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    let genuine_header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
    let signature = parts[2].clone();
    let headers = prop_oneof![
        Just(genuine_header),
        Just(json!({"alg": "none"})),
        Just(json!({"alg": "none", "typ": "at+jwt"})),
        Just(json!({"alg": "NONE", "typ": "at+jwt"})),
        Just(json!({"alg": "HS512", "typ": "at+jwt"})),
        Just(json!({"alg": "RS256", "typ": "at+jwt"})),
        Just(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "../../../etc/passwd"})),
        Just(
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "x", "jku": "http://127.0.0.1:1/keys"})
        ),
        Just(json!({"alg": "HS256", "typ": "JWT"})),
        Just(json!({"alg": "HS256", "typ": "at+jwt", "crit": ["exp"]})),
        Just(json!({"alg": 256, "typ": ["at+jwt"]})),
        any_json(),
    ];
    let signed = {
        let claims = claims.clone();
        (
            prop::sample::select(vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]),
            prop::option::of(Just("at+jwt".to_owned())),
            prop::option::of("[ -~]{0,40}"),
            near_claims(claims),
        )
            .prop_map(|(alg, typ, kid, claims)| {
                let header = Header {
                    typ,
                    kid,
                    ..Header::new(alg)
                };
                let key = EncodingKey::from_secret(TEST_SECRET.as_bytes());
                jsonwebtoken::encode(&header, &claims, &key).unwrap()
            })
    };
    let forged = {
        let signature = signature.clone();
        (
            headers,
            near_claims(claims),
            prop_oneof![
                Just(signature),
                Just(String::new()),
                "[A-Za-z0-9_-]{0,90}",
                Just("AAAA".to_owned()),
            ],
        )
            .prop_map(|(header, claims, signature)| {
                format!("{}.{}.{signature}", segment(&header), segment(&claims))
            })
    };
    let genuine = genuine.to_owned();
    let mutilated = {
        let genuine = genuine.clone();
        (any::<prop::sample::Index>(), any::<u8>(), 0u8..6).prop_map(move |(at, byte, how)| {
            let mut token = genuine.clone().into_bytes();
            let i = at.index(token.len());
            match how {
                0 => token[i] = b"ABCxyz019-_."[byte as usize % 12],
                1 => token.truncate(i),
                2 => token.insert(i, b'.'),
                3 => token = genuine.replace('-', "+").replace('_', "/").into_bytes(),
                4 => {
                    let parts: Vec<&str> = genuine.split('.').collect();
                    token = format!("{}.{}", parts[0], parts[1]).into_bytes();
                }
                _ => {
                    let parts: Vec<&str> = genuine.split('.').collect();
                    let padded = STANDARD.encode(URL_SAFE_NO_PAD.decode(parts[1]).unwrap());
                    token = format!("{}.{padded}.{}", parts[0], parts[2]).into_bytes();
                }
            }
            String::from_utf8(token).unwrap()
        })
    };
    let bearer = |token: String| format!("Bearer {token}").into_bytes();
    prop_oneof![
        3 => signed.prop_map(bearer),
        3 => forged.prop_map(bearer),
        3 => mutilated.prop_map(bearer),
        1 => Just(bearer(genuine.clone())),
        1 => (0usize..200_000).prop_map(move |n| bearer(format!("{genuine}{}", "A".repeat(n)))),
        1 => "[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{0,300}".prop_map(bearer),
        2 => header_bytes(400),
    ]
    .boxed()
}

#[test]
fn dashboard_answers_only_documented_errors_to_any_authorization() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = signed_in(&app, &runtime, "fuzz-dashboard@example.com");
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::Dashboard,
        (
            method(Method::GET),
            prop::option::weighted(0.9, near_jwt_authorization(&genuine.access).prop_map(Bytes)),
        ),
        |(method, authorization)| {
            request(
                method.clone(),
                "/api/dashboard",
                None,
                authorization.as_deref(),
                &[],
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn logout_answers_only_documented_errors_to_any_authorization() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = signed_in(&app, &runtime, "fuzz-logout@example.com");
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::Logout,
        (
            method(Method::POST),
            prop::option::weighted(0.9, near_jwt_authorization(&genuine.access).prop_map(Bytes)),
        ),
        |(method, authorization)| {
            request(
                method.clone(),
                "/api/logout",
                None,
                authorization.as_deref(),
                &[],
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn refresh_answers_only_documented_errors_to_any_bearer() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = signed_in(&app, &runtime, "fuzz-refresh@example.com");
    let bearer = |token: String| format!("Bearer {token}").into_bytes();
    let authorization = prop_oneof![
        3 => "[A-Za-z0-9_-]{43}".prop_map(bearer),
        2 => hostile_string()
            .prop_filter_map("a header value", |s| HeaderValue::from_str(&format!("Bearer {s}")).ok())
            .prop_map(|v| v.as_bytes().to_vec()),
        1 => Just(bearer(genuine.refresh.clone())),
        1 => Just(bearer(genuine.access.clone())),
        1 => near_jwt_authorization(&genuine.access),
        1 => header_bytes(200),
    ];
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::Refresh,
        (
            method(Method::POST),
            prop::option::weighted(0.9, authorization.prop_map(Bytes)),
        ),
        |(method, authorization)| {
            request(
                method.clone(),
                "/api/refresh",
                None,
                authorization.as_deref(),
                &[],
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn reset_password_answers_only_documented_errors_to_any_token_and_body() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    runtime.block_on(app.registered_user("Reset Fuzz", "fuzz-reset@example.com"));
    let genuine = runtime.block_on(app.requested_reset_token("fuzz-reset@example.com"));
    // The path parameter as API Gateway hands it over: already percent-decoded, any Unicode.
    let token = prop_oneof![
        3 => "[A-Za-z0-9_-]{43}",
        3 => hostile_string(),
        1 => Just(String::new()),
        1 => Just(genuine),
        1 => Just("../../api/signin".to_owned()),
        1 => Just("%00%2F%2e%2e".to_owned()),
    ];
    let body = prop_oneof![
        3 => Just(json!({"password": PASSWORD}).to_string().into_bytes()),
        2 => hostile_body(vec![("password", valid_password())]),
        1 => (MAX_BODY_BYTES + 1..MAX_BODY_BYTES * 4).prop_map(|size| vec![b' '; size]),
    ];
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::ResetPassword,
        (
            method(Method::POST),
            token,
            content_type().prop_map(|c| c.map(Bytes)),
            body.prop_map(Bytes),
        ),
        |(method, token, content_type, body)| {
            request(
                method.clone(),
                "/api/reset-password/token",
                content_type.as_deref(),
                None,
                body,
            )
            .with_path_parameters(HashMap::from([("token".to_owned(), token.clone())]))
        },
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (400, Some("invalid_reset_token")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

/// The body endpoints: arbitrary methods, content types and bodies.
fn fuzz_body_endpoint(
    endpoint: Endpoint,
    fields: Vec<(&'static str, BoxedStrategy<String>)>,
) -> BTreeMap<Answer, usize> {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    // An account to collide with, sign in to and ask a reset for.
    runtime.block_on(app.registered_user("Known User", "known@example.com"));
    let fields: Vec<_> = fields
        .into_iter()
        .map(|(name, valid)| {
            let valid = if name == "email" {
                prop_oneof![3 => valid, 2 => Just("known@example.com".to_owned())].boxed()
            } else if name == "password" && endpoint == Endpoint::Signin {
                prop_oneof![1 => valid, 1 => Just(PASSWORD.to_owned())].boxed()
            } else {
                valid
            };
            (name, valid)
        })
        .collect();
    let path = endpoint.path();
    fuzz_endpoint(
        &app,
        &runtime,
        endpoint,
        (
            method(Method::POST),
            content_type().prop_map(|c| c.map(Bytes)),
            hostile_body(fields).prop_map(Bytes),
            // Each case from a network of its own, as hostile input from anywhere would come: from
            // one network, five wrong passwords in a row for the known account lock that network
            // out (the lockout rule, 429) before a right one gets through, so whether the success
            // path was reached at all hung on the order the cases came in.
            any::<[u8; 4]>().prop_map(std::net::Ipv4Addr::from),
        ),
        |(method, content_type, body, network)| {
            from_client(
                request(method.clone(), path, content_type.as_deref(), None, body),
                &network.to_string(),
                "proptest",
            )
        },
    )
}

#[test]
fn signup_answers_only_documented_errors_to_any_body() {
    let seen = fuzz_body_endpoint(
        Endpoint::Signup,
        vec![
            ("name", valid_name()),
            ("email", valid_email()),
            ("password", valid_password()),
        ],
    );
    assert_reached(
        &seen,
        &[
            // Addresses are proven (the default): 202 for every address, taken ones included.
            (202, None),
            (400, Some("invalid_email")),
            (400, Some("invalid_name")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn signin_answers_only_documented_errors_to_any_body() {
    let seen = fuzz_body_endpoint(
        Endpoint::Signin,
        vec![
            ("email", valid_email()),
            ("password", valid_password()),
            // Shaped like a device token, never a live one: ignored, whatever it holds.
            ("device_token", "[A-Za-z0-9_-]{43}".boxed()),
        ],
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (400, Some("invalid_email")),
            (401, Some("invalid_credentials")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn forgot_password_answers_only_documented_errors_to_any_body() {
    let seen = fuzz_body_endpoint(Endpoint::ForgotPassword, vec![("email", valid_email())]);
    assert_reached(
        &seen,
        &[
            (200, None),
            (400, Some("invalid_email")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn resend_verification_answers_only_documented_errors_to_any_body() {
    let seen = fuzz_body_endpoint(Endpoint::ResendVerification, vec![("email", valid_email())]);
    assert_reached(
        &seen,
        &[
            (200, None),
            (400, Some("invalid_email")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn verify_email_answers_only_documented_errors_to_any_body() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    // Two accounts waiting for confirmation: one link and one code to succeed with (each once).
    let (by_link, by_code) = ("fuzz-link@example.com", "fuzz-code@example.com");
    for email in [by_link, by_code] {
        runtime
            .block_on(app.signup("Fuzz", email, PASSWORD))
            .assert_status(lambda_http::http::StatusCode::ACCEPTED);
    }
    let token = runtime.block_on(app.verification_token_from_outbox(by_link));
    let code = runtime.block_on(app.verification_code_from_outbox(by_code));
    let fields = vec![
        (
            "token",
            prop_oneof![3 => "[A-Za-z0-9_-]{43}".boxed(), 1 => Just(token).boxed()].boxed(),
        ),
        (
            "email",
            prop_oneof![2 => valid_email(), 1 => Just(by_code.to_owned()).boxed()].boxed(),
        ),
        (
            "code",
            prop_oneof![2 => "[0-9]{6}".boxed(), 1 => Just(code).boxed(), 1 => " ?[0-9]{5,7} ?".boxed()]
                .boxed(),
        ),
    ];
    // The token usually absent or blank, so the code's path is taken as often.
    let fields = fields
        .into_iter()
        .map(|(name, valid)| {
            let valid = if name == "token" {
                prop_oneof![1 => valid, 1 => Just(" ".to_owned()).boxed()].boxed()
            } else {
                valid
            };
            (name, valid)
        })
        .collect();
    let path = Endpoint::VerifyEmail.path();
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::VerifyEmail,
        (
            method(Method::POST),
            content_type().prop_map(|c| c.map(Bytes)),
            hostile_body(fields).prop_map(Bytes),
        ),
        |(method, content_type, body)| {
            request(method.clone(), path, content_type.as_deref(), None, body)
        },
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (400, Some("invalid_verification_token")),
            (400, Some("invalid_email")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

/// The endpoints that act on the bearer's account once its password is given: arbitrary
/// methods, content types, near-genuine tokens and bodies (the password mostly wrong, so the
/// lockout is met too, sometimes the right one).
fn fuzz_account_endpoint(
    endpoint: Endpoint,
    email: &str,
    fields: Vec<(&'static str, BoxedStrategy<String>)>,
) -> BTreeMap<Answer, usize> {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    // An address to move to that already has an account.
    runtime.block_on(app.registered_user("Known User", "known@example.com"));
    let genuine = signed_in(&app, &runtime, email);
    let fields: Vec<_> = fields
        .into_iter()
        .map(|(name, valid)| {
            let valid = if name.ends_with("password") && name != "new_password" {
                prop_oneof![3 => valid, 1 => Just(PASSWORD.to_owned())].boxed()
            } else if name == "new_email" {
                prop_oneof![3 => valid, 1 => Just("known@example.com".to_owned())].boxed()
            } else {
                valid
            };
            (name, valid)
        })
        .collect();
    let authorization = prop_oneof![
        6 => Just(format!("Bearer {}", genuine.access).into_bytes()),
        1 => near_jwt_authorization(&genuine.access),
    ];
    let path = endpoint.path();
    let own = endpoint.method().unwrap();
    fuzz_endpoint(
        &app,
        &runtime,
        endpoint,
        (
            method(own),
            prop::option::weighted(0.95, authorization.prop_map(Bytes)),
            content_type().prop_map(|c| c.map(Bytes)),
            hostile_body(fields).prop_map(Bytes),
        ),
        |(method, authorization, content_type, body)| {
            request(
                method.clone(),
                path,
                content_type.as_deref(),
                authorization.as_deref(),
                body,
            )
        },
    )
}

#[test]
fn change_password_answers_only_documented_errors_to_any_token_and_body() {
    let seen = fuzz_account_endpoint(
        Endpoint::ChangePassword,
        "fuzz-change-password@example.com",
        vec![
            ("current_password", valid_password()),
            ("new_password", valid_password()),
        ],
    );
    assert_reached(
        &seen,
        &[
            (401, Some("invalid_credentials")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn change_email_answers_only_documented_errors_to_any_token_and_body() {
    let seen = fuzz_account_endpoint(
        Endpoint::ChangeEmail,
        "fuzz-change-email@example.com",
        vec![("password", valid_password()), ("new_email", valid_email())],
    );
    assert_reached(
        &seen,
        &[
            (401, Some("invalid_credentials")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn delete_account_answers_only_documented_errors_to_any_token_and_body() {
    let seen = fuzz_account_endpoint(
        Endpoint::DeleteAccount,
        "fuzz-delete-account@example.com",
        vec![("password", valid_password())],
    );
    assert_reached(
        &seen,
        &[
            (401, Some("invalid_credentials")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

/// Six digits most of the time (a code that may or may not be right), anything else sometimes.
fn totp_like() -> BoxedStrategy<String> {
    prop_oneof![3 => "[0-9]{6}", 1 => "[0-9 ]{0,9}", 1 => any::<String>()].boxed()
}

#[test]
fn mfa_verify_answers_only_documented_errors_to_any_body() {
    let seen = fuzz_body_endpoint(
        Endpoint::MfaVerify,
        vec![
            // Shaped like an mfa_token, never a live one.
            ("mfa_token", "[A-Za-z0-9_-]{43}".boxed()),
            ("code", totp_like()),
            (
                "recovery_code",
                prop_oneof![
                    "[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}",
                    any::<String>()
                ]
                .boxed(),
            ),
        ],
    );
    assert_reached(
        &seen,
        &[
            (401, Some("invalid_mfa_token")),
            (401, Some("invalid_mfa_code")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn mfa_confirm_answers_only_documented_errors_to_any_token_and_body() {
    let seen = fuzz_account_endpoint(
        Endpoint::MfaConfirm,
        "fuzz-mfa-confirm@example.com",
        vec![("code", totp_like())],
    );
    assert_reached(
        &seen,
        &[
            (400, Some("invalid_mfa_code")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn mfa_disable_answers_only_documented_errors_to_any_token_and_body() {
    let seen = fuzz_account_endpoint(
        Endpoint::MfaDisable,
        "fuzz-mfa-disable@example.com",
        vec![("code", totp_like())],
    );
    assert_reached(
        &seen,
        &[
            // The genuine session signed in with a password only.
            (403, Some("aal2_required")),
            (400, Some("invalid_mfa_code")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn mfa_enroll_recovery_codes_and_status_answer_only_documented_errors_to_any_token() {
    for (endpoint, email, success) in [
        (
            Endpoint::MfaEnroll,
            "fuzz-mfa-enroll@example.com",
            (201, None),
        ),
        (
            Endpoint::MfaRecoveryCodes,
            "fuzz-mfa-codes@example.com",
            (403, Some("aal2_required")),
        ),
        (
            Endpoint::MfaStatus,
            "fuzz-mfa-status@example.com",
            (200, None),
        ),
    ] {
        // No field of theirs: whatever body comes is ignored.
        let seen = fuzz_account_endpoint(endpoint, email, vec![("note", any::<String>().boxed())]);
        assert_reached(
            &seen,
            &[
                success,
                (401, Some("missing_token")),
                (401, Some("invalid_token")),
                (405, Some("method_not_allowed")),
            ],
        );
    }
}

/// A `ceremony_id`: a UUID most of the time (never a live ceremony's), anything else sometimes.
fn ceremony_id_like() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        1 => any::<String>(),
    ]
    .boxed()
}

/// A `credential` as a client might send one: an object shaped like the browser's
/// `PublicKeyCredential` JSON (base64url or hostile fields), any JSON, or none.
fn credential_like() -> BoxedStrategy<Option<Value>> {
    let b64 = || "[A-Za-z0-9_-]{0,64}";
    let response_field = prop::sample::select(vec![
        "clientDataJSON",
        "attestationObject",
        "authenticatorData",
        "signature",
        "userHandle",
    ])
    .prop_map(str::to_owned);
    let shaped = (
        b64(),
        b64(),
        prop_oneof![3 => Just("public-key".to_owned()), 1 => any::<String>()],
        prop::collection::btree_map(
            response_field,
            prop_oneof![3 => b64().prop_map(Value::String), 1 => any_json()],
            0..5,
        ),
    )
        .prop_map(|(id, raw_id, kind, response)| {
            json!({"id": id, "rawId": raw_id, "type": kind, "response": response})
        });
    prop_oneof![
        6 => shaped.prop_map(Some),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        2 => any_json().prop_map(Some),
    ]
    .boxed()
}

/// Bodies of a ceremony's finish: the hostile ones of any endpoint, and objects of `fields`
/// whose `credential` is mostly an object (a string field would only ever be `invalid_json`).
fn finish_body(fields: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<Vec<u8>> {
    let with_credential =
        (object_body(fields.clone()), credential_like()).prop_map(|(body, credential)| {
            let mut object: serde_json::Map<String, Value> =
                serde_json::from_slice(&body).expect("object_body makes objects");
            match credential {
                Some(credential) => object.insert("credential".to_owned(), credential),
                None => object.remove("credential"),
            };
            Value::Object(object).to_string().into_bytes()
        });
    prop_oneof![1 => hostile_body(fields), 2 => with_credential].boxed()
}

/// A passkey endpoint with arbitrary methods, content types, bodies and, when `bearer`, mostly
/// the genuine access token of `email` (near-genuine ones otherwise).
fn fuzz_passkey_endpoint(
    endpoint: Endpoint,
    email: &str,
    bearer: bool,
    body: BoxedStrategy<Vec<u8>>,
) -> BTreeMap<Answer, usize> {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = signed_in(&app, &runtime, email);
    let authorization = prop_oneof![
        6 => Just(format!("Bearer {}", genuine.access).into_bytes()),
        1 => near_jwt_authorization(&genuine.access),
    ];
    let authorization = if bearer {
        prop::option::weighted(0.95, authorization.prop_map(Bytes)).boxed()
    } else {
        Just(None).boxed()
    };
    let path = endpoint.path();
    fuzz_endpoint(
        &app,
        &runtime,
        endpoint,
        (
            method(endpoint.method().unwrap()),
            authorization,
            content_type().prop_map(|c| c.map(Bytes)),
            body.prop_map(Bytes),
        ),
        |(method, authorization, content_type, body)| {
            request(
                method.clone(),
                path,
                content_type.as_deref(),
                authorization.as_deref(),
                body,
            )
        },
    )
}

#[test]
fn passkey_register_finish_answers_only_documented_errors_to_any_token_and_body() {
    let seen = fuzz_passkey_endpoint(
        Endpoint::PasskeyRegisterFinish,
        "fuzz-passkey-register@example.com",
        true,
        finish_body(vec![
            ("ceremony_id", ceremony_id_like()),
            (
                "name",
                // Within the rules, too long, or with a control character.
                prop_oneof![
                    2 => "[ -~]{0,64}",
                    1 => "[ -~]{65,80}",
                    1 => "[a-z]{1,8}[\\x00-\\x1f]",
                ]
                .boxed(),
            ),
        ]),
    );
    assert_reached(
        &seen,
        &[
            (400, Some("invalid_passkey")),
            (400, Some("invalid_name")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn passkey_signin_finish_answers_only_documented_errors_to_any_body() {
    let seen = fuzz_passkey_endpoint(
        Endpoint::PasskeySigninFinish,
        "fuzz-passkey-signin@example.com",
        false,
        finish_body(vec![("ceremony_id", ceremony_id_like())]),
    );
    assert_reached(
        &seen,
        &[
            (400, Some("invalid_passkey")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn passkey_starts_and_list_answer_only_documented_errors_to_any_token() {
    // The body is not read: any bytes, any content type.
    let any_body = || prop::collection::vec(any::<u8>(), 0..64).boxed();
    for (endpoint, email, bearer, expected) in [
        (
            Endpoint::PasskeyRegisterStart,
            "fuzz-passkey-start@example.com",
            true,
            &[
                (200, None),
                (401, Some("missing_token")),
                (401, Some("invalid_token")),
                (405, Some("method_not_allowed")),
            ][..],
        ),
        (
            Endpoint::Passkeys,
            "fuzz-passkeys@example.com",
            true,
            &[
                (200, None),
                (401, Some("missing_token")),
                (401, Some("invalid_token")),
                (405, Some("method_not_allowed")),
            ][..],
        ),
        (
            Endpoint::PasskeySigninStart,
            "fuzz-passkey-signin-start@example.com",
            false,
            &[(200, None), (405, Some("method_not_allowed"))][..],
        ),
    ] {
        let seen = fuzz_passkey_endpoint(endpoint, email, bearer, any_body());
        assert_reached(&seen, expected);
    }
}

#[test]
fn delete_passkey_answers_only_documented_errors_to_any_token_and_id() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = signed_in(&app, &runtime, "fuzz-delete-passkey@example.com");
    let authorization = prop_oneof![
        6 => Just(format!("Bearer {}", genuine.access).into_bytes()),
        1 => near_jwt_authorization(&genuine.access),
    ];
    let id = prop_oneof![3 => ceremony_id_like(), 1 => hostile_string()];
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::DeletePasskey,
        (
            method(Method::DELETE),
            prop::option::weighted(0.95, authorization.prop_map(Bytes)),
            id,
        ),
        |(method, authorization, id)| {
            // API Gateway hands the decoded path segment over as the parameter.
            request(
                method.clone(),
                "/api/passkeys/x",
                None,
                authorization.as_deref(),
                &[],
            )
            .with_path_parameters(HashMap::from([("id".to_owned(), id.clone())]))
        },
    );
    assert_reached(
        &seen,
        &[
            (404, Some("passkey_not_found")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (405, Some("method_not_allowed")),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Sign-in with a provider, and the linked identities.

/// A query parameter as a hostile client sends it: absent, a value that passes, or any string.
fn query_value(valid: BoxedStrategy<String>) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        1 => Just(None),
        4 => valid.prop_map(Some),
        2 => hostile_string().prop_map(Some),
    ]
    .boxed()
}

/// A provider route's GET as API Gateway hands it over: `{provider}` and the decoded query.
fn provider_route(
    method: Method,
    endpoint: Endpoint,
    provider: &str,
    query: &[(&str, &Option<String>)],
) -> Request {
    let query: HashMap<String, String> = query
        .iter()
        .filter_map(|(name, value)| Some(((*name).to_owned(), (*value).clone()?)))
        .collect();
    request(
        method,
        &endpoint.path().replace("{provider}", "x"),
        None,
        None,
        &[],
    )
    .with_path_parameters(HashMap::from([(
        "provider".to_owned(),
        provider.to_owned(),
    )]))
    .with_query_string_parameters(query)
}

#[test]
fn oauth_authorize_and_callback_answer_only_documented_errors_to_any_query() {
    let runtime = runtime();
    let (app, _provider) = runtime.block_on(crate::oidc::app_with_provider());
    let provider =
        || prop_oneof![4 => Just("local".to_owned()), 1 => "[a-z]{1,8}", 1 => hostile_string()];
    let (_, challenge) = crate::oidc::app_pkce();
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::OauthAuthorize,
        (
            method(Method::GET),
            provider(),
            query_value(Just(crate::oidc::APP_CALLBACK.to_owned()).boxed()),
            query_value(prop_oneof![Just(challenge), "[A-Za-z0-9_-]{43}"].boxed()),
            query_value(Just("S256".to_owned()).boxed()),
        ),
        |(method, provider, redirect_to, challenge, challenge_method)| {
            provider_route(
                method.clone(),
                Endpoint::OauthAuthorize,
                provider,
                &[
                    ("redirect_to", redirect_to),
                    ("code_challenge", challenge),
                    ("code_challenge_method", challenge_method),
                ],
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (302, None),
            (400, Some("invalid_redirect")),
            (400, Some("invalid_code_challenge")),
            (400, Some("missing_field")),
            (404, Some("unknown_provider")),
            (405, Some("method_not_allowed")),
        ],
    );
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::OauthCallback,
        (
            method(Method::GET),
            provider(),
            query_value("[A-Za-z0-9_-]{43}".boxed()),
            query_value("[A-Za-z0-9_-]{1,64}".boxed()),
            query_value(Just("access_denied".to_owned()).boxed()),
        ),
        |(method, provider, state, code, error)| {
            provider_route(
                method.clone(),
                Endpoint::OauthCallback,
                provider,
                &[("state", state), ("code", code), ("error", error)],
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (400, Some("invalid_oauth_state")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn oauth_token_answers_only_documented_errors_to_any_body() {
    let seen = fuzz_body_endpoint(
        Endpoint::OauthToken,
        vec![
            ("code", "[A-Za-z0-9_-]{43}".boxed()),
            ("code_verifier", "[A-Za-z0-9._~-]{43,128}".boxed()),
        ],
    );
    assert_reached(
        &seen,
        &[
            (400, Some("invalid_grant")),
            (400, Some("invalid_json")),
            (400, Some("missing_field")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn identities_and_unlink_answer_only_documented_errors_to_any_token_and_id() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = signed_in(&app, &runtime, "fuzz-identities@example.com");
    let authorization = || {
        prop_oneof![
            6 => Just(format!("Bearer {}", genuine.access).into_bytes()),
            1 => near_jwt_authorization(&genuine.access),
        ]
    };
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::Identities,
        (
            method(Method::GET),
            prop::option::weighted(0.95, authorization().prop_map(Bytes)),
        ),
        |(method, authorization)| {
            request(
                method.clone(),
                "/api/identities",
                None,
                authorization.as_deref(),
                &[],
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (405, Some("method_not_allowed")),
        ],
    );
    let id = prop_oneof![3 => ceremony_id_like(), 1 => hostile_string()];
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::DeleteIdentity,
        (
            method(Method::DELETE),
            prop::option::weighted(0.95, authorization().prop_map(Bytes)),
            id,
        ),
        |(method, authorization, id)| {
            // API Gateway hands the decoded path segment over as the parameter.
            request(
                method.clone(),
                "/api/identities/x",
                None,
                authorization.as_deref(),
                &[],
            )
            .with_path_parameters(HashMap::from([("id".to_owned(), id.clone())]))
        },
    );
    assert_reached(
        &seen,
        &[
            (404, Some("identity_not_found")),
            (401, Some("missing_token")),
            (401, Some("invalid_token")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn oauth_callback_form_answers_only_documented_errors_to_any_body() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    // Mostly a form, sometimes another type or none (415 first).
    let content_type = prop_oneof![
        6 => Just(Some(b"application/x-www-form-urlencoded".to_vec())),
        1 => Just(Some(b"Application/X-WWW-Form-Urlencoded; charset=UTF-8".to_vec())),
        1 => content_type(),
    ];
    let field = |valid: BoxedStrategy<String>| query_value(valid);
    let form = (
        field("[A-Za-z0-9_-]{43}".boxed()),
        field("[A-Za-z0-9_-]{1,64}".boxed()),
        field(Just("access_denied".to_owned()).boxed()),
        field(any_json().prop_map(|user| user.to_string()).boxed()),
    )
        .prop_map(|(state, code, error, user)| {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in [
                ("state", state),
                ("code", code),
                ("error", error),
                ("user", user),
            ] {
                if let Some(value) = value {
                    form.append_pair(name, &value);
                }
            }
            form.finish().into_bytes()
        });
    let body = prop_oneof![
        8 => form,
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => Just(vec![b'x'; 16 * 1024 + 1]),
    ];
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::OauthCallbackForm,
        (
            method(Method::POST),
            prop_oneof![4 => Just("local".to_owned()), 1 => hostile_string()],
            content_type.prop_map(|c| c.map(Bytes)),
            body.prop_map(Bytes),
        ),
        |(method, provider, content_type, body)| {
            request(
                method.clone(),
                "/api/oauth/x/callback",
                content_type.as_deref(),
                None,
                body,
            )
            .with_path_parameters(HashMap::from([("provider".to_owned(), provider.clone())]))
        },
    );
    assert_reached(
        &seen,
        &[
            (400, Some("invalid_oauth_state")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn protected_example_answers_only_documented_errors_to_any_token() {
    // No authorizer context can come from a client: whatever it sends, missing_token (or 405).
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = signed_in(&app, &runtime, "fuzz-protected@example.com");
    let authorization = prop_oneof![
        2 => Just(format!("Bearer {}", genuine.access).into_bytes()),
        2 => near_jwt_authorization(&genuine.access),
        1 => header_bytes(64),
    ];
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::ProtectedExample,
        (
            method(Method::GET),
            prop::option::weighted(0.9, authorization.prop_map(Bytes)),
        ),
        |(method, authorization)| {
            request(
                method.clone(),
                "/api/protected-example",
                None,
                authorization.as_deref(),
                &[],
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (401, Some("missing_token")),
            (405, Some("method_not_allowed")),
        ],
    );
}

#[test]
fn introspect_answers_only_documented_errors_to_any_client_and_body() {
    use base64::Engine as _;
    const CLIENT: &str = "fuzz:fuzz-introspection-secret-0123456789abcdef";
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn_with(&[("INTROSPECTION_CLIENTS", CLIENT)]));
    let genuine = signed_in(&app, &runtime, "fuzz-introspect@example.com");
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(CLIENT)
    )
    .into_bytes();
    let authorization = prop_oneof![
        4 => Just(good),
        1 => header_bytes(64),
        1 => "[ -~]{0,40}".prop_map(|text| format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        ).into_bytes()),
    ];
    let content_type = prop_oneof![
        6 => Just(Some(b"application/x-www-form-urlencoded".to_vec())),
        1 => content_type(),
    ];
    let token = prop_oneof![
        2 => Just(genuine.access.clone()),
        1 => Just(genuine.refresh.clone()),
        2 => hostile_string(),
    ];
    let body = prop_oneof![
        6 => (token, prop::option::of(hostile_string())).prop_map(|(token, hint)| {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("token", &token);
            if let Some(hint) = hint {
                form.append_pair("token_type_hint", &hint);
            }
            form.finish().into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..128),
        1 => Just(vec![b'x'; 16 * 1024 + 1]),
    ];
    let seen = fuzz_endpoint(
        &app,
        &runtime,
        Endpoint::Introspect,
        (
            method(Method::POST),
            prop::option::weighted(0.9, authorization.prop_map(Bytes)),
            content_type.prop_map(|c| c.map(Bytes)),
            body.prop_map(Bytes),
        ),
        |(method, authorization, content_type, body)| {
            request(
                method.clone(),
                "/api/introspect",
                content_type.as_deref(),
                authorization.as_deref(),
                body,
            )
        },
    );
    assert_reached(
        &seen,
        &[
            (200, None),
            (400, Some("missing_field")),
            (401, Some("invalid_client")),
            (413, Some("payload_too_large")),
            (415, Some("unsupported_media_type")),
            (405, Some("method_not_allowed")),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// The admin API.

/// The admin query parameters' names, as a client might send them.
const ADMIN_PARAMETERS: [&str; 5] = ["email", "after", "limit", "user_id", "x"];

/// A value for an admin query parameter: a hostile string, or one shaped as the parser wants.
fn admin_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => hostile_string(),
        1 => "-?[0-9]{1,22}",
        1 => Just(uuid::Uuid::new_v4().to_string()),
        1 => "[a-z_%\\\\]{0,10}@?",
    ]
    .boxed()
}

#[test]
fn admin_query_parsers_take_any_string_and_answer_a_query_or_their_own_code() {
    use auth::domain::{AuditQuery, UserListQuery, target_user};
    let value = prop::option::of(admin_value());
    check(
        "the admin API's query and path parsers (the fuzz target admin_query)",
        PURE_CASES,
        (value.clone(), value.clone(), value.clone(), value),
        |(a, b, c, d)| {
            match UserListQuery::parse(a.as_deref(), b.as_deref(), c.as_deref()) {
                Ok(query) => {
                    let limit = query.limit.get();
                    prop_assert!((1..=100).contains(&limit));
                    if let Some(prefix) = &query.email_prefix {
                        prop_assert_eq!(prefix, &prefix.to_lowercase());
                        prop_assert!(!prefix.is_empty() && prefix.chars().count() <= 254);
                        prop_assert!(!prefix.chars().any(char::is_control), "{:?}", prefix);
                    }
                }
                Err(error) => prop_assert_eq!(error.code(), "invalid_parameter"),
            }
            match AuditQuery::parse(a.as_deref(), b.as_deref(), d.as_deref()) {
                Ok(query) => {
                    prop_assert!(query.after.is_none_or(|after| after > 0));
                    prop_assert!((1..=100).contains(&query.limit.get()));
                }
                Err(error) => prop_assert_eq!(error.code(), "invalid_parameter"),
            }
            if let Err(error) = target_user(a.as_deref()) {
                prop_assert_eq!(error.code(), "user_not_found");
            }
            Ok(())
        },
    );
}

#[test]
fn the_admin_routes_answer_only_documented_errors_to_any_caller_id_and_query() {
    const TOKEN: &str = "fuzz-admin-token-0123456789abcdef0123456789";
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn_with(&[("ADMIN_TOKEN", TOKEN)]));
    let genuine = runtime.block_on(app.signed_in_user("fuzz-admin@example.com"));
    let genuine_id = genuine.body["user"]["id"].as_str().unwrap().to_owned();
    // Deletion last: it may delete the genuine account.
    let mut admin_routes: Vec<Endpoint> =
        Endpoint::ALL.into_iter().filter(|e| e.is_admin()).collect();
    admin_routes.sort_by_key(|endpoint| *endpoint == Endpoint::AdminDeleteUser);
    for endpoint in admin_routes {
        let authorization = prop_oneof![
            6 => Just(format!("Bearer {TOKEN}").into_bytes()),
            1 => header_bytes(80),
            1 => Just(format!("Bearer {}", &TOKEN[1..]).into_bytes()),
            1 => Just(format!("bearer   {TOKEN}  ").into_bytes()),
        ];
        let id = prop_oneof![
            4 => Just(genuine_id.clone()),
            1 => Just(uuid::Uuid::new_v4().to_string()),
            2 => hostile_string(),
        ];
        let query = prop::collection::vec(
            (
                prop::sample::select(ADMIN_PARAMETERS.to_vec()),
                admin_value(),
            ),
            0..4,
        );
        let seen = fuzz_endpoint(
            &app,
            &runtime,
            endpoint,
            (
                method(endpoint.method().unwrap()),
                prop::option::weighted(0.9, authorization.prop_map(Bytes)),
                id,
                query,
            ),
            |(method, authorization, id, query)| {
                let query: HashMap<String, String> = query
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), value.clone()))
                    .collect();
                let mut request = request(
                    method.clone(),
                    endpoint.path(),
                    None,
                    authorization.as_deref(),
                    &[],
                )
                .with_query_string_parameters(query);
                if endpoint.path().contains("{id}") {
                    request = request
                        .with_path_parameters(HashMap::from([("id".to_owned(), id.clone())]));
                }
                request
            },
        );
        let mut expected = vec![
            (401, Some("invalid_admin_token")),
            (405, Some("method_not_allowed")),
        ];
        if endpoint.path().contains("{id}") {
            expected.push((404, Some("user_not_found")));
        } else {
            expected.push((200, None));
            expected.push((400, Some("invalid_parameter")));
        }
        assert_reached(&seen, &expected);
    }
}
