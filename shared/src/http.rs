//! The HTTP edge: reading JSON bodies, query strings and bearer tokens from a Lambda request,
//! writing JSON responses and redirects, and rendering an [`ApiError`] as one.

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::domain::{ClientInfo, MAX_USER_AGENT_CHARS};
use crate::error::ApiError;

/// Largest request body accepted; anything bigger is refused before parsing or hashing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A request body that was checked to be a JSON object of acceptable size and media type.
#[derive(Debug)]
pub struct JsonBody(Map<String, Value>);

impl JsonBody {
    /// Checks `Content-Type`, size and syntax, in that order, so oversize bodies are never parsed.
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        if !is_media_type(request, "application/json") {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let bytes: &[u8] = request.body().as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(map)),
            Ok(_) => Err(ApiError::InvalidJson(
                "Request body must be a JSON object".into(),
            )),
            Err(_) => Err(ApiError::InvalidJson(
                "Request body is not valid JSON".into(),
            )),
        }
    }

    /// A required string field; absent, `null` or blank is `missing_field`, a non-string `invalid_json`.
    ///
    /// The value is returned untrimmed: each domain type decides how to treat whitespace.
    pub fn required(&self, field: &'static str) -> Result<&str, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Err(ApiError::MissingField(field)),
            Some(Value::String(s)) if s.trim().is_empty() => Err(ApiError::MissingField(field)),
            Some(Value::String(s)) => Ok(s),
            // The offending value is never echoed back: it may be a mistyped password.
            Some(_) => Err(ApiError::InvalidJson(
                format!("Field '{field}' must be a string").into(),
            )),
        }
    }

    /// A required JSON object field (a WebAuthn credential): absent or `null` is `missing_field`,
    /// anything but an object `invalid_json`.
    pub fn required_object(&self, field: &'static str) -> Result<Value, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Err(ApiError::MissingField(field)),
            Some(object @ Value::Object(_)) => Ok(object.clone()),
            Some(_) => Err(ApiError::InvalidJson(
                format!("Field '{field}' must be a JSON object").into(),
            )),
        }
    }

    /// An optional string field: absent or `null` is `None`; a non-string is `invalid_json`.
    pub fn optional(&self, field: &'static str) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::InvalidJson(
                format!("Field '{field}' must be a string").into(),
            )),
        }
    }
}

/// A request's query string parameters, as API Gateway (and `cargo lambda watch`) parse them.
#[derive(Debug, Default)]
pub struct Query(QueryMap);

impl Query {
    /// The request's parameters; none when it has no query string.
    pub fn from_request(request: &Request) -> Self {
        Query(request.query_string_parameters())
    }

    /// The fields of a form a provider had the browser post (`response_mode=form_post`), read
    /// as a query string is: `Content-Type` first (415 for any other than
    /// `application/x-www-form-urlencoded`), then the size (413), so oversize bodies are never
    /// parsed.
    pub fn from_form(request: &Request) -> Result<Self, ApiError> {
        const FORM: &str = "application/x-www-form-urlencoded";
        if !is_media_type(request, FORM) {
            return Err(ApiError::UnsupportedMediaType(FORM));
        }
        let bytes: &[u8] = request.body().as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        // Percent-decoding works on bytes; a stray invalid byte only spoils its own field.
        Ok(Query::parse(&String::from_utf8_lossy(bytes)))
    }

    /// Parameters from a raw query string (`a=1&b=2`, percent-encoded), as a browser sends it.
    pub fn parse(raw: &str) -> Self {
        match raw.parse::<QueryMap>() {
            Ok(map) => Query(map),
            Err(never) => match never {},
        }
    }

    /// An optional parameter: its first value, or `None` when absent. Untrimmed, as
    /// [`JsonBody::optional`]: the domain types decide.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0.first(name)
    }

    /// A required parameter: absent or blank is `missing_field`, as a JSON body's field.
    pub fn required(&self, name: &'static str) -> Result<&str, ApiError> {
        match self.optional(name) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(ApiError::MissingField(name)),
        }
    }
}

/// Whether the request's `Content-Type` is `expected`, parameters (`; charset=…`) aside.
fn is_media_type(request: &Request, expected: &str) -> bool {
    let Some(value) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(expected)
}

/// The bearer token of the `Authorization` header (RFC 6750 §2.1); any other form is `missing_token`.
pub fn bearer_token(request: &Request) -> Result<SecretString, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::MissingToken)?;
    bearer_of(value)
}

/// The token of one `Authorization` header value, `Bearer <token>` (any letter case of the
/// scheme); anything else is `missing_token`.
pub fn bearer_of(value: &str) -> Result<SecretString, ApiError> {
    let (scheme, token) = value.trim().split_once(' ').ok_or(ApiError::MissingToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::MissingToken);
    }
    Ok(SecretString::from(token))
}

