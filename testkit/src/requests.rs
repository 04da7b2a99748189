//! `lambda_http` requests as API Gateway (payload 2.0) delivers them to a function.

use std::collections::HashMap;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::http::{HeaderValue, Method, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

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
    builder.body(body.into()).expect("a valid request")
}

/// A request with a raw `Authorization` header value and an empty body.
pub fn authorization_request(method: Method, path: &str, value: &str) -> Request {
    let mut request = raw_request(method, path, None, Body::Empty);
    let value = HeaderValue::from_str(value).expect("a header-safe Authorization value");
    request.headers_mut().insert(header::AUTHORIZATION, value);
    request
}

/// A request carrying `Authorization: Bearer <token>`.
pub fn bearer_request(method: Method, path: &str, token: &str) -> Request {
    authorization_request(method, path, &format!("Bearer {token}"))
}

/// `request` as API Gateway delivers it from the client address `ip` (the request context's
/// `sourceIp`, which a client cannot set), with a `User-Agent` header.
pub fn from_client(request: Request, ip: &str, user_agent: &str) -> Request {
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(ip.to_owned());
    let mut request = request.with_request_context(RequestContext::ApiGatewayV2(context));
    let user_agent = HeaderValue::from_str(user_agent).expect("a header-safe User-Agent");
    request.headers_mut().insert(header::USER_AGENT, user_agent);
    request
}

/// `request` with the path parameter `name` filled in, as API Gateway and `cargo lambda watch`
/// fill in `{name}` from the route.
pub fn with_path_parameter(request: Request, name: &str, value: &str) -> Request {
    request.with_path_parameters(HashMap::from([(name.to_owned(), value.to_owned())]))
}

/// `POST /api/reset-password/{token}` with a JSON body.
pub fn reset_request(token: &str, body: &Value) -> Request {
    with_path_parameter(
        json_request(&format!("/api/reset-password/{token}"), body),
        "token",
        token,
    )
}
