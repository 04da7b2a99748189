//! The OpenAPI document at the repository root (`openapi.yaml`) against the implementation: its
//! paths are the route table, its error codes are exactly `ApiError`'s, every response is well
//! formed, and the real responses of the handlers match it, status by status and code by code.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use auth::domain::{
    AuditQuery, Email, LogoutScope, NewPassword, PasskeyName, Password, UserId, UserListQuery,
    UserName,
};
use auth::http::{JsonBody, MAX_BODY_BYTES, Query, error_response};
use auth::lambda::{State, respond};
use auth::service::PasskeyCeremony;
use auth::{ApiError, Endpoint};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::{HeaderValue, Method, header};
use lambda_http::{Body, Request, RequestExt, Response};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{
    KEY_RING, PASSWORD, TEST_SECRET, TestApp, UNVERIFIED, from_client, jti_and_sid, jwt_part,
    totp_code,
};
use crate::oidc::{
    APP_CALLBACK, PROVIDER_CALLBACK, app_pkce, app_with_provider, app_with_provider_set, pairs,
    person, sign_in_at_provider,
};
use crate::passkeys::{assert_with, attest, credential_id};

const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");

/// The document, parsed once.
static DOC: LazyLock<Value> = LazyLock::new(|| {
    let text = std::fs::read_to_string(SPEC_PATH).unwrap_or_else(|e| panic!("{SPEC_PATH}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{SPEC_PATH} is not YAML: {e}"))
});

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Codes whose 401 comes with a `WWW-Authenticate` bearer challenge.
/// The codes whose 401 carries a challenge: the bearer codes, and token introspection's
/// `invalid_client` (HTTP Basic).
const CHALLENGE_CODES: [&str; 5] = [
    "missing_token",
    "invalid_token",
    "token_expired",
    "invalid_client",
    "invalid_admin_token",
];

/// Follows local `$ref`s until a value that is not a reference.
fn resolve(value: &'static Value) -> &'static Value {
    let mut value = value;
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {reference}"));
        value = DOC
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    panic!("a $ref cycle")
}

/// Every operation of the document: (upper-case method, path, operation object).
fn operations() -> Vec<(String, &'static str, &'static Value)> {
    let paths = DOC["paths"].as_object().expect("`paths` is a map");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (key, operation) in item.as_object().expect("a path item is a map") {
            if HTTP_METHODS.contains(&key.as_str()) {
                operations.push((key.to_uppercase(), path.as_str(), operation));
            } else {
                assert!(
                    ["parameters", "summary", "description", "servers"].contains(&key.as_str()),
                    "{path}: unexpected key {key}"
                );
            }
        }
    }
    operations
}

/// The documented operation of an endpoint.
fn operation_of(endpoint: Endpoint) -> &'static Value {
    let method = endpoint
        .method()
        .expect("not the catch-all")
        .as_str()
        .to_lowercase();
    DOC["paths"][endpoint.path()]
        .get(&method)
        .unwrap_or_else(|| {
            panic!(
                "{endpoint:?}: {method} {} is not documented",
                endpoint.path()
            )
        })
}

/// The endpoints the document describes: all but the catch-all.
fn documented_endpoints() -> impl Iterator<Item = Endpoint> {
    Endpoint::ALL
        .into_iter()
        .filter(|e| *e != Endpoint::NotFound)
}

fn is_error_status(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

/// The documented examples of a response's JSON body, resolved.
fn json_examples(response: &'static Value) -> Vec<&'static Value> {
    let media = &response["content"]["application/json"];
    let mut examples: Vec<&Value> = media
        .get("examples")
        .and_then(Value::as_object)
        .map(|map| map.values().map(|e| &resolve(e)["value"]).collect())
        .unwrap_or_default();
    if let Some(example) = media.get("example") {
        examples.push(example);
    }
    examples
}

/// The `error` codes a (resolved) error response documents through its examples.
fn documented_codes(response: &'static Value) -> BTreeSet<String> {
    json_examples(response)
        .into_iter()
        .map(|example| {
            example["error"]
                .as_str()
                .unwrap_or_else(|| panic!("an error example without a code: {example}"))
                .to_owned()
        })
        .collect()
}

/// One `ApiError` of each variant.
fn one_of_each_variant() -> Vec<ApiError> {
    vec![
        ApiError::UnsupportedMediaType("application/json"),
        ApiError::PayloadTooLarge { limit: 16 * 1024 },
        ApiError::InvalidJson("x".into()),
        ApiError::MissingField("x"),
        ApiError::InvalidEmail("x"),
        ApiError::InvalidPassword("x"),
        ApiError::InvalidName("x"),
        ApiError::EmailTaken,
        ApiError::InvalidCredentials,
        ApiError::MissingToken,
        ApiError::InvalidToken,
        ApiError::TokenExpired,
        ApiError::InvalidResetToken,
        ApiError::NotFound,
        ApiError::SessionNotFound,
        ApiError::TooManyAttempts(3),
        ApiError::RateLimited(60),
        ApiError::InvalidVerificationToken,
        ApiError::EmailNotVerified,
        ApiError::MfaAlreadyEnabled,
        ApiError::InvalidMfaCode { signing_in: false },
        ApiError::InvalidMfaToken,
        ApiError::Aal2Required,
        ApiError::MfaNotEnabled,
        ApiError::MfaLocked(900),
        ApiError::InvalidPasskey,
        ApiError::PasskeyNotFound,
        ApiError::TooManyPasskeys,
        ApiError::InvalidRedirect,
        ApiError::UnknownProvider,
        ApiError::InvalidCodeChallenge,
        ApiError::InvalidOAuthState,
        ApiError::InvalidGrant,
        ApiError::IdentityNotFound,
        ApiError::LastSignInMethod,
        ApiError::InvalidClient,
        ApiError::InvalidAdminToken,
        ApiError::IamIdentityRequired,
        ApiError::InvalidParameter("x"),
        ApiError::UserNotFound,
        ApiError::AccountDisabled,
        ApiError::MethodNotAllowed { allowed: "GET" },
        ApiError::ServiceUnavailable(anyhow::anyhow!("x")),
        ApiError::Internal(anyhow::anyhow!("x")),
    ]
}

const VARIANTS: usize = 44;

/// The variant's position. Exhaustive on purpose: a new variant does not compile until it is
/// numbered here, and then `one_of_each_variant` must gain it for the test to pass.
fn variant_index(error: &ApiError) -> usize {
    use ApiError::*;
    match error {
        UnsupportedMediaType(_) => 0,
        PayloadTooLarge { .. } => 1,
        InvalidJson(_) => 2,
        MissingField(_) => 3,
        InvalidEmail(_) => 4,
        InvalidPassword(_) => 5,
        InvalidName(_) => 6,
        EmailTaken => 7,
        InvalidCredentials => 8,
        MissingToken => 9,
        InvalidToken => 10,
        TokenExpired => 11,
        InvalidResetToken => 12,
        NotFound => 13,
        MethodNotAllowed { .. } => 14,
        ServiceUnavailable(_) => 15,
        Internal(_) => 16,
        SessionNotFound => 17,
        TooManyAttempts(_) => 18,
        RateLimited(_) => 19,
        InvalidVerificationToken => 20,
        EmailNotVerified => 21,
        MfaAlreadyEnabled => 22,
        InvalidMfaCode { .. } => 23,
        InvalidMfaToken => 24,
        Aal2Required => 25,
        MfaNotEnabled => 26,
        MfaLocked(_) => 27,
        InvalidPasskey => 28,
        PasskeyNotFound => 29,
        TooManyPasskeys => 30,
        InvalidRedirect => 31,
        UnknownProvider => 32,
        InvalidCodeChallenge => 33,
        InvalidOAuthState => 34,
        InvalidGrant => 35,
        IdentityNotFound => 36,
        LastSignInMethod => 37,
        InvalidClient => 38,
        InvalidAdminToken => 39,
        IamIdentityRequired => 40,
        InvalidParameter(_) => 41,
        UserNotFound => 42,
        AccountDisabled => 43,
    }
}

/// Every error the implementation produces with its real message: the fixed ones, and those
/// whose message comes from the body parser and the domain types.
fn real_errors() -> Vec<ApiError> {
    let request = |content_type: Option<&str>, body: String| {
        let mut builder = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("/");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body)).unwrap()
    };
    let body = |text: &str| JsonBody::from_request(&request(Some("application/json"), text.into()));

    let mut errors: Vec<ApiError> = one_of_each_variant()
        .into_iter()
        .filter(|e| {
            !matches!(
                e,
                ApiError::InvalidJson(_)
                    | ApiError::MissingField(_)
                    | ApiError::InvalidEmail(_)
                    | ApiError::InvalidPassword(_)
                    | ApiError::InvalidName(_)
                    | ApiError::InvalidParameter(_)
            )
        })
        .collect();
    // One code, two statuses: 400 proving a factor when signed in, 401 completing a sign-in.
    errors.push(ApiError::InvalidMfaCode { signing_in: true });
    // What `POST /api/mfa/verify` answers to both `code` and `recovery_code` (the contract run
    // checks that the real response carries this very message).
    errors.push(ApiError::InvalidJson(BOTH_PROOFS.into()));
    errors.push(JsonBody::from_request(&request(None, "{}".into())).unwrap_err());
    errors.push(
        JsonBody::from_request(&request(
            Some("application/json"),
            "x".repeat(MAX_BODY_BYTES + 1),
        ))
        .unwrap_err(),
    );
    for text in ["{", "", "[1]", "\"x\""] {
        errors.push(body(text).unwrap_err());
    }
    let wrong_types = body(
        r#"{"name": 1, "email": [], "password": true, "token": 1, "code": 123456,
            "current_password": {}, "new_password": 1, "new_email": false, "mfa_token": 1,
            "recovery_code": 1, "ceremony_id": 1, "credential": "{}", "code_verifier": 1}"#,
    )
    .unwrap();
    let empty = body("{}").unwrap();
    for field in [
        "name",
        "email",
        "password",
        "token",
        "code",
        "current_password",
        "new_password",
        "new_email",
        "mfa_token",
        "recovery_code",
        "ceremony_id",
        "code_verifier",
    ] {
        errors.push(wrong_types.required(field).unwrap_err());
        errors.push(empty.required(field).unwrap_err());
    }
    // A provider sign-in's `redirect_to`, a query parameter.
    errors.push(Query::parse("").required("redirect_to").unwrap_err());
    // A provider's form post to the callback: another media type.
    errors.push(Query::from_form(&request(Some("application/json"), String::new())).unwrap_err());
    // A WebAuthn credential is an object field; a passkey's name an optional string.
    errors.push(wrong_types.required_object("credential").unwrap_err());
    errors.push(empty.required_object("credential").unwrap_err());
    errors.push(wrong_types.optional("name").unwrap_err());
    errors.push(
        body(r#"{"scope": 1}"#)
            .unwrap()
            .optional("scope")
            .unwrap_err(),
    );
    errors.push(LogoutScope::parse("everywhere").unwrap_err());
    // The admin API's query parameters.
    let id = "5f0c6a38-3c1b-4d7e-9a55-2f1d0e4b8c91";
    errors.push(UserListQuery::parse(None, None, Some("0")).unwrap_err());
    errors.push(UserListQuery::parse(None, Some("x"), None).unwrap_err());
    errors.push(UserListQuery::parse(Some(&"a".repeat(255)), None, None).unwrap_err());
    errors.push(UserListQuery::parse(Some("a\0"), None, None).unwrap_err());
    errors.push(AuditQuery::parse(Some("x"), None, None).unwrap_err());
    errors.push(AuditQuery::parse(Some(id), Some("0"), None).unwrap_err());
    errors.push(UserName::parse(&"a".repeat(101)).unwrap_err());
    errors.push(UserName::parse("Jane\u{7}Doe").unwrap_err());
    errors.push(UserName::parse("  ").unwrap_err());
    errors.push(PasskeyName::parse(Some(&"a".repeat(65))).unwrap_err());
    errors.push(PasskeyName::parse(Some("key\u{7}")).unwrap_err());
    errors.push(Email::parse("jane.example.com").unwrap_err());
    errors.push(Email::parse(&format!("{}@example.com", "a".repeat(250))).unwrap_err());
    errors.push(Password::parse("short").unwrap_err());
    errors.push(Password::parse(&"a".repeat(257)).unwrap_err());
    let jane = Email::parse("jane@example.com").unwrap();
    errors.push(NewPassword::parse("password123", &jane).unwrap_err());
    errors.push(NewPassword::parse("Jane's password", &jane).unwrap_err());
    errors
}

/// `code -> status -> messages` over [`real_errors`]. A code has one status, but for
/// `invalid_mfa_code` (400 proving a factor when signed in, 401 completing a sign-in).
fn real_codes() -> BTreeMap<&'static str, BTreeMap<u16, BTreeSet<String>>> {
    let mut codes: BTreeMap<&'static str, BTreeMap<u16, BTreeSet<String>>> = BTreeMap::new();
    for error in real_errors() {
        codes
            .entry(error.code())
            .or_default()
            .entry(error.status())
            .or_default()
            .insert(error.to_string());
    }
    for (code, statuses) in &codes {
        assert!(
            statuses.len() == 1 || *code == "invalid_mfa_code",
            "one status per code: {code} {statuses:?}"
        );
    }
    codes
}