/// The client id and secret of an `Authorization: Basic` header (RFC 7617): base64 of
/// `id:secret`, each part form-urlencoded first as RFC 6749 §2.3.1 asks; `None` for anything
/// else (no header, another scheme, bad base64, no colon, not UTF-8).
pub fn basic_credentials(request: &Request) -> Option<(String, SecretString)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    basic_of(value)
}

/// [`basic_credentials`] of one header value.
pub fn basic_of(value: &str) -> Option<(String, SecretString)> {
    use base64::Engine as _;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| -> String {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), SecretString::from(unescape(secret))))
}

/// A path parameter such as `{token}`; API Gateway and `cargo lambda watch` both fill these in.
pub fn path_parameter(request: &Request, name: &str) -> Option<String> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

/// A path parameter that is a UUID (a passkey's, an identity's); `None` for anything else, which
/// the caller answers as its "no such thing".
pub fn uuid_path_parameter(request: &Request, name: &str) -> Option<uuid::Uuid> {
    path_parameter(request, name).and_then(|id| uuid::Uuid::parse_str(&id).ok())
}

/// What a Lambda authorizer passed on for this request (`requestContext.authorizer.lambda` of an
/// HTTP API, filled in by API Gateway: a client cannot set it).
pub fn authorizer_context(
    request: &Request,
) -> Option<std::collections::HashMap<String, serde_json::Value>> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => Some(context.authorizer.as_ref()?.fields.clone()),
        _ => None,
    }
}

/// The IAM caller of a request API Gateway authorized with SigV4 (`AWS_IAM` routes): the ARN
/// in `requestContext.authorizer.iam.userArn`, filled in by API Gateway (a client cannot set it).
pub fn iam_caller(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => {
            context.authorizer.as_ref()?.iam.as_ref()?.user_arn.clone()
        }
        _ => None,
    }
}

/// The domain the request reached the API at, from the context API Gateway fills in (a client
/// cannot set it, unlike the `Host` header).
pub fn api_domain(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.domain_name.clone(),
        _ => None,
    }
}

/// Who is asking: the source IP from the request context (API Gateway's `sourceIp`, never a
/// client-set header such as `X-Forwarded-For`, which anyone can forge to dodge a per-IP budget)
/// and the `User-Agent` header.
pub fn client_info(request: &Request) -> ClientInfo {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    };
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(MAX_USER_AGENT_CHARS).collect());
    ClientInfo {
        ip: source_ip.and_then(|ip| ip.parse().ok()),
        user_agent,
    }
}

/// A `302 Found` to `location`, with no body: what a browser follows in a sign-in through a
/// provider. A location that is no valid header value is an internal error, never a panic.
pub fn redirect(location: &str) -> Result<Response<Body>, ApiError> {
    redirect_with(StatusCode::FOUND, location)
}

/// [`redirect`] with 303 See Other: the answer to a form's POST, which the browser follows with a
/// GET.
pub fn see_other(location: &str) -> Result<Response<Body>, ApiError> {
    redirect_with(StatusCode::SEE_OTHER, location)
}

fn redirect_with(status: StatusCode, location: &str) -> Result<Response<Body>, ApiError> {
    let value = HeaderValue::from_str(location).map_err(|_| {
        ApiError::Internal(anyhow::anyhow!(
            "a redirect location that is no header value"
        ))
    })?;
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, value);
    // A redirect carrying a one-time code or a state is never cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// 200 with `{"message": text}`: done, and said so.
pub fn message(text: &'static str) -> Response<Body> {
    json_response(StatusCode::OK, &json!({ "message": text }))
}