/// The message `POST /api/mfa/verify` answers to both a `code` and a `recovery_code`.
const BOTH_PROOFS: &str = "Give either 'code' or 'recovery_code', not both";

#[test]
fn the_document_is_openapi_3_1_for_this_crate() {
    let version = DOC["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3.1"), "{version}");
    assert_eq!(DOC["info"]["title"], "JWT Auth API");
    assert_eq!(DOC["info"]["version"], env!("CARGO_PKG_VERSION"));
    let servers: Vec<&str> = DOC["servers"]
        .as_array()
        .expect("servers are listed")
        .iter()
        .filter_map(|s| s["url"].as_str())
        .collect();
    assert!(servers.contains(&"http://localhost:5001"), "{servers:?}");
}

#[test]
fn the_paths_are_exactly_the_route_table_without_the_catch_all() {
    let documented: BTreeSet<(String, String)> = operations()
        .into_iter()
        .map(|(method, path, _)| (method, path.to_owned()))
        .collect();
    let routes: BTreeSet<(String, String)> = Endpoint::ALL
        .iter()
        .filter_map(|e| Some((e.method()?.to_string(), e.path().to_owned())))
        .collect();

    assert_eq!(documented, routes);
    assert_eq!(
        routes.len(),
        Endpoint::ALL.len() - 1,
        "only the catch-all has no method"
    );
    assert!(!documented.iter().any(|(_, p)| p.contains("proxy")));
}

#[test]
fn every_path_parameter_is_declared() {
    for (method, path, operation) in operations() {
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = operation
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(resolve)
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(
                    p["required"], true,
                    "{method} {path}: path parameters are required"
                );
                p["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(declared, in_path, "{method} {path}");
    }
}

#[test]
fn the_error_enum_is_exactly_the_codes_of_api_error() {
    let errors = one_of_each_variant();
    let indices: BTreeSet<usize> = errors.iter().map(variant_index).collect();
    assert_eq!(
        indices,
        (0..VARIANTS).collect(),
        "one_of_each_variant lists each variant once"
    );
    let codes: BTreeSet<&str> = errors.iter().map(ApiError::code).collect();
    // The second factor's lock shares `too_many_attempts` with the sign-in lockout: a client
    // handles both alike (wait for `Retry-After`).
    assert_eq!(
        ApiError::MfaLocked(1).code(),
        ApiError::TooManyAttempts(1).code()
    );
    assert_eq!(
        codes.len(),
        VARIANTS - 1,
        "codes are unique but for that one"
    );

    let schema = &DOC["components"]["schemas"]["Error"];
    let documented: BTreeSet<&str> = schema["properties"]["error"]["enum"]
        .as_array()
        .expect("Error.error is an enum")
        .iter()
        .map(|c| c.as_str().expect("codes are strings"))
        .collect();
    assert_eq!(documented, codes);

    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["error", "message"]);
    assert_eq!(schema["additionalProperties"], false);
}

/// Checks one response object; `context` names it in failures.
fn check_response(status: &str, response: &'static Value, context: &str) {
    let response = resolve(response);
    assert!(
        response["description"].is_string(),
        "{context}: a response has a description"
    );
    if status.starts_with('3') {
        // A redirect (a provider sign-in's steps): no body, a `Location` always sent.
        assert!(
            response.get("content").is_none(),
            "{context}: a redirect has no body"
        );
        assert_eq!(
            resolve(&response["headers"]["Location"])["required"],
            true,
            "{context}: a redirect documents its Location"
        );
        return;
    }
    if status == "204" {
        // Done, nothing to say (an admin's deletion): no body.
        assert!(
            response.get("content").is_none(),
            "{context}: a 204 has no body"
        );
        return;
    }
    let content = response["content"]
        .as_object()
        .unwrap_or_else(|| panic!("{context}: every response has a body"));
    if !is_error_status(status) {
        for (media_type, media) in content {
            assert!(
                media["schema"].is_object(),
                "{context} {media_type}: a schema"
            );
            assert!(
                media.get("example").is_some() || media.get("examples").is_some(),
                "{context} {media_type}: an example"
            );
        }
        if let Some(media) = content.get("application/json") {
            let schema = resolve(&media["schema"]);
            // A body of one of several shapes (sign-in: signed in, or a second factor needed):
            // each alternative is held to the rule.
            let alternatives: Vec<&'static Value> = match schema.get("oneOf") {
                Some(alternatives) => alternatives
                    .as_array()
                    .unwrap_or_else(|| panic!("{context}: oneOf is a list"))
                    .iter()
                    .map(resolve)
                    .collect(),
                None => vec![schema],
            };
            for schema in alternatives {
                check_every_field_is_sent(schema, context);
            }
            for example in json_examples(response) {
                validate(&media["schema"], example, context).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        return;
    }
    check_error_response(status, response, content, context, &real_codes());
}

/// A success body's fields are all required: the API always sends every one.
fn check_every_field_is_sent(schema: &'static Value, context: &str) {
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap_or_else(|| panic!("{context}: required fields are listed"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut properties: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    required.sort_unstable();
    properties.sort_unstable();
    assert_eq!(
        required, properties,
        "{context}: every field is always sent"
    );
}

/// An error response: JSON of the `Error` schema, with an example per code, each a code and a
/// message the API really answers with this status.
fn check_error_response(
    status: &str,
    response: &'static Value,
    content: &'static serde_json::Map<String, Value>,
    context: &str,
    codes: &BTreeMap<&'static str, BTreeMap<u16, BTreeSet<String>>>,
) {
    let keys: Vec<&String> = content.keys().collect();
    assert_eq!(keys, ["application/json"], "{context}: errors are JSON");
    assert_eq!(
        content["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
        "{context}: errors reference the Error schema"
    );
    let examples = json_examples(response);
    assert!(
        !examples.is_empty(),
        "{context}: every error code has an example"
    );
    for example in examples {
        let code = example["error"].as_str().unwrap_or_default();
        let statuses = codes
            .get(code)
            .unwrap_or_else(|| panic!("{context}: no ApiError has the code {code:?}"));
        let messages = statuses
            .iter()
            .find(|(real, _)| real.to_string() == status)
            .map(|(_, messages)| messages)
            .unwrap_or_else(|| {
                panic!(
                    "{context}: {code} is answered with {:?}",
                    statuses.keys().collect::<Vec<_>>()
                )
            });
        let message = example["message"].as_str().unwrap_or_default();
        assert!(
            messages.contains(message),
            "{context}: {message:?} is not a message the API sends for {code}; it sends {messages:?}"
        );
        let mut keys: Vec<&String> = example.as_object().unwrap().keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["error", "message"], "{context}");
    }
}

#[test]
fn every_response_is_well_formed_and_every_error_references_the_error_schema() {
    for (method, path, operation) in operations() {
        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}: responses"));
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{method} {path}: a success response"
        );
        for (status, response) in responses {
            let context = format!("{method} {path} {status}");
            assert!(
                status.len() == 3
                    && status.bytes().all(|b| b.is_ascii_digit())
                    && ("100"..="599").contains(&status.as_str()),
                "{context}: a 3-digit status code"
            );
            check_response(status, response, &context);
        }
    }
    for (name, response) in DOC["components"]["responses"].as_object().unwrap() {
        let code = documented_codes(response)
            .pop_first()
            .unwrap_or_else(|| panic!("{name}: an example"));
        let statuses = &real_codes()[code.as_str()];
        assert_eq!(
            statuses.len(),
            1,
            "{name}: a shared response is of a code with one status"
        );
        let status = statuses.keys().next().unwrap().to_string();
        check_response(&status, response, &format!("components/responses/{name}"));
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(value: &'static Value, at: &str) {
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    assert!(
                        reference.starts_with('#') && DOC.pointer(&reference[1..]).is_some(),
                        "{at}: dangling {reference}"
                    );
                }
                for (key, child) in map {
                    walk(child, &format!("{at}/{key}"));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }
    walk(&DOC, "");
}

#[test]
fn bearer_401s_carry_the_real_challenges_and_only_protected_operations_have_them() {
    let schemes = DOC["components"]["securitySchemes"].as_object().unwrap();
    for (name, scheme) in schemes {
        assert!(
            matches!(
                (scheme["type"].as_str(), scheme["scheme"].as_str()),
                (Some("http"), Some("bearer" | "basic"))
            ),
            "{name}: {scheme}"
        );
    }
    for (method, path, operation) in operations() {
        let context = format!("{method} {path}");
        let security: Vec<&str> = operation
            .get("security")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|requirement| requirement.as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        for name in &security {
            assert!(
                schemes.contains_key(*name),
                "{context}: unknown scheme {name}"
            );
        }
        let Some(unauthorized) = operation["responses"].get("401").map(resolve) else {
            assert!(security.is_empty(), "{context}: protected but no 401");
            continue;
        };
        let codes = documented_codes(unauthorized);
        let bearer: Vec<&str> = CHALLENGE_CODES
            .into_iter()
            .filter(|c| codes.contains(*c))
            .collect();
        assert_eq!(
            !bearer.is_empty(),
            !security.is_empty(),
            "{context}: bearer failures exactly on protected operations"
        );
        let challenge = unauthorized["headers"].get("WWW-Authenticate").map(resolve);
        if bearer.is_empty() {
            assert!(challenge.is_none(), "{context}: no challenge is sent");
            for code in &codes {
                let error = one_of_each_variant()
                    .into_iter()
                    .find(|e| e.code() == code)
                    .unwrap();
                assert!(
                    !error_response(&error)
                        .headers()
                        .contains_key(header::WWW_AUTHENTICATE),
                    "{context}: {code} sends a challenge the document does not show"
                );
            }
            continue;
        }
        let challenge = challenge.unwrap_or_else(|| panic!("{context}: WWW-Authenticate"));
        let documented: BTreeSet<&str> = challenge["schema"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{context}: the challenges are listed"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        // Sent with every 401 of the operation, unless the 401 also stands for a failure that is
        // not the token's (a wrong password): then it is sent with the bearer codes only.
        let only_bearer_codes = codes.iter().all(|c| CHALLENGE_CODES.contains(&c.as_str()));
        assert_eq!(
            challenge["required"], only_bearer_codes,
            "{context}: required exactly when every 401 of the operation carries it"
        );
        let sent: BTreeSet<String> = bearer
            .into_iter()
            .map(|code| {
                let error = one_of_each_variant()
                    .into_iter()
                    .find(|e| e.code() == code)
                    .unwrap();
                error_response(&error).headers()[header::WWW_AUTHENTICATE]
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let sent: BTreeSet<&str> = sent.iter().map(String::as_str).collect();
        assert_eq!(
            documented, sent,
            "{context}: the documented challenges are exactly those of its codes"
        );
    }
}

/// Checks `value` against a schema of the document. Supports the keywords the document uses and
/// refuses any other, so a constraint is never silently skipped.
fn validate(schema: &'static Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(schema);
    let rules = schema
        .as_object()
        .ok_or_else(|| format!("{at}: not a schema"))?;
    for (keyword, rule) in rules {
        let fail = |why: String| Err(format!("{at}: {why} (value {value})"));
        match keyword.as_str() {
            "description" | "examples" | "title" => {}
            "type" => {
                // One type name, or a list of them (`[string, 'null']`).
                let names: Vec<&str> = match rule {
                    Value::Array(names) => names.iter().map(|n| n.as_str().unwrap()).collect(),
                    name => vec![name.as_str().unwrap()],
                };
                let mut ok = false;
                for name in names {
                    ok |= match name {
                        "object" => value.is_object(),
                        "string" => value.is_string(),
                        "integer" => value.is_i64() || value.is_u64(),
                        "number" => value.is_number(),
                        "boolean" => value.is_boolean(),
                        "array" => value.is_array(),
                        "null" => value.is_null(),
                        other => return fail(format!("type {other} unsupported")),
                    };
                }
                if !ok {
                    return fail(format!("not of type {rule}"));
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    validate(rule, item, &format!("{at}[{i}]"))?;
                }
            }
            "const" if value != rule => return fail(format!("not the constant {rule}")),
            "enum" if !rule.as_array().unwrap().contains(value) => {
                return fail(format!("not one of {rule}"));
            }
            "const" | "enum" => {}
            "required" => {
                for field in rule.as_array().unwrap() {
                    if value.get(field.as_str().unwrap()).is_none() {
                        return fail(format!("no required field {field}"));
                    }
                }
            }
            "properties" => {
                for (name, subschema) in rule.as_object().unwrap() {
                    if let Some(field) = value.get(name) {
                        validate(subschema, field, &format!("{at}.{name}"))?;
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(rule, false, "{at}: only `false` is used");
                let known = schema["properties"].as_object();
                for name in value.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !known.is_some_and(|k| k.contains_key(name)) {
                        return fail(format!("undocumented field {name}"));
                    }
                }
            }
            "minLength" | "maxLength" => {
                let length = value.as_str().map_or(0, |s| s.chars().count()) as u64;
                let bound = rule.as_u64().unwrap();
                if (keyword == "minLength" && length < bound)
                    || (keyword == "maxLength" && length > bound)
                {
                    return fail(format!("{keyword} {bound}"));
                }
            }
            "oneOf" => {
                let alternatives = rule.as_array().unwrap();
                let matching = alternatives
                    .iter()
                    .filter(|alternative| validate(alternative, value, at).is_ok())
                    .count();
                if matching != 1 {
                    let why: Vec<String> = alternatives
                        .iter()
                        .filter_map(|alternative| validate(alternative, value, at).err())
                        .collect();
                    return fail(format!("matches {matching} of oneOf, not 1: {why:?}"));
                }
            }
            "minItems" | "maxItems" => {
                let length = value.as_array().map_or(0, Vec::len) as u64;
                let bound = rule.as_u64().unwrap();
                if (keyword == "minItems" && length < bound)
                    || (keyword == "maxItems" && length > bound)
                {
                    return fail(format!("{keyword} {bound}"));
                }
            }
            "minimum" if value.as_f64() < rule.as_f64() => {
                return fail(format!("below {rule}"));
            }
            "minimum" => {}
            "format" => {
                let text = value.as_str().unwrap_or_default();
                let ok = match rule.as_str().unwrap() {
                    "uuid" => Uuid::parse_str(text).is_ok(),
                    // RFC 3339 in UTC to the second, the one form the API writes.
                    "date-time" => {
                        text.len() == 20
                            && text.char_indices().all(|(i, c)| match i {
                                4 | 7 => c == '-',
                                10 => c == 'T',
                                13 | 16 => c == ':',
                                19 => c == 'Z',
                                _ => c.is_ascii_digit(),
                            })
                    }
                    "email" => Email::parse(text).is_ok_and(|e| e.as_str() == text),
                    other => return fail(format!("format {other} unsupported")),
                };
                if !ok {
                    return fail(format!("not a {rule}"));
                }
            }
            other => return fail(format!("keyword {other} is not supported by this checker")),
        }
    }
    Ok(())
}

/// Records real responses, checking each against the document, and compares the statuses and
/// codes seen with those documented.
#[derive(Default)]
struct Contract {
    /// `"METHOD path"` -> `(status, error code or "")`.
    seen: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl Contract {
    /// Checks a response of `endpoint` against its documented response; returns the JSON body
    /// (`Null` for HTML, the `Location` for a redirect).
    #[track_caller]
    fn check(&mut self, endpoint: Endpoint, response: Response<Body>, why: &str) -> Value {
        let method = endpoint.method().unwrap();
        let context = format!("{method} {} ({why})", endpoint.path());
        let status = response.status().as_str().to_owned();
        let documented = operation_of(endpoint)["responses"]
            .get(&status)
            .map(resolve)
            .unwrap_or_else(|| panic!("{context}: status {status} is not documented"));

        for (name, header) in documented["headers"].as_object().into_iter().flatten() {
            let header = resolve(header);
            let Some(sent) = response.headers().get(name) else {
                // Only a header documented as optional may be missing (checked below for the
                // one there is, the bearer challenge).
                assert_eq!(
                    header["required"], false,
                    "{context}: documented header {name} is not sent"
                );
                continue;
            };
            let sent = sent.to_str().unwrap();
            // Headers are text; one documented as an integer must be one.
            let sent = if header["schema"]["type"] == "integer" {
                Value::from(sent.parse::<u64>().unwrap_or_else(|_| {
                    panic!("{context}: header {name} is not an integer: {sent:?}")
                }))
            } else {
                Value::from(sent)
            };
            validate(
                &header["schema"],
                &sent,
                &format!("{context} header {name}"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let challenged = response.headers().contains_key(header::WWW_AUTHENTICATE);
        if challenged {
            assert!(
                documented["headers"].get("WWW-Authenticate").is_some(),
                "{context}: an undocumented WWW-Authenticate"
            );
        }

        if status.starts_with('3') {
            // A redirect: its `Location` (checked above as a documented header), no body.
            let location = response.headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                !response.headers().contains_key(header::CONTENT_TYPE),
                "{context}: a redirect has no body"
            );
            assert!(
                matches!(response.body(), Body::Empty),
                "{context}: a redirect has no body"
            );
            self.seen
                .entry(format!("{method} {}", endpoint.path()))
                .or_default()
                .insert((status, String::new()));
            return Value::String(location);
        }
        if status == "204" {
            assert!(
                !response.headers().contains_key(header::CONTENT_TYPE),
                "{context}: a 204 has no body"
            );
            assert!(matches!(response.body(), Body::Empty), "{context}: no body");
            self.seen
                .entry(format!("{method} {}", endpoint.path()))
                .or_default()
                .insert((status, String::new()));
            return Value::Null;
        }
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        let media_type = content_type.split(';').next().unwrap().trim().to_owned();
        let media = documented["content"]
            .get(&media_type)
            .unwrap_or_else(|| panic!("{context}: {media_type} is not documented for {status}"));
        let Body::Text(text) = response.into_body() else {
            panic!("{context}: a text body")
        };
        let (body, code) = if media_type == "application/json" {
            let body: Value = serde_json::from_str(&text).unwrap();
            validate(&media["schema"], &body, &context).unwrap_or_else(|e| panic!("{e}"));
            let code = if is_error_status(&status) {
                let code = body["error"].as_str().unwrap().to_owned();
                assert!(
                    documented_codes(documented).contains(&code),
                    "{context}: {status} {code} is not documented: {body}"
                );
                assert_eq!(
                    challenged,
                    CHALLENGE_CODES.contains(&code.as_str()),
                    "{context}: a challenge exactly with {CHALLENGE_CODES:?}"
                );
                code
            } else {
                String::new()
            };
            (body, code)
        } else {
            assert_eq!(media["schema"]["type"], "string", "{context}");
            assert!(!text.is_empty(), "{context}");
            (Value::Null, String::new())
        };
        self.seen
            .entry(format!("{method} {}", endpoint.path()))
            .or_default()
            .insert((status, code));
        body
    }

    /// Every documented status and code was seen, and nothing else.
    fn assert_complete(&self) {
        for endpoint in documented_endpoints() {
            let key = format!("{} {}", endpoint.method().unwrap(), endpoint.path());
            let mut documented = BTreeSet::new();
            for (status, response) in operation_of(endpoint)["responses"].as_object().unwrap() {
                if is_error_status(status) {
                    for code in documented_codes(resolve(response)) {
                        documented.insert((status.clone(), code));
                    }
                } else {
                    documented.insert((status.clone(), String::new()));
                }
            }
            let seen = self.seen.get(&key).cloned().unwrap_or_default();
            assert_eq!(
                seen, documented,
                "{key}: the (status, code) pairs seen are not the documented ones"
            );
        }
    }
}

/// A request to `endpoint`; a `{token}` path parameter gets a token no one was sent, an `{id}`
/// the id of no session.
fn request(
    endpoint: Endpoint,
    method: Method,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Request {
    let parameter = if endpoint.path().contains("{id}") {
        Uuid::new_v4().to_string()
    } else {
        "an-unknown-reset-token".to_owned()
    };
    request_with_token(endpoint, &parameter, method, headers, body)
}

/// A request to `endpoint` with `token` as its path parameter (`{token}` or `{id}`, the last
/// segment), as API Gateway fills it in.
fn request_with_token(
    endpoint: Endpoint,
    token: &str,
    method: Method,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Request {
    let parameter = endpoint
        .path()
        .rsplit_once("/{")
        .and_then(|(_, name)| name.strip_suffix('}'));
    let path = match parameter {
        Some(name) => endpoint.path().replace(&format!("{{{name}}}"), token),
        None => endpoint.path().to_owned(),
    };
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, HeaderValue::from_str(value).unwrap());
    }
    let request: Request = builder.body(body.into()).unwrap();
    match parameter {
        Some(name) => {
            request.with_path_parameters(HashMap::from([(name.to_owned(), token.to_owned())]))
        }
        None => request,
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

fn json_post(endpoint: Endpoint, body: &Value) -> Request {
    request(endpoint, Method::POST, &[JSON], body.to_string())
}

fn bearer(endpoint: Endpoint, token: &str) -> Request {
    let value = format!("Bearer {token}");
    request(
        endpoint,
        endpoint.method().unwrap(),
        &[("authorization", &value)],
        Body::Empty,
    )
}

/// A request to an endpoint that takes an access token and a JSON body, with its method.
fn bearer_json(endpoint: Endpoint, token: &str, body: &Value) -> Request {
    bearer_with(endpoint, token, &[JSON], body.to_string())
}

/// A request with `token` as bearer, these other headers and this body, with the endpoint's
/// method.
fn bearer_with(
    endpoint: Endpoint,
    token: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Request {
    let authorization = format!("Bearer {token}");
    let mut headers = headers.to_vec();
    headers.push(("authorization", &authorization));
    request(endpoint, endpoint.method().unwrap(), &headers, body)
}

/// A genuine access token with its `exp` moved into the past.
pub(crate) fn expired_copy_of(access_token: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = jwt_part(access_token, 1);
    claims["iat"] = json!(now - 120);
    claims["nbf"] = json!(now - 120);
    claims["exp"] = json!(now - 60);
    let header = Header {
        typ: Some("at+jwt".into()),
        ..Header::new(Algorithm::HS256)
    };
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap()
}

/// Success and client errors of every endpoint, on a working database.
async fn exercise_a_working_api(contract: &mut Contract) {
    let app = TestApp::spawn().await;
    let email = "jane@example.com";

    for endpoint in documented_endpoints() {
        let wrong = if endpoint.method() == Some(Method::GET) {
            Method::POST
        } else {
            Method::GET
        };
        let response = app
            .call_raw(endpoint, request(endpoint, wrong, &[JSON], "{}"))
            .await;
        contract.check(endpoint, response, "wrong method");
    }
    for endpoint in [
        Endpoint::Root,
        Endpoint::Public,
        Endpoint::ResetPage,
        Endpoint::VerifyPage,
        Endpoint::SigninPage,
        Endpoint::SignupPage,
        Endpoint::AccountPage,
        Endpoint::Jwks,
    ] {
        let response = app
            .call_raw(endpoint, request(endpoint, Method::GET, &[], Body::Empty))
            .await;
        contract.check(endpoint, response, "success");
    }
    // Behind the Lambda authorizer: its context handed over, or none.
    let access = app.signed_in_access_token("behind@example.com").await;
    let allowed = auth::handlers::authorizer(
        &app.app,
        &crate::authorizer::event(Some(&format!("Bearer {access}"))),
    )
    .await;
    let context = serde_json::to_value(&allowed).unwrap()["context"].clone();
    for (context, why) in [(Some(&context), "success"), (None, "no authorizer context")] {
        let response = app
            .call_raw(
                Endpoint::ProtectedExample,
                crate::authorizer::behind_the_authorizer(context),
            )
            .await;
        contract.check(Endpoint::ProtectedExample, response, why);
    }
    let key_ring = TestApp::spawn_with(KEY_RING).await;
    let jwks = key_ring
        .call_raw(
            Endpoint::Jwks,
            request(Endpoint::Jwks, Method::GET, &[], Body::Empty),
        )
        .await;
    let jwks = contract.check(Endpoint::Jwks, jwks, "a key ring");
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");

    // What every JSON-body endpoint checks before its fields.
    let oversize = json!({"email": "x".repeat(MAX_BODY_BYTES)}).to_string();
    for endpoint in [
        Endpoint::Signup,
        Endpoint::VerifyEmail,
        Endpoint::ResendVerification,
        Endpoint::Signin,
        Endpoint::ForgotPassword,
        Endpoint::ResetPassword,
    ] {
        let cases: [(Request, &str); 7] = [
            (
                request(endpoint, Method::POST, &[], "{}"),
                "no content type",
            ),
            (
                request(endpoint, Method::POST, &[JSON], oversize.clone()),
                "oversize",
            ),
            (request(endpoint, Method::POST, &[JSON], "{"), "bad JSON"),
            (
                request(endpoint, Method::POST, &[JSON], "[1]"),
                "not an object",
            ),
            (json_post(endpoint, &json!({})), "no fields"),
            (
                json_post(endpoint, &json!({"name": 1, "email": 1, "password": 1})),
                "numbers",
            ),
            (
                json_post(
                    endpoint,
                    &json!({"name": "Jane", "email": "jane@localhost", "password": "short"}),
                ),
                "invalid email or password",
            ),
        ];
        for (request, why) in cases {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
    }

    // Sign-up.
    let signup = |name: &str, email: &str, password: &str| {
        json_post(
            Endpoint::Signup,
            &json!({"name": name, "email": email, "password": password}),
        )
    };
    for (request, why) in [
        (signup(&"a".repeat(101), email, PASSWORD), "long name"),
        (signup("Jane\u{1}", email, PASSWORD), "control character"),
        (
            signup(
                "Jane",
                &format!("{}@example.com", "a".repeat(250)),
                PASSWORD,
            ),
            "long email",
        ),
        (signup("Jane", email, &"a".repeat(257)), "long password"),
        (signup("Jane", email, "password123"), "common password"),
        (
            signup("Jane", email, "Jane's password"),
            "email name in password",
        ),
        (signup("Jane Doe", email, PASSWORD), "new address"),
        (
            signup("Jane Doe", "JANE@example.com", PASSWORD),
            "an unconfirmed account's address",
        ),
    ] {
        let response = app.call_raw(Endpoint::Signup, request).await;
        contract.check(Endpoint::Signup, response, why);
    }

    // Before the address is confirmed: the right password is refused, a new email may be asked
    // for (the same answer for any address).
    let signin_jane = json_post(
        Endpoint::Signin,
        &json!({"email": email, "password": PASSWORD}),
    );
    let response = app.call_raw(Endpoint::Signin, signin_jane).await;
    contract.check(Endpoint::Signin, response, "unconfirmed address");
    for (address, why) in [
        (email, "unconfirmed account"),
        ("joe@example.com", "no account"),
    ] {
        let response = app
            .call_raw(
                Endpoint::ResendVerification,
                json_post(Endpoint::ResendVerification, &json!({"email": address})),
            )
            .await;
        contract.check(Endpoint::ResendVerification, response, why);
    }

    // Confirmation by the emailed code (by the link's token: see the account endpoints).
    let code = app.verification_code_from_outbox(email).await;
    let wrong_code = if code == "000000" { "000001" } else { "000000" };
    let verify = |body: Value| json_post(Endpoint::VerifyEmail, &body);
    for (request, why) in [
        (
            verify(json!({"token": "an-unknown-token"})),
            "unknown token",
        ),
        (verify(json!({"token": 1})), "token not a string"),
        (verify(json!({"email": email})), "no code"),
        (
            verify(json!({"email": email, "code": "12345"})),
            "not six digits",
        ),
        (
            verify(json!({"email": format!("{}@example.com", "a".repeat(250)), "code": code})),
            "long email",
        ),
        (
            verify(json!({"email": email, "code": wrong_code})),
            "wrong code",
        ),
        (verify(json!({"email": email, "code": code})), "success"),
        (verify(json!({"email": email, "code": code})), "used code"),
    ] {
        let response = app.call_raw(Endpoint::VerifyEmail, request).await;
        contract.check(Endpoint::VerifyEmail, response, why);
    }

    // Sign-in: one session for the dashboard and refresh, another to log out.
    let signin = |password: &str| {
        json_post(
            Endpoint::Signin,
            &json!({"email": email, "password": password}),
        )
    };
    let wrong = app
        .call_raw(Endpoint::Signin, signin("wrong password"))
        .await;
    contract.check(Endpoint::Signin, wrong, "wrong password");
    let session = app.call_raw(Endpoint::Signin, signin(PASSWORD)).await;
    let session = contract.check(Endpoint::Signin, session, "success");
    let access = session["access_token"].as_str().unwrap().to_owned();
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    let other = app.call_raw(Endpoint::Signin, signin(PASSWORD)).await;
    let other = contract.check(Endpoint::Signin, other, "second session");
    let other_access = other["access_token"].as_str().unwrap().to_owned();
    let third = app.call_raw(Endpoint::Signin, signin(PASSWORD)).await;
    let third = contract.check(Endpoint::Signin, third, "third session");
    let (_, third_session) = jti_and_sid(third["access_token"].as_str().unwrap());

    // The bearer endpoints.
    let expired = expired_copy_of(&access);
    for endpoint in [
        Endpoint::Dashboard,
        Endpoint::Logout,
        Endpoint::Refresh,
        Endpoint::Sessions,
        Endpoint::EndSession,
    ] {
        let method = endpoint.method().unwrap();
        let response = app
            .call_raw(endpoint, request(endpoint, method, &[], Body::Empty))
            .await;
        contract.check(endpoint, response, "no token");
        for (token, why) in [("garbage", "garbage"), (expired.as_str(), "expired")] {
            let response = app.call_raw(endpoint, bearer(endpoint, token)).await;
            contract.check(endpoint, response, why);
        }
    }
    let response = app
        .call_raw(Endpoint::Dashboard, bearer(Endpoint::Dashboard, &access))
        .await;
    contract.check(Endpoint::Dashboard, response, "success");
    let response = app
        .call_raw(Endpoint::Refresh, bearer(Endpoint::Refresh, &refresh))
        .await;
    contract.check(Endpoint::Refresh, response, "success");
    let response = app
        .call_raw(Endpoint::Sessions, bearer(Endpoint::Sessions, &access))
        .await;
    let listed = contract.check(Endpoint::Sessions, response, "success");
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 3, "{listed}");
    let authorization = format!("Bearer {access}");
    let end_session = |id: &str| {
        request_with_token(
            Endpoint::EndSession,
            id,
            Method::DELETE,
            &[("authorization", &authorization)],
            Body::Empty,
        )
    };
    for (request, why) in [
        (end_session(&third_session.to_string()), "success"),
        (end_session(&third_session.to_string()), "already ended"),
        (bearer(Endpoint::EndSession, &access), "unknown id"),
        (end_session("not-a-uuid"), "not a uuid"),
    ] {
        let response = app.call_raw(Endpoint::EndSession, request).await;
        contract.check(Endpoint::EndSession, response, why);
    }

    // Logout: the body is optional, and checked like any other when present.
    let logout = |headers: &[(&str, &str)], body: String| {
        let mut headers = headers.to_vec();
        headers.push(("authorization", &authorization));
        request(Endpoint::Logout, Method::POST, &headers, body)
    };
    for (request, why) in [
        (
            logout(&[], r#"{"scope": "global"}"#.into()),
            "no content type",
        ),
        (logout(&[JSON], oversize.clone()), "oversize"),
        (logout(&[JSON], "{".into()), "bad JSON"),
        (logout(&[JSON], "[1]".into()), "not an object"),
        (
            logout(&[JSON], r#"{"scope": 1}"#.into()),
            "scope not a string",
        ),
        (
            logout(&[JSON], r#"{"scope": "all"}"#.into()),
            "unknown scope",
        ),
    ] {
        let response = app.call_raw(Endpoint::Logout, request).await;
        contract.check(Endpoint::Logout, response, why);
    }
    let response = app
        .call_raw(Endpoint::Logout, bearer(Endpoint::Logout, &other_access))
        .await;
    contract.check(Endpoint::Logout, response, "success");
    let response = app
        .call_raw(
            Endpoint::Logout,
            logout(&[JSON], r#"{"scope": "global"}"#.into()),
        )
        .await;
    contract.check(Endpoint::Logout, response, "global");

    // Password reset.
    let response = app
        .call_raw(
            Endpoint::ForgotPassword,
            json_post(Endpoint::ForgotPassword, &json!({"email": email})),
        )
        .await;
    contract.check(Endpoint::ForgotPassword, response, "success");
    let token = app.reset_token_from_outbox(email).await;
    let reset = |token: &str, password: &str| {
        request_with_token(
            Endpoint::ResetPassword,
            token,
            Method::POST,
            &[JSON],
            json!({"password": password}).to_string(),
        )
    };
    for (request, why) in [
        (reset("unknown", "a new password"), "unknown token"),
        (reset(&token, &"a".repeat(257)), "long password"),
        (reset(&token, "password123"), "common password"),
        (reset(&token, "a new password"), "success"),
        (reset(&token, "a newer password"), "used token"),
    ] {
        let response = app.call_raw(Endpoint::ResetPassword, request).await;
        contract.check(Endpoint::ResetPassword, response, why);
    }

    // Sign-in lockout: five failures in a row lock the email (for a second; made an hour here
    // so a slow machine cannot outlast it).
    let mallory = || {
        json_post(
            Endpoint::Signin,
            &json!({"email": "mallory@example.com", "password": "not the password"}),
        )
    };
    for _ in 0..5 {
        let response = app.call_raw(Endpoint::Signin, mallory()).await;
        contract.check(Endpoint::Signin, response, "failure");
    }
    app.db
        .execute(
            "UPDATE signin_failures SET locked_until = now() + interval '1 hour'",
            &[],
        )
        .await
        .unwrap();
    let response = app.call_raw(Endpoint::Signin, mallory()).await;
    contract.check(Endpoint::Signin, response, "locked out");
}

/// The original sign-up (`REQUIRE_EMAIL_VERIFICATION=false`): 201 with the user, 409 for an
/// address that has an account.
async fn exercise_signup_without_verification(contract: &mut Contract) {
    let app = TestApp::spawn_with(UNVERIFIED).await;
    for (email, why) in [
        ("jane@example.com", "success"),
        ("JANE@example.com", "taken"),
    ] {
        let body = json!({"name": "Jane Doe", "email": email, "password": PASSWORD});
        let response = app
            .call_raw(Endpoint::Signup, json_post(Endpoint::Signup, &body))
            .await;
        contract.check(Endpoint::Signup, response, why);
    }
}

/// What the endpoints that take an access token and a body check, in order: the token's
/// presence, the body, the fields, the token, the password.
async fn exercise_the_account_endpoints(contract: &mut Contract) {
    let app = TestApp::spawn().await;
    let email = "kim@example.com";
    let new_email = "kim.new@example.com";
    let new_password = "a brand new passphrase";
    let access = app.signed_in_access_token(email).await;
    let expired = expired_copy_of(&access);
    let oversize = json!({"password": "x".repeat(MAX_BODY_BYTES)}).to_string();

    let valid = |endpoint: Endpoint| match endpoint {
        Endpoint::ChangePassword => {
            json!({"current_password": PASSWORD, "new_password": new_password})
        }
        Endpoint::ChangeEmail => json!({"password": PASSWORD, "new_email": new_email}),
        _ => json!({"password": PASSWORD}),
    };
    let with_password = |endpoint: Endpoint, password: &str| {
        let mut body = valid(endpoint);
        let field = match endpoint {
            Endpoint::ChangePassword => "current_password",
            _ => "password",
        };
        body[field] = json!(password);
        body
    };
    let numbers = json!({"current_password": 1, "new_password": 1, "password": 1, "new_email": 1});
    let accounts = [
        Endpoint::ChangePassword,
        Endpoint::ChangeEmail,
        Endpoint::DeleteAccount,
    ];
    for endpoint in accounts {
        let method = endpoint.method().unwrap();
        let cases: Vec<(Request, &str)> = vec![
            (
                request(endpoint, method, &[JSON], valid(endpoint).to_string()),
                "no token",
            ),
            (
                bearer_json(endpoint, "garbage", &valid(endpoint)),
                "garbage token",
            ),
            (
                bearer_json(endpoint, &expired, &valid(endpoint)),
                "expired token",
            ),
            (
                bearer_with(endpoint, &access, &[], valid(endpoint).to_string()),
                "no content type",
            ),
            (
                bearer_with(endpoint, &access, &[JSON], oversize.clone()),
                "oversize",
            ),
            (bearer_with(endpoint, &access, &[JSON], "{"), "bad JSON"),
            (
                bearer_with(endpoint, &access, &[JSON], "[1]"),
                "not an object",
            ),
            (bearer_json(endpoint, &access, &json!({})), "no fields"),
            (bearer_json(endpoint, &access, &numbers), "numbers"),
            (
                bearer_json(endpoint, &access, &with_password(endpoint, "short")),
                "a password too short to match",
            ),
            (
                bearer_json(
                    endpoint,
                    &access,
                    &with_password(endpoint, "a wrong password"),
                ),
                "wrong password",
            ),
        ];
        for (request, why) in cases {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
    }

    // A new password: the sign-up rules, then the current password.
    let change_password = |new: &str| {
        bearer_json(
            Endpoint::ChangePassword,
            &access,
            &json!({"current_password": PASSWORD, "new_password": new}),
        )
    };
    for (request, why) in [
        (
            bearer_json(
                Endpoint::ChangePassword,
                &access,
                &json!({"current_password": PASSWORD}),
            ),
            "no new password",
        ),
        (change_password("short"), "new password too short"),
        (change_password(&"a".repeat(257)), "new password too long"),
        (change_password("password123"), "common password"),
        (change_password("Kim's password"), "email name in password"),
        (change_password(new_password), "success"),
    ] {
        let response = app.call_raw(Endpoint::ChangePassword, request).await;
        contract.check(Endpoint::ChangePassword, response, why);
    }

    // A new address, confirmed by the link's token sent to it.
    let change_email = |new: &str| {
        bearer_json(
            Endpoint::ChangeEmail,
            &access,
            &json!({"password": new_password, "new_email": new}),
        )
    };
    for (request, why) in [
        (
            bearer_json(
                Endpoint::ChangeEmail,
                &access,
                &json!({"password": new_password}),
            ),
            "no new address",
        ),
        (change_email("kim@localhost"), "invalid address"),
        (
            change_email(&format!("{}@example.com", "a".repeat(250))),
            "long address",
        ),
        (change_email(new_email), "success"),
    ] {
        let response = app.call_raw(Endpoint::ChangeEmail, request).await;
        contract.check(Endpoint::ChangeEmail, response, why);
    }
    let token = app.verification_token_from_outbox(new_email).await;
    for why in ["success", "used token"] {
        let response = app
            .call_raw(
                Endpoint::VerifyEmail,
                json_post(Endpoint::VerifyEmail, &json!({ "token": token })),
            )
            .await;
        contract.check(Endpoint::VerifyEmail, response, why);
    }

    // Failed checks lock the address as failed sign-ins do (for a second; made an hour here so
    // a slow machine cannot outlast it): even the right password is refused.
    for _ in 0..5 {
        let wrong = with_password(Endpoint::DeleteAccount, "still not the password");
        let response = app
            .call_raw(
                Endpoint::DeleteAccount,
                bearer_json(Endpoint::DeleteAccount, &access, &wrong),
            )
            .await;
        contract.check(Endpoint::DeleteAccount, response, "failure");
    }
    app.db
        .execute(
            "UPDATE signin_failures SET locked_until = now() + interval '1 hour'",
            &[],
        )
        .await
        .unwrap();
    for endpoint in accounts {
        let body = with_password(endpoint, new_password);
        let response = app
            .call_raw(endpoint, bearer_json(endpoint, &access, &body))
            .await;
        contract.check(endpoint, response, "locked out");
    }
    app.db
        .execute("DELETE FROM signin_failures", &[])
        .await
        .unwrap();

    let body = with_password(Endpoint::DeleteAccount, new_password);
    for why in ["success", "the token of a deleted account"] {
        let response = app
            .call_raw(
                Endpoint::DeleteAccount,
                bearer_json(Endpoint::DeleteAccount, &access, &body),
            )
            .await;
        contract.check(Endpoint::DeleteAccount, response, why);
    }
}

/// The second factor: what the two-factor operations refuse before anything else, then TOTP
/// from enrolment to turning it off, with the sign-in's second step, new recovery codes, the
/// `aal2` checks and the lock.
async fn exercise_the_second_factor(contract: &mut Contract) {
    let app = TestApp::spawn().await;
    let email = "lee@example.com";
    let aal1 = app.signed_in_access_token(email).await;
    let expired = expired_copy_of(&aal1);
    let oversize = json!({"code": "x".repeat(MAX_BODY_BYTES)}).to_string();
    let any_code = json!({"code": "123456"});

    // Bearer failures, each operation with a body it would take.
    let with_token = [
        (Endpoint::MfaEnroll, None),
        (Endpoint::MfaConfirm, Some(&any_code)),
        (Endpoint::MfaDisable, Some(&any_code)),
        (Endpoint::MfaRecoveryCodes, None),
        (Endpoint::MfaStatus, None),
    ];
    for (endpoint, body) in with_token {
        let call = |token: Option<&str>| match (token, body) {
            (None, Some(body)) => request(
                endpoint,
                endpoint.method().unwrap(),
                &[JSON],
                body.to_string(),
            ),
            (None, None) => request(endpoint, endpoint.method().unwrap(), &[], Body::Empty),
            (Some(token), Some(body)) => bearer_json(endpoint, token, body),
            (Some(token), None) => bearer(endpoint, token),
        };
        for (request, why) in [
            (call(None), "no token"),
            (call(Some("garbage")), "garbage token"),
            (call(Some(&expired)), "expired token"),
        ] {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
    }
    // The body and its code, before the token is verified.
    for endpoint in [Endpoint::MfaConfirm, Endpoint::MfaDisable] {
        for (request, why) in [
            (
                bearer_with(endpoint, &aal1, &[], any_code.to_string()),
                "no content type",
            ),
            (
                bearer_with(endpoint, &aal1, &[JSON], oversize.clone()),
                "oversize",
            ),
            (bearer_with(endpoint, &aal1, &[JSON], "{"), "bad JSON"),
            (
                bearer_with(endpoint, &aal1, &[JSON], "[1]"),
                "not an object",
            ),
            (bearer_json(endpoint, &aal1, &json!({})), "no code"),
            (
                bearer_json(endpoint, &aal1, &json!({"code": 123456})),
                "a number",
            ),
            (
                bearer_json(endpoint, &aal1, &json!({"code": "12345"})),
                "not six digits",
            ),
        ] {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
    }

    // A password session, nothing on: what it may see and what needs aal2.
    for (endpoint, request, why) in [
        (
            Endpoint::MfaStatus,
            bearer(Endpoint::MfaStatus, &aal1),
            "nothing on",
        ),
        (
            Endpoint::MfaRecoveryCodes,
            bearer(Endpoint::MfaRecoveryCodes, &aal1),
            "an aal1 session",
        ),
        (
            Endpoint::MfaDisable,
            bearer_json(Endpoint::MfaDisable, &aal1, &any_code),
            "an aal1 session",
        ),
        (
            Endpoint::MfaConfirm,
            bearer_json(Endpoint::MfaConfirm, &aal1, &any_code),
            "nothing to confirm",
        ),
    ] {
        let response = app.call_raw(endpoint, request).await;
        contract.check(endpoint, response, why);
    }

    // Enrol (twice: the second secret replaces the first), then confirm.
    let mut secret = String::new();
    for why in ["success", "a pending secret replaced"] {
        let response = app
            .call_raw(Endpoint::MfaEnroll, bearer(Endpoint::MfaEnroll, &aal1))
            .await;
        let enrolled = contract.check(Endpoint::MfaEnroll, response, why);
        secret = enrolled["secret"].as_str().unwrap().to_owned();
    }
    let wrong = if totp_code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let confirm = |code: &str| bearer_json(Endpoint::MfaConfirm, &aal1, &json!({ "code": code }));
    let response = app.call_raw(Endpoint::MfaConfirm, confirm(wrong)).await;
    contract.check(Endpoint::MfaConfirm, response, "wrong code");
    let response = app
        .call_raw(Endpoint::MfaConfirm, confirm(&totp_code(&secret, 0)))
        .await;
    let confirmed = contract.check(Endpoint::MfaConfirm, response, "success");
    let aal2 = confirmed["access_token"].as_str().unwrap().to_owned();
    for (endpoint, request, why) in [
        (
            Endpoint::MfaConfirm,
            confirm(&totp_code(&secret, 1)),
            "already on",
        ),
        (
            Endpoint::MfaEnroll,
            bearer(Endpoint::MfaEnroll, &aal2),
            "already on",
        ),
        (
            Endpoint::MfaStatus,
            bearer(Endpoint::MfaStatus, &aal2),
            "TOTP on",
        ),
        (
            Endpoint::MfaRecoveryCodes,
            bearer(Endpoint::MfaRecoveryCodes, &aal2),
            "success",
        ),
    ] {
        let response = app.call_raw(endpoint, request).await;
        contract.check(endpoint, response, why);
    }
    let response = app
        .call_raw(
            Endpoint::MfaRecoveryCodes,
            bearer(Endpoint::MfaRecoveryCodes, &aal2),
        )
        .await;
    let fresh = contract.check(Endpoint::MfaRecoveryCodes, response, "success again");
    let recovery_code = fresh["recovery_codes"][0].as_str().unwrap().to_lowercase();

    // The sign-in's two steps.
    let password_step = || async { app.signin(email, PASSWORD).await.str("mfa_token") };
    let response = app
        .call_raw(
            Endpoint::Signin,
            json_post(
                Endpoint::Signin,
                &json!({"email": email, "password": PASSWORD}),
            ),
        )
        .await;
    let second_factor = contract.check(Endpoint::Signin, response, "a second factor required");
    assert_eq!(second_factor["mfa_required"], true, "{second_factor}");
    let mfa_token = second_factor["mfa_token"].as_str().unwrap().to_owned();
    let verify = |body: Value| json_post(Endpoint::MfaVerify, &body);
    let oversize = json!({"mfa_token": "x".repeat(MAX_BODY_BYTES)}).to_string();
    for (request, why) in [
        (
            request(Endpoint::MfaVerify, Method::POST, &[], "{}"),
            "no content type",
        ),
        (
            request(Endpoint::MfaVerify, Method::POST, &[JSON], oversize),
            "oversize",
        ),
        (
            request(Endpoint::MfaVerify, Method::POST, &[JSON], "{"),
            "bad JSON",
        ),
        (
            request(Endpoint::MfaVerify, Method::POST, &[JSON], "[1]"),
            "not an object",
        ),
        (verify(json!({"code": "123456"})), "no mfa_token"),
        (
            verify(json!({"mfa_token": 1, "code": "123456"})),
            "mfa_token a number",
        ),
        (verify(json!({ "mfa_token": mfa_token })), "no code"),
        (
            verify(json!({"mfa_token": mfa_token, "recovery_code": 1})),
            "recovery code a number",
        ),
        (
            verify(json!({"mfa_token": "made-up", "code": "123456"})),
            "unknown mfa_token",
        ),
        (
            verify(json!({"mfa_token": mfa_token, "code": wrong})),
            "wrong code",
        ),
        (
            verify(json!({"mfa_token": mfa_token, "code": "12345"})),
            "not six digits",
        ),
        (
            verify(json!({"mfa_token": mfa_token, "recovery_code": "not a recovery code"})),
            "not a recovery code",
        ),
    ] {
        let response = app.call_raw(Endpoint::MfaVerify, request).await;
        contract.check(Endpoint::MfaVerify, response, why);
    }
    let response = app
        .call_raw(
            Endpoint::MfaVerify,
            verify(
                json!({"mfa_token": mfa_token, "code": "123456", "recovery_code": recovery_code}),
            ),
        )
        .await;
    let both = contract.check(Endpoint::MfaVerify, response, "both proofs");
    assert_eq!(both["message"], BOTH_PROOFS, "{both}");
    for why in ["a recovery code, lower case", "a used mfa_token"] {
        let response = app
            .call_raw(
                Endpoint::MfaVerify,
                verify(json!({"mfa_token": mfa_token, "recovery_code": recovery_code})),
            )
            .await;
        contract.check(Endpoint::MfaVerify, response, why);
    }
    let mfa_token = password_step().await;
    let response = app
        .call_raw(
            Endpoint::MfaVerify,
            verify(json!({"mfa_token": mfa_token, "code": totp_code(&secret, 1)})),
        )
        .await;
    let signed_in = contract.check(Endpoint::MfaVerify, response, "a code");
    assert_eq!(signed_in["user"]["mfa_enabled"], true, "{signed_in}");
    // Both factors right (the code's step made acceptable again, then put back as it was), but
    // an operator disabled the account meanwhile.
    let last_step: i64 = app
        .db
        .query_one("SELECT last_step FROM mfa_totp", &[])
        .await
        .unwrap()
        .get(0);
    let mfa_token = password_step().await;
    set_disabled(&app, email, true).await;
    app.db
        .execute("UPDATE mfa_totp SET last_step = $1", &[&(last_step - 10)])
        .await
        .unwrap();
    let response = app
        .call_raw(
            Endpoint::MfaVerify,
            verify(json!({"mfa_token": mfa_token, "code": totp_code(&secret, 1)})),
        )
        .await;
    contract.check(Endpoint::MfaVerify, response, "a disabled account");
    app.db
        .execute("UPDATE mfa_totp SET last_step = $1", &[&last_step])
        .await
        .unwrap();
    set_disabled(&app, email, false).await;

    // Ten wrong codes (five per mfa_token, which they kill) lock the second factor: even the
    // right code waits, at sign-in and to turn TOTP off. Counted afresh from here.
    app.db
        .execute("DELETE FROM mfa_failures", &[])
        .await
        .unwrap();
    for _ in 0..2 {
        let mfa_token = password_step().await;
        for _ in 0..5 {
            let response = app
                .call_raw(
                    Endpoint::MfaVerify,
                    verify(json!({"mfa_token": mfa_token, "code": wrong})),
                )
                .await;
            contract.check(Endpoint::MfaVerify, response, "wrong code");
        }
    }
    let mfa_token = password_step().await;
    let response = app
        .call_raw(
            Endpoint::MfaVerify,
            verify(json!({"mfa_token": mfa_token, "code": totp_code(&secret, 1)})),
        )
        .await;
    contract.check(Endpoint::MfaVerify, response, "locked");
    let disable = |code: &str| bearer_json(Endpoint::MfaDisable, &aal2, &json!({ "code": code }));
    let response = app
        .call_raw(Endpoint::MfaDisable, disable(&totp_code(&secret, 1)))
        .await;
    contract.check(Endpoint::MfaDisable, response, "locked");
    app.db
        .execute(
            "UPDATE mfa_failures SET locked_until = now(), window_ends = now()",
            &[],
        )
        .await
        .unwrap();

    // Turning TOTP off: a wrong code, a used one, then (time passing for the account's TOTP:
    // the steps accepted so far moved into the past) a fresh one; then nothing is on.
    let used = totp_code(&secret, 1);
    for (code, why) in [(wrong, "wrong code"), (used.as_str(), "a used code")] {
        let response = app.call_raw(Endpoint::MfaDisable, disable(code)).await;
        contract.check(Endpoint::MfaDisable, response, why);
    }
    app.db
        .execute("UPDATE mfa_totp SET last_step = last_step - 10", &[])
        .await
        .unwrap();
    for why in ["success", "already off"] {
        let response = app
            .call_raw(Endpoint::MfaDisable, disable(&totp_code(&secret, 0)))
            .await;
        contract.check(Endpoint::MfaDisable, response, why);
    }
    let response = app
        .call_raw(
            Endpoint::MfaRecoveryCodes,
            bearer(Endpoint::MfaRecoveryCodes, &aal2),
        )
        .await;
    contract.check(Endpoint::MfaRecoveryCodes, response, "TOTP off");
}

/// A started ceremony's body, as the software authenticator's helpers take it.
fn ceremony_of(started: &Value) -> PasskeyCeremony {
    PasskeyCeremony {
        ceremony_id: started["ceremony_id"].as_str().unwrap().parse().unwrap(),
        options: started["options"].clone(),
    }
}

/// Passkeys: what the six operations refuse before anything else, then real ceremonies with a
/// software authenticator (registration, the list, a sign-in at `aal2`, a replay), the limit of
/// 20, removal, and an unconfirmed address.
async fn exercise_passkeys(contract: &mut Contract) {
    let app = TestApp::spawn().await;
    let email = "ada@example.com";
    let signed_in = app.signed_in_user(email).await;
    let access = signed_in.str("access_token");
    let ada: Uuid = signed_in.body["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expired = expired_copy_of(&access);
    let garbage = json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}});
    let unknown = json!({"ceremony_id": Uuid::new_v4(), "credential": garbage});

    // Bearer failures, each operation with a body it would take (a `{id}` of no passkey).
    let with_token = [
        (Endpoint::PasskeyRegisterStart, None),
        (Endpoint::PasskeyRegisterFinish, Some(&unknown)),
        (Endpoint::Passkeys, None),
        (Endpoint::DeletePasskey, None),
    ];
    for (endpoint, body) in with_token {
        let call = |token: Option<&str>| match (token, body) {
            (None, Some(body)) => request(
                endpoint,
                endpoint.method().unwrap(),
                &[JSON],
                body.to_string(),
            ),
            (None, None) => request(endpoint, endpoint.method().unwrap(), &[], Body::Empty),
            (Some(token), Some(body)) => bearer_json(endpoint, token, body),
            (Some(token), None) => bearer(endpoint, token),
        };
        for (request, why) in [
            (call(None), "no token"),
            (call(Some("garbage")), "garbage token"),
            (call(Some(&expired)), "expired token"),
        ] {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
    }

    // The finishes' bodies and fields, before the token (registration) or the ceremony.
    let oversize = json!({"ceremony_id": "x".repeat(MAX_BODY_BYTES)}).to_string();
    for endpoint in [
        Endpoint::PasskeyRegisterFinish,
        Endpoint::PasskeySigninFinish,
    ] {
        let send = |headers: &[(&str, &str)], body: String| match endpoint {
            Endpoint::PasskeyRegisterFinish => bearer_with(endpoint, &access, headers, body),
            _ => request(endpoint, Method::POST, headers, body),
        };
        let json = |body: Value| send(&[JSON], body.to_string());
        for (request, why) in [
            (send(&[], unknown.to_string()), "no content type"),
            (send(&[JSON], oversize.clone()), "oversize"),
            (send(&[JSON], "{".into()), "bad JSON"),
            (send(&[JSON], "[1]".into()), "not an object"),
            (json(json!({"credential": garbage})), "no ceremony_id"),
            (
                json(json!({"ceremony_id": 1, "credential": garbage})),
                "ceremony_id a number",
            ),
            (
                json(json!({"ceremony_id": Uuid::new_v4()})),
                "no credential",
            ),
            (
                json(json!({"ceremony_id": Uuid::new_v4(), "credential": garbage.to_string()})),
                "credential a string",
            ),
            (
                json(json!({"ceremony_id": "not-a-uuid", "credential": garbage})),
                "ceremony_id not a UUID",
            ),
            (json(unknown.clone()), "unknown ceremony"),
        ] {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
    }
    let finish_named = |name: Value| {
        bearer_json(
            Endpoint::PasskeyRegisterFinish,
            &access,
            &json!({"ceremony_id": Uuid::new_v4(), "credential": garbage, "name": name}),
        )
    };
    for (request, why) in [
        (finish_named(json!(1)), "name a number"),
        (finish_named(json!("x".repeat(65))), "name too long"),
        (finish_named(json!("a\nb")), "name with a line break"),
    ] {
        let response = app.call_raw(Endpoint::PasskeyRegisterFinish, request).await;
        contract.check(Endpoint::PasskeyRegisterFinish, response, why);
    }

    // Nothing yet; a registration for real, then the list.
    let list = || bearer(Endpoint::Passkeys, &access);
    let response = app.call_raw(Endpoint::Passkeys, list()).await;
    let listed = contract.check(Endpoint::Passkeys, response, "none");
    assert_eq!(listed, json!({"passkeys": []}));
    let start = || bearer(Endpoint::PasskeyRegisterStart, &access);
    let finish = |started: &PasskeyCeremony, key: &mut SoftPasskey, name: &str| {
        bearer_json(
            Endpoint::PasskeyRegisterFinish,
            &access,
            &json!({"ceremony_id": started.ceremony_id, "credential": attest(key, started),
                    "name": name}),
        )
    };
    let response = app.call_raw(Endpoint::PasskeyRegisterStart, start()).await;
    let started = ceremony_of(&contract.check(Endpoint::PasskeyRegisterStart, response, "success"));
    let mut key = SoftPasskey::new(true);
    let response = app
        .call_raw(
            Endpoint::PasskeyRegisterFinish,
            finish(&started, &mut key, "Laptop"),
        )
        .await;
    let added = contract.check(Endpoint::PasskeyRegisterFinish, response, "success");
    let passkey: Uuid = added["passkey"]["id"].as_str().unwrap().parse().unwrap();
    let response = app
        .call_raw(
            Endpoint::PasskeyRegisterFinish,
            finish(&started, &mut SoftPasskey::new(true), "Again"),
        )
        .await;
    contract.check(Endpoint::PasskeyRegisterFinish, response, "a used ceremony");
    let response = app.call_raw(Endpoint::Passkeys, list()).await;
    let listed = contract.check(Endpoint::Passkeys, response, "one");
    assert_eq!(
        listed["passkeys"][0]["last_used_at"],
        Value::Null,
        "{listed}"
    );

    // A sign-in with it, at aal2; its assertion replayed is refused.
    let credential = credential_id(&app, passkey).await;
    let signin_start = || json_post(Endpoint::PasskeySigninStart, &json!({}));
    let response = app
        .call_raw(Endpoint::PasskeySigninStart, signin_start())
        .await;
    let started = ceremony_of(&contract.check(Endpoint::PasskeySigninStart, response, "success"));
    let assertion = json!({
        "ceremony_id": started.ceremony_id,
        "credential": assert_with(&mut key, &started, &credential, ada),
    });
    for why in ["success", "a used ceremony"] {
        let response = app
            .call_raw(
                Endpoint::PasskeySigninFinish,
                json_post(Endpoint::PasskeySigninFinish, &assertion),
            )
            .await;
        let answer = contract.check(Endpoint::PasskeySigninFinish, response, why);
        if why == "success" {
            let claims = jwt_part(answer["access_token"].as_str().unwrap(), 1);
            assert_eq!(
                (&claims["aal"], &claims["amr"]),
                (&json!("aal2"), &json!(["webauthn"]))
            );
        }
    }

    // The limit: 19 passkeys (copies of the real one's row under new credential ids, a
    // shortcut past 18 more ceremonies), two starts, the first finish reaching 20.
    app.db
        .execute(
            "INSERT INTO passkeys (user_id, credential_id, passkey, name)
             SELECT user_id, uuid_send(gen_random_uuid()), passkey, 'Copy'
               FROM passkeys, generate_series(1, 18)",
            &[],
        )
        .await
        .unwrap();
    let mut starts = Vec::new();
    for _ in 0..2 {
        let response = app.call_raw(Endpoint::PasskeyRegisterStart, start()).await;
        starts.push(ceremony_of(&contract.check(
            Endpoint::PasskeyRegisterStart,
            response,
            "the 20th",
        )));
    }
    for (started, why) in starts.iter().zip(["the 20th", "the 21st"]) {
        let response = app
            .call_raw(
                Endpoint::PasskeyRegisterFinish,
                finish(started, &mut SoftPasskey::new(true), why),
            )
            .await;
        contract.check(Endpoint::PasskeyRegisterFinish, response, why);
    }
    let response = app.call_raw(Endpoint::PasskeyRegisterStart, start()).await;
    contract.check(Endpoint::PasskeyRegisterStart, response, "at the limit");

    // Removal: the copies by SQL, the real one through the endpoint; unknown ids and ids that
    // are no UUID are the same 404.
    app.db
        .execute("DELETE FROM passkeys WHERE name = 'Copy'", &[])
        .await
        .unwrap();
    let authorization = format!("Bearer {access}");
    let delete = |id: &str| {
        request_with_token(
            Endpoint::DeletePasskey,
            id,
            Method::DELETE,
            &[("authorization", &authorization)],
            Body::Empty,
        )
    };
    for (request, why) in [
        (bearer(Endpoint::DeletePasskey, &access), "unknown id"),
        (delete("not-a-uuid"), "not a uuid"),
        (delete(&passkey.to_string()), "success"),
        (delete(&passkey.to_string()), "removed already"),
    ] {
        let response = app.call_raw(Endpoint::DeletePasskey, request).await;
        contract.check(Endpoint::DeletePasskey, response, why);
    }

    // A passkey of an account that may not sign in.
    let response = app.call_raw(Endpoint::PasskeyRegisterStart, start()).await;
    let started = ceremony_of(&contract.check(Endpoint::PasskeyRegisterStart, response, "success"));
    let mut key = SoftPasskey::new(true);
    let response = app
        .call_raw(
            Endpoint::PasskeyRegisterFinish,
            finish(&started, &mut key, "Phone"),
        )
        .await;
    let added = contract.check(Endpoint::PasskeyRegisterFinish, response, "success");
    let passkey: Uuid = added["passkey"]["id"].as_str().unwrap().parse().unwrap();
    let credential = credential_id(&app, passkey).await;
    // Refused once the passkey is proven: an unconfirmed address as sign-in refuses it, then an
    // account an operator disabled.
    for (change, why) in [
        (
            "UPDATE users SET email_verified_at = NULL",
            "unconfirmed address",
        ),
        (
            "UPDATE users SET email_verified_at = now(), disabled_at = now()",
            "a disabled account",
        ),
    ] {
        app.db.execute(change, &[]).await.unwrap();
        let response = app
            .call_raw(Endpoint::PasskeySigninStart, signin_start())
            .await;
        let started =
            ceremony_of(&contract.check(Endpoint::PasskeySigninStart, response, "success"));
        let assertion = json!({
            "ceremony_id": started.ceremony_id,
            "credential": assert_with(&mut key, &started, &credential, ada),
        });
        let response = app
            .call_raw(
                Endpoint::PasskeySigninFinish,
                json_post(Endpoint::PasskeySigninFinish, &assertion),
            )
            .await;
        contract.check(Endpoint::PasskeySigninFinish, response, why);
    }
}

/// 429 `rate_limited` once a client IP has spent its budget, on each endpoint that has one.
async fn exercise_spent_budgets(contract: &mut Contract) {
    let app = TestApp::spawn_with(&[
        ("RATE_LIMIT_SIGNUP", "1"),
        ("RATE_LIMIT_SIGNIN", "1"),
        ("RATE_LIMIT_FORGOT_PASSWORD", "1"),
        ("RATE_LIMIT_PASSKEY_SIGNIN", "1"),
    ])
    .await;
    let email = "jane@example.com";
    let requests = [
        (
            Endpoint::Signup,
            json!({"name": "Jane", "email": email, "password": PASSWORD}),
        ),
        (
            Endpoint::Signin,
            json!({"email": email, "password": PASSWORD}),
        ),
        (Endpoint::ForgotPassword, json!({"email": email})),
        // Sign-up's budget, counted apart.
        (Endpoint::ResendVerification, json!({"email": email})),
        (Endpoint::PasskeySigninStart, json!({})),
    ];
    for (endpoint, body) in requests {
        for why in ["within the budget", "budget spent"] {
            let response = app.call_raw(endpoint, json_post(endpoint, &body)).await;
            contract.check(endpoint, response, why);
        }
    }

    // The password checks of the account endpoints count toward the sign-in budget: an account
    // made and signed in from other addresses, then each endpoint from the spent one.
    let kim = "kim@example.com";
    let signup = json!({"name": "Kim", "email": kim, "password": PASSWORD});
    let response = app
        .call(
            Endpoint::Signup,
            from_client(json_post(Endpoint::Signup, &signup), "198.51.100.1", "test"),
        )
        .await;
    response.assert_status(lambda_http::http::StatusCode::ACCEPTED);
    let token = app.verification_token_from_outbox(kim).await;
    app.verify_email(&json!({ "token": token }))
        .await
        .assert_status(lambda_http::http::StatusCode::OK);
    let access = app
        .signin_from("198.51.100.2", kim, PASSWORD)
        .await
        .str("access_token");
    for (endpoint, body) in [
        (
            Endpoint::ChangePassword,
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        ),
        (
            Endpoint::ChangeEmail,
            json!({"password": PASSWORD, "new_email": "kim.new@example.com"}),
        ),
        (Endpoint::DeleteAccount, json!({"password": PASSWORD})),
    ] {
        let response = app
            .call_raw(endpoint, bearer_json(endpoint, &access, &body))
            .await;
        contract.check(endpoint, response, "sign-in budget spent");
    }
}

/// A valid request to each database endpoint; `access` and `refresh` are tokens the app issued.
fn valid_database_requests(access: &str, refresh: &str) -> Vec<(Endpoint, Request)> {
    let email = "jane@example.com";
    let someone = Uuid::new_v4().to_string();
    let admin =
        admin_routes().map(|endpoint| (endpoint, admin_call(endpoint, &someone, &[], Some(ADMIN))));
    admin
        .chain([
        (
            Endpoint::Introspect,
            introspection(
                Some(INTROSPECTION_CLIENT),
                "application/x-www-form-urlencoded",
                format!("token={access}"),
            ),
        ),
        (
            Endpoint::Signup,
            json_post(
                Endpoint::Signup,
                &json!({"name": "Joe", "email": "joe@example.com", "password": PASSWORD}),
            ),
        ),
        (
            Endpoint::Signin,
            json_post(
                Endpoint::Signin,
                &json!({"email": email, "password": PASSWORD}),
            ),
        ),
        (Endpoint::Refresh, bearer(Endpoint::Refresh, refresh)),
        (Endpoint::Dashboard, bearer(Endpoint::Dashboard, access)),
        (Endpoint::Sessions, bearer(Endpoint::Sessions, access)),
        (Endpoint::EndSession, bearer(Endpoint::EndSession, access)),
        (Endpoint::Logout, bearer(Endpoint::Logout, access)),
        (
            Endpoint::ForgotPassword,
            json_post(Endpoint::ForgotPassword, &json!({"email": email})),
        ),
        (
            Endpoint::ResetPassword,
            json_post(Endpoint::ResetPassword, &json!({"password": PASSWORD})),
        ),
        (
            Endpoint::VerifyEmail,
            json_post(Endpoint::VerifyEmail, &json!({"token": "some-token"})),
        ),
        (
            Endpoint::ResendVerification,
            json_post(Endpoint::ResendVerification, &json!({"email": email})),
        ),
        (
            Endpoint::ChangePassword,
            bearer_json(
                Endpoint::ChangePassword,
                access,
                &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
            ),
        ),
        (
            Endpoint::ChangeEmail,
            bearer_json(
                Endpoint::ChangeEmail,
                access,
                &json!({"password": PASSWORD, "new_email": "joe@example.com"}),
            ),
        ),
        (
            Endpoint::DeleteAccount,
            bearer_json(
                Endpoint::DeleteAccount,
                access,
                &json!({"password": PASSWORD}),
            ),
        ),
        (Endpoint::MfaEnroll, bearer(Endpoint::MfaEnroll, access)),
        (
            Endpoint::MfaConfirm,
            bearer_json(Endpoint::MfaConfirm, access, &json!({"code": "123456"})),
        ),
        (
            Endpoint::MfaVerify,
            json_post(
                Endpoint::MfaVerify,
                &json!({"mfa_token": "some-token", "code": "123456"}),
            ),
        ),
        (
            Endpoint::MfaDisable,
            bearer_json(Endpoint::MfaDisable, access, &json!({"code": "123456"})),
        ),
        (
            Endpoint::MfaRecoveryCodes,
            bearer(Endpoint::MfaRecoveryCodes, access),
        ),
        (Endpoint::MfaStatus, bearer(Endpoint::MfaStatus, access)),
        (
            Endpoint::PasskeyRegisterStart,
            bearer(Endpoint::PasskeyRegisterStart, access),
        ),
        (
            Endpoint::PasskeyRegisterFinish,
            bearer_json(
                Endpoint::PasskeyRegisterFinish,
                access,
                &json!({"ceremony_id": Uuid::new_v4(), "credential": parseable_assertion()}),
            ),
        ),
        (Endpoint::Passkeys, bearer(Endpoint::Passkeys, access)),
        (
            Endpoint::DeletePasskey,
            bearer(Endpoint::DeletePasskey, access),
        ),
        (
            Endpoint::PasskeySigninStart,
            json_post(Endpoint::PasskeySigninStart, &json!({})),
        ),
        (
            Endpoint::PasskeySigninFinish,
            json_post(
                Endpoint::PasskeySigninFinish,
                &json!({"ceremony_id": Uuid::new_v4(), "credential": parseable_assertion()}),
            ),
        ),
        (
            Endpoint::OauthAuthorize,
            provider_get(
                Endpoint::OauthAuthorize,
                "local",
                &[
                    ("redirect_to", APP_CALLBACK),
                    ("code_challenge", &app_pkce().1),
                    ("code_challenge_method", "S256"),
                ],
            ),
        ),
        (
            Endpoint::OauthCallback,
            provider_get(
                Endpoint::OauthCallback,
                "local",
                // Shaped as ours (43 base64url characters), so that it reaches the database.
                &[("code", "some-code"), ("state", &"s".repeat(43))],
            ),
        ),
        (
            Endpoint::OauthCallbackForm,
            provider_form(
                "local",
                "application/x-www-form-urlencoded",
                format!("code=some-code&state={}", "s".repeat(43)),
            ),
        ),
        (
            Endpoint::OauthToken,
            json_post(
                Endpoint::OauthToken,
                &json!({"code": "some-code", "code_verifier": app_pkce().0}),
            ),
        ),
        (Endpoint::Identities, bearer(Endpoint::Identities, access)),
        (
            Endpoint::DeleteIdentity,
            bearer(Endpoint::DeleteIdentity, access),
        ),
        ])
        .collect()
}

/// A GET of a provider route as API Gateway delivers it: `{provider}` and the query parsed.
fn provider_get(endpoint: Endpoint, provider: &str, query: &[(&str, &str)]) -> Request {
    let path = endpoint.path().replace("{provider}", provider);
    let query: HashMap<String, String> = query
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let request: Request = lambda_http::http::Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::Empty)
        .unwrap();
    request
        .with_path_parameters(HashMap::from([(
            "provider".to_owned(),
            provider.to_owned(),
        )]))
        .with_query_string_parameters(query)
}

/// A provider's form post to the callback, as API Gateway delivers it: `{provider}` and the body.
fn provider_form(provider: &str, content_type: &str, body: String) -> Request {
    let path = Endpoint::OauthCallbackForm
        .path()
        .replace("{provider}", provider);
    let request: Request = lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", content_type)
        .body(Body::Text(body))
        .unwrap();
    request.with_path_parameters(HashMap::from([(
        "provider".to_owned(),
        provider.to_owned(),
    )]))
}

/// Form fields as a browser encodes them.
fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// An introspection request with HTTP Basic `credentials` (`id:secret`) and a form body.
fn introspection(credentials: Option<&str>, content_type: &str, body: String) -> Request {
    use base64::Engine as _;
    let mut builder = lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri(Endpoint::Introspect.path())
        .header("content-type", content_type);
    if let Some(credentials) = credentials {
        builder = builder.header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        );
    }
    builder.body(Body::Text(body)).unwrap()
}

const INTROSPECTION_CLIENT: &str = "contract:contract-secret-0123456789abcdef012345";

/// Token introspection: an active token, an inactive one, and each refusal.
/// The admin API's local bearer in the contract's apps.
const ADMIN: &str = "contract-admin-token-0123456789abcdef0123";

/// Marks an account disabled (or not) as the admin API does, for the sign-in routes' 403.
async fn set_disabled(app: &TestApp, email: &str, disabled: bool) {
    app.db
        .execute(
            "UPDATE users SET disabled_at = CASE WHEN $2 THEN now() END WHERE email = $1",
            &[&email, &disabled],
        )
        .await
        .unwrap();
}

/// An admin request: `{id}` filled in (anywhere in the path), the query parsed as API Gateway
/// does, the bearer given.
fn admin_call(
    endpoint: Endpoint,
    id: &str,
    query: &[(&str, &str)],
    token: Option<&str>,
) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(endpoint.method().unwrap())
        .uri(endpoint.path().replace("{id}", id));
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let query: HashMap<String, String> = query
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let request: Request = builder.body(Body::Empty).unwrap();
    let request = request.with_query_string_parameters(query);
    match endpoint.path().contains("{id}") {
        true => request.with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())])),
        false => request,
    }
}

/// The admin API's routes, from the route table.
fn admin_routes() -> impl Iterator<Item = Endpoint> {
    Endpoint::ALL
        .into_iter()
        .filter(|endpoint| endpoint.is_admin())
}

/// Every admin route: refused without the local token (and in AWS without an IAM identity),
/// an unknown account, bad query parameters, and each action on a real account — whose
/// password sign-in then meets the disable.
async fn exercise_the_admin_api(contract: &mut Contract) {
    let app = TestApp::spawn_with(&[("ADMIN_TOKEN", ADMIN)]).await;
    let email = "jane@example.com";
    let jane = app.signed_in_user(email).await;
    let id = jane.body["user"]["id"].as_str().unwrap().to_owned();
    let unknown = Uuid::new_v4().to_string();
    let admin = Some(ADMIN);
    for endpoint in admin_routes() {
        for (request, why) in [
            (admin_call(endpoint, &id, &[], None), "no admin token"),
            (
                admin_call(
                    endpoint,
                    &id,
                    &[],
                    Some("a-wrong-admin-token-0123456789abcdef"),
                ),
                "a wrong admin token",
            ),
        ] {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
        if endpoint.path().contains("{id}") {
            let response = app
                .call_raw(endpoint, admin_call(endpoint, &unknown, &[], admin))
                .await;
            contract.check(endpoint, response, "an unknown account");
        }
    }
    for (endpoint, query, why) in [
        (
            Endpoint::AdminListUsers,
            vec![("email", "JANE@")],
            "success",
        ),
        (
            Endpoint::AdminListUsers,
            vec![("limit", "0")],
            "a bad limit",
        ),
        (
            Endpoint::AdminAudit,
            vec![("user_id", id.as_str())],
            "success",
        ),
        (Endpoint::AdminAudit, vec![("after", "0")], "a bad cursor"),
        (Endpoint::AdminGetUser, vec![], "success"),
        (Endpoint::AdminDisableUser, vec![], "success"),
    ] {
        let response = app
            .call_raw(endpoint, admin_call(endpoint, &id, &query, admin))
            .await;
        contract.check(endpoint, response, why);
    }
    let response = app
        .call_raw(
            Endpoint::Signin,
            json_post(
                Endpoint::Signin,
                &json!({"email": email, "password": PASSWORD}),
            ),
        )
        .await;
    contract.check(Endpoint::Signin, response, "a disabled account");
    for endpoint in [
        Endpoint::AdminEnableUser,
        Endpoint::AdminRevokeSessions,
        Endpoint::AdminResetMfa,
        Endpoint::AdminDeleteUser,
    ] {
        let response = app
            .call_raw(endpoint, admin_call(endpoint, &id, &[], admin))
            .await;
        contract.check(endpoint, response, "success");
    }

    // As in AWS (no ADMIN_TOKEN): a request API Gateway did not authorize with IAM.
    let aws = TestApp::spawn().await;
    for endpoint in admin_routes() {
        let response = aws
            .call_raw(endpoint, admin_call(endpoint, &id, &[], admin))
            .await;
        contract.check(endpoint, response, "no IAM identity");
    }
}

async fn exercise_introspection(contract: &mut Contract) {
    let app = TestApp::spawn_with(&[("INTROSPECTION_CLIENTS", INTROSPECTION_CLIENT)]).await;
    let access = app.signed_in_access_token("introspected@example.com").await;
    const FORM: &str = "application/x-www-form-urlencoded";
    let client = Some(INTROSPECTION_CLIENT);
    for (request, why) in [
        (
            introspection(client, FORM, format!("token={access}")),
            "success",
        ),
        (
            introspection(client, FORM, "token=garbage".into()),
            "an inactive token",
        ),
        (introspection(client, FORM, String::new()), "no token"),
        (
            introspection(None, FORM, format!("token={access}")),
            "no client",
        ),
        (
            introspection(Some("contract:wrong"), FORM, format!("token={access}")),
            "a wrong secret",
        ),
        (
            introspection(client, "application/json", format!("token={access}")),
            "not a form",
        ),
        (
            introspection(client, FORM, "x".repeat(MAX_BODY_BYTES + 1)),
            "oversize",
        ),
    ] {
        let response = app.call_raw(Endpoint::Introspect, request).await;
        contract.check(Endpoint::Introspect, response, why);
    }
}

/// An authorize request: provider, query, why.
type AuthorizeCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// A provider sign-in: each refusal of the three provider steps, the whole journey over HTTP,
/// and the linked identities (listed, the last one kept, one unlinked).
async fn exercise_providers(contract: &mut Contract) {
    let (app, _provider) = app_with_provider().await;
    let (verifier, challenge) = app_pkce();
    let evil = "https://evil.example.com/cb";
    let good = [
        ("redirect_to", APP_CALLBACK),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let cases: [AuthorizeCase; 5] = [
        (
            "local",
            &[
                ("redirect_to", evil),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            "an off-list redirect_to",
        ),
        ("nobody", &good, "an unknown provider"),
        (
            "local",
            &[
                ("redirect_to", APP_CALLBACK),
                ("code_challenge", &challenge),
                ("code_challenge_method", "plain"),
            ],
            "plain PKCE",
        ),
        ("local", &good[1..], "no redirect_to"),
        ("local", &good, "success"),
    ];
    let mut at_provider = String::new();
    for (provider, query, why) in cases {
        let response = app
            .call_raw(
                Endpoint::OauthAuthorize,
                provider_get(Endpoint::OauthAuthorize, provider, query),
            )
            .await;
        let answer = contract.check(Endpoint::OauthAuthorize, response, why);
        if why == "success" {
            at_provider = answer.as_str().unwrap().to_owned();
        }
    }

    let response = app
        .call_raw(
            Endpoint::OauthCallback,
            provider_get(
                Endpoint::OauthCallback,
                "local",
                &[("code", "x"), ("state", "forged-state")],
            ),
        )
        .await;
    contract.check(Endpoint::OauthCallback, response, "a forged state");
    let alice = person("alice", "alice@example.com", true);
    let query = sign_in_at_provider(&at_provider, PROVIDER_CALLBACK, &alice).await;
    let response = app
        .call_raw(
            Endpoint::OauthCallback,
            provider_get(Endpoint::OauthCallback, "local", &pairs(&query)),
        )
        .await;
    let back = contract.check(Endpoint::OauthCallback, response, "success");
    let code = back
        .as_str()
        .unwrap()
        .strip_prefix(&format!("{APP_CALLBACK}?code="))
        .unwrap_or_else(|| panic!("back at the app with a code: {back}"))
        .to_owned();

    // The same callback as a form post (a provider with response_mode=form_post): each refusal,
    // then a second sign-in delivered that way.
    const FORM: &str = "application/x-www-form-urlencoded";
    let forged = form_body(&[("code", "x"), ("state", &"f".repeat(43))]);
    for (request, why) in [
        (
            provider_form("local", "application/json", forged.clone()),
            "not a form",
        ),
        (
            provider_form("local", FORM, "x".repeat(MAX_BODY_BYTES + 1)),
            "oversize",
        ),
        (provider_form("local", FORM, forged), "a forged state"),
    ] {
        let response = app.call_raw(Endpoint::OauthCallbackForm, request).await;
        contract.check(Endpoint::OauthCallbackForm, response, why);
    }
    let (_, second_challenge) = app_pkce();
    let second = [
        ("redirect_to", APP_CALLBACK),
        ("code_challenge", second_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = app
        .call_raw(
            Endpoint::OauthAuthorize,
            provider_get(Endpoint::OauthAuthorize, "local", &second),
        )
        .await;
    let at_provider = contract
        .check(Endpoint::OauthAuthorize, response, "success")
        .as_str()
        .unwrap()
        .to_owned();
    let fields = sign_in_at_provider(&at_provider, PROVIDER_CALLBACK, &alice).await;
    let response = app
        .call_raw(
            Endpoint::OauthCallbackForm,
            provider_form("local", FORM, form_body(&pairs(&fields))),
        )
        .await;
    let back = contract.check(Endpoint::OauthCallbackForm, response, "success");
    assert!(
        back.as_str()
            .unwrap()
            .starts_with(&format!("{APP_CALLBACK}?code=")),
        "{back}"
    );

    let oversize = json!({"code": "x".repeat(MAX_BODY_BYTES)}).to_string();
    let token = |body: Value| json_post(Endpoint::OauthToken, &body);
    let exchange = json!({"code": code, "code_verifier": verifier});
    let mut access = String::new();
    for (request, why) in [
        (
            request(Endpoint::OauthToken, Method::POST, &[], "{}"),
            "no content type",
        ),
        (
            request(Endpoint::OauthToken, Method::POST, &[JSON], oversize),
            "oversize",
        ),
        (
            request(Endpoint::OauthToken, Method::POST, &[JSON], "{"),
            "bad JSON",
        ),
        (
            request(Endpoint::OauthToken, Method::POST, &[JSON], "[1]"),
            "not an object",
        ),
        (
            token(json!({"code": 1, "code_verifier": verifier})),
            "a code that is not a string",
        ),
        (token(json!({"code_verifier": verifier})), "no code"),
        (token(json!({"code": code})), "no verifier"),
        (token(exchange.clone()), "success"),
        (token(exchange), "a used code"),
    ] {
        let response = app.call_raw(Endpoint::OauthToken, request).await;
        let answer = contract.check(Endpoint::OauthToken, response, why);
        if why == "success" {
            assert_eq!(answer["message"], "Sign-in successful", "{answer}");
            access = answer["access_token"].as_str().unwrap().to_owned();
        }
    }
    let session = app
        .call_raw(
            Endpoint::OauthToken,
            json_post(
                Endpoint::OauthToken,
                &json!({"code": "never-issued", "code_verifier": app_pkce().0}),
            ),
        )
        .await;
    contract.check(Endpoint::OauthToken, session, "an unknown code");
    // A code the callback issued to an account an operator disabled before it was exchanged.
    let (disabled_verifier, disabled_challenge) = app_pkce();
    app.db
        .execute(
            "WITH jane AS (
                 UPDATE users SET disabled_at = now()
                 WHERE id = (SELECT user_id FROM oauth_identities LIMIT 1) RETURNING id)
             INSERT INTO oauth_codes (code_hash, user_id, provider, code_challenge, provider_mfa,
                                      expires_at)
             SELECT sha256('disabled-code'), id, 'local', $1, false, now() + interval '1 minute'
             FROM jane",
            &[&disabled_challenge],
        )
        .await
        .unwrap();
    let response = app
        .call_raw(
            Endpoint::OauthToken,
            json_post(
                Endpoint::OauthToken,
                &json!({"code": "disabled-code", "code_verifier": disabled_verifier}),
            ),
        )
        .await;
    contract.check(Endpoint::OauthToken, response, "a disabled account");
    app.db
        .execute("UPDATE users SET disabled_at = NULL", &[])
        .await
        .unwrap();

    let expired_base = app.signed_in_access_token("bob@example.com").await;
    let expired = expired_copy_of(&expired_base);
    for endpoint in [Endpoint::Identities, Endpoint::DeleteIdentity] {
        let call = |token: Option<&str>| match token {
            None => request(endpoint, endpoint.method().unwrap(), &[], Body::Empty),
            Some(token) => bearer(endpoint, token),
        };
        for (request, why) in [
            (call(None), "no token"),
            (call(Some("garbage")), "garbage token"),
            (call(Some(&expired)), "expired token"),
        ] {
            let response = app.call_raw(endpoint, request).await;
            contract.check(endpoint, response, why);
        }
    }

    // The journey's account: passwordless, its identity its only way in.
    let response = app
        .call_raw(Endpoint::Identities, bearer(Endpoint::Identities, &access))
        .await;
    let listed = contract.check(Endpoint::Identities, response, "success");
    let id = listed["identities"][0]["id"].as_str().unwrap().to_owned();
    let unlink = || {
        request_with_token(
            Endpoint::DeleteIdentity,
            &id,
            Method::DELETE,
            &[("authorization", &format!("Bearer {access}"))],
            Body::Empty,
        )
    };
    let response = app
        .call_raw(
            Endpoint::DeleteIdentity,
            bearer(Endpoint::DeleteIdentity, &access),
        )
        .await;
    contract.check(Endpoint::DeleteIdentity, response, "unknown id");
    let response = app.call_raw(Endpoint::DeleteIdentity, unlink()).await;
    contract.check(Endpoint::DeleteIdentity, response, "the last way in");
    // A passkey is a way in too.
    app.db
        .execute(
            "INSERT INTO passkeys (user_id, credential_id, passkey, name)
             SELECT id, '\\x01', '{}', 'Phone' FROM users WHERE email = 'alice@example.com'",
            &[],
        )
        .await
        .unwrap();
    let response = app.call_raw(Endpoint::DeleteIdentity, unlink()).await;
    contract.check(Endpoint::DeleteIdentity, response, "success");
    // Now the passkey is the passwordless account's last way in: it stays.
    let passkey: uuid::Uuid = app
        .db
        .query_one("SELECT id FROM passkeys WHERE name = 'Phone'", &[])
        .await
        .unwrap()
        .get(0);
    let response = app
        .call_raw(
            Endpoint::DeletePasskey,
            request_with_token(
                Endpoint::DeletePasskey,
                &passkey.to_string(),
                Method::DELETE,
                &[("authorization", &format!("Bearer {access}"))],
                Body::Empty,
            ),
        )
        .await;
    contract.check(Endpoint::DeletePasskey, response, "the last way in");
}

/// A credential shaped as an assertion that parses (so the finish reaches the database), whose
/// bytes prove nothing.
fn parseable_assertion() -> Value {
    json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {
        "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA",
        "userHandle": null}})
}

/// 503 from every database endpoint when the database cannot be reached.
async fn exercise_an_unreachable_database(contract: &mut Contract) {
    let port = testkit::ports::free_port().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/x");
    // A provider configured and running, so its routes reach the database.
    let (_scratch, provider) = app_with_provider().await;
    let issuer = provider.issuer();
    let config = testkit::config::load(
        &url,
        &[
            ("DB_POOL_SIZE", "1"),
            ("OIDC_PROVIDERS", "local"),
            ("OIDC_LOCAL_ISSUER", &issuer),
            ("OIDC_LOCAL_CLIENT_ID", "test-client"),
            ("OIDC_LOCAL_CLIENT_SECRET", "test-secret"),
            ("OAUTH_REDIRECT_ALLOWLIST", APP_CALLBACK),
            ("API_PUBLIC_URL", "http://127.0.0.1:9"),
            ("INTROSPECTION_CLIENTS", INTROSPECTION_CLIENT),
            ("ADMIN_TOKEN", ADMIN),
        ],
    )
    .await;
    let app = TestApp::unreachable(config).await;
    let access = app
        .app
        .tokens()
        .unwrap()
        .issue(
            UserId::from_uuid(Uuid::new_v4()),
            Uuid::new_v4(),
            true,
            &auth::domain::Assurance::password(),
        )
        .unwrap()
        .token
        .expose_secret()
        .to_owned();
    for (endpoint, request) in valid_database_requests(&access, "some-refresh-token") {
        let response = app.call_raw(endpoint, request).await;
        contract.check(endpoint, response, "unreachable database");
    }
}

/// 500 from every database endpoint when the schema is broken.
async fn exercise_a_broken_database(contract: &mut Contract) {
    let (app, _provider) = app_with_provider_set(
        &[],
        &[
            ("INTROSPECTION_CLIENTS", INTROSPECTION_CLIENT),
            ("ADMIN_TOKEN", ADMIN),
        ],
    )
    .await;
    let session = app.signed_in_user("jane@example.com").await;
    app.db
        .batch_execute(
            "DROP TABLE users, sessions, refresh_tokens, revoked_tokens, reset_tokens, \
             email_outbox, webauthn_ceremonies, oauth_flows, oauth_codes, auth_events CASCADE",
        )
        .await
        .unwrap();
    let requests =
        valid_database_requests(&session.str("access_token"), &session.str("refresh_token"));
    for (endpoint, request) in requests {
        let response = app.call_raw(endpoint, request).await;
        contract.check(endpoint, response, "broken database");
    }
}

#[tokio::test]
async fn real_responses_match_the_document_and_cover_every_documented_status_and_code() {
    let mut contract = Contract::default();

    // Boxed: in debug builds the futures are too big for a test thread's stack.
    Box::pin(exercise_a_working_api(&mut contract)).await;
    Box::pin(exercise_signup_without_verification(&mut contract)).await;
    Box::pin(exercise_the_account_endpoints(&mut contract)).await;
    Box::pin(exercise_the_second_factor(&mut contract)).await;
    Box::pin(exercise_passkeys(&mut contract)).await;
    Box::pin(exercise_providers(&mut contract)).await;
    Box::pin(exercise_introspection(&mut contract)).await;
    Box::pin(exercise_the_admin_api(&mut contract)).await;
    Box::pin(exercise_spent_budgets(&mut contract)).await;
    Box::pin(exercise_an_unreachable_database(&mut contract)).await;
    Box::pin(exercise_a_broken_database(&mut contract)).await;

    contract.assert_complete();
}

#[tokio::test]
async fn the_catch_all_answers_the_documented_not_found_response() {
    let documented = &DOC["components"]["responses"]["NotFound"];
    let examples = json_examples(resolve(documented));
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let request = lambda_http::http::Request::builder()
            .method(method.clone())
            .uri("/no/such/path")
            .body(Body::Empty)
            .unwrap();
        let response = respond(Endpoint::NotFound.route(), State::None, request).await;
        assert_eq!(response.status(), 404);
        let Body::Text(text) = response.into_body() else {
            panic!("a text body")
        };
        let body: Value = serde_json::from_str(&text).unwrap();
        validate(
            &resolve(documented)["content"]["application/json"]["schema"],
            &body,
            "not found",
        )
        .unwrap();
        assert!(
            examples.contains(&&body),
            "{body} is the documented example"
        );
    }
    assert!(
        DOC["info"]["description"]
            .as_str()
            .unwrap()
            .contains("/{*proxy}"),
        "the description mentions the catch-all"
    );
}