/// 204 No Content: done, nothing to say (with the headers every answer carries).
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A JSON response; `no-store` because bodies carry tokens and personal data (RFC 6749 §5.1).
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(body).expect("response bodies are plain JSON values");
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The response for an error: `{"error": code, "message": text}` and the headers its status
/// calls for; nothing internal.
pub fn error_response(error: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).expect("ApiError statuses are valid");
    let mut response = json_response(
        status,
        &json!({ "error": error.code(), "message": error.to_string() }),
    );
    let headers = response.headers_mut();
    if let Some(challenge) = error.auth_challenge() {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    if let Some(seconds) = error.retry_after() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let ApiError::MethodNotAllowed { allowed } = error {
        headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/api/signup");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(body)).unwrap()
    }

    #[test]
    fn body_checks_reject_each_bad_input_with_its_code() {
        let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let cases: &[(Option<&str>, &str, &str, &str)] = &[
            (None, "{}", "unsupported_media_type", "no content type"),
            (
                Some("text/plain"),
                "{}",
                "unsupported_media_type",
                "wrong content type",
            ),
            (
                Some("application/json"),
                &big,
                "payload_too_large",
                "over 16 KiB",
            ),
            (
                Some("application/json"),
                "{",
                "invalid_json",
                "truncated JSON",
            ),
            (
                Some("application/json"),
                "[1]",
                "invalid_json",
                "array instead of object",
            ),
            (Some("application/json"), "", "invalid_json", "empty body"),
        ];
        for (ct, body, code, why) in cases {
            let err = JsonBody::from_request(&request(*ct, body)).unwrap_err();
            assert_eq!(err.code(), *code, "{why}");
        }
    }

    #[test]
    fn content_type_parameters_and_case_are_accepted() {
        for ct in ["application/json", "Application/JSON; charset=utf-8"] {
            assert!(
                JsonBody::from_request(&request(Some(ct), "{}")).is_ok(),
                "{ct}"
            );
        }
    }

    #[test]
    fn fields_distinguish_missing_blank_and_wrong_type() {
        let body = JsonBody::from_request(&request(
            Some("application/json"),
            r#"{"email": 123, "name": "  ", "password": null, "ok": "x"}"#,
        ))
        .unwrap();
        assert_eq!(body.required("email").unwrap_err().code(), "invalid_json");
        assert_eq!(body.required("name").unwrap_err().code(), "missing_field");
        assert_eq!(
            body.required("password").unwrap_err().code(),
            "missing_field"
        );
        assert_eq!(body.required("absent").unwrap_err().code(), "missing_field");
        assert_eq!(body.required("ok").unwrap(), "x");
    }

    #[test]
    fn object_fields_must_be_objects() {
        let body = JsonBody::from_request(&request(
            Some("application/json"),
            r#"{"object": {"id": "x"}, "text": "{}", "list": [], "null": null}"#,
        ))
        .unwrap();
        assert_eq!(body.required_object("object").unwrap()["id"], "x");
        let cases = [
            ("text", "invalid_json", "a string that holds JSON"),
            ("list", "invalid_json", "an array"),
            ("null", "missing_field", "null"),
            ("absent", "missing_field", "absent"),
        ];
        for (field, code, why) in cases {
            assert_eq!(
                body.required_object(field).unwrap_err().code(),
                code,
                "{why}"
            );
        }
    }

    #[test]
    fn bearer_token_requires_the_bearer_scheme() {
        let with = |value: &str| {
            lambda_http::http::Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(Body::Empty)
                .unwrap()
        };
        assert_eq!(
            bearer_token(&with("Bearer abc")).unwrap().expose_secret(),
            "abc"
        );
        assert_eq!(
            bearer_token(&with("bearer  abc ")).unwrap().expose_secret(),
            "abc"
        );
        for bad in ["Basic abc", "Bearer", "Bearer   ", "abc"] {
            assert_eq!(
                bearer_token(&with(bad)).unwrap_err().code(),
                "missing_token",
                "{bad}"
            );
        }
        let none = lambda_http::http::Request::builder()
            .body(Body::Empty)
            .unwrap();
        assert_eq!(bearer_token(&none).unwrap_err().code(), "missing_token");
    }

    #[test]
    fn query_parameters_are_required_optional_or_missing_field() {
        let query = Query::parse("a=1&blank=%20&a=2&enc=x%2By%26z&empty=");
        assert_eq!(
            query.optional("a"),
            Some("1"),
            "a repeated parameter: its first value"
        );
        assert_eq!(query.required("enc").unwrap(), "x+y&z", "percent-decoded");
        assert_eq!(query.optional("blank"), Some(" "), "untrimmed");
        for (name, why) in [("blank", "blank"), ("empty", "empty"), ("absent", "absent")] {
            assert_eq!(
                query.required(name).unwrap_err().code(),
                "missing_field",
                "{why}"
            );
        }
    }

    #[test]
    fn a_request_without_a_query_string_has_no_parameters() {
        let query = Query::from_request(&request(None, ""));
        assert_eq!(query.optional("code"), None);
        assert_eq!(query.required("code").unwrap_err().code(), "missing_field");
    }

    #[test]
    fn a_redirect_is_a_302_with_its_location_and_refuses_a_bad_one() {
        let response = redirect("https://app.example/cb?code=x").unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://app.example/cb?code=x"
        );
        assert_eq!(
            redirect("https://x/\r\nSet-Cookie: a=b")
                .unwrap_err()
                .code(),
            "internal_error"
        );
    }
}
