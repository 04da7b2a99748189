//! What a function is invoked with (API Gateway HTTP API requests, the janitor's schedule) and
//! what it answers, as JSON on the Runtime API.

use anyhow::Context;
use auth::Endpoint;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// The client every event comes from.
const USER_AGENT: &str = "bench-coldstart";
const SOURCE_IP: &str = "127.0.0.1";

/// An API Gateway HTTP API (payload 2.0) request to one endpoint, as API Gateway sends it.
#[derive(Debug, Clone)]
pub struct HttpEvent {
    endpoint: Endpoint,
    method: &'static str,
    route_key: String,
    raw_path: String,
    path_parameters: Map<String, Value>,
    query: Vec<(String, String)>,
    /// The content type and the body.
    body: Option<(&'static str, String)>,
    headers: Map<String, Value>,
    /// What a Lambda authorizer passed on (`requestContext.authorizer.lambda`).
    authorizer: Option<Value>,
    /// The IAM user of a SigV4-signed request (`requestContext.authorizer.iam.userArn`).
    iam_caller: Option<String>,
}

impl HttpEvent {
    /// A request to `endpoint`, at its method and path (fill in its parameters with
    /// [`HttpEvent::path_parameter`]; the `$default` route's path with [`HttpEvent::at`]).
    pub fn to(endpoint: Endpoint) -> HttpEvent {
        let (method, route_key) = match endpoint.method_name() {
            Some(method) => (method, format!("{method} {}", endpoint.path())),
            None => ("GET", "$default".to_owned()),
        };
        HttpEvent {
            endpoint,
            method,
            route_key,
            raw_path: endpoint.path().to_owned(),
            path_parameters: Map::new(),
            query: Vec::new(),
            body: None,
            headers: Map::new(),
            authorizer: None,
            iam_caller: None,
        }
    }

    /// The endpoint it is sent to.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// `{name}` in the path is `value`, as API Gateway fills it in from the route.
    pub fn path_parameter(mut self, name: &str, value: &str) -> HttpEvent {
        self.raw_path = self.raw_path.replace(&format!("{{{name}}}"), value);
        self.path_parameters
            .insert(name.to_owned(), Value::from(value));
        self
    }

    /// The path asked for, for the `$default` route (any path no other route matches).
    pub fn at(mut self, path: &str) -> HttpEvent {
        path.clone_into(&mut self.raw_path);
        self
    }

    /// A JSON body, with its content type.
    pub fn json(mut self, body: Value) -> HttpEvent {
        self.body = Some(("application/json", body.to_string()));
        self
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(mut self, fields: &[(&str, &str)]) -> HttpEvent {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.body = Some(("application/x-www-form-urlencoded", form));
        self
    }

    /// The query string's parameters.
    pub fn query(mut self, parameters: &[(&str, &str)]) -> HttpEvent {
        self.query = parameters
            .iter()
            .map(|&(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> HttpEvent {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A header (its name in lower case, as API Gateway passes them).
    pub fn header(mut self, name: &str, value: &str) -> HttpEvent {
        self.headers.insert(name.to_owned(), value.into());
        self
    }

    /// The context a Lambda authorizer passed on, as API Gateway hands it to the function.
    pub fn authorized(mut self, context: Value) -> HttpEvent {
        self.authorizer = Some(context);
        self
    }

    /// The IAM caller API Gateway names for a route with `AWS_IAM` auth (a SigV4-signed request).
    pub fn iam_caller(mut self, user_arn: &str) -> HttpEvent {
        self.iam_caller = Some(user_arn.to_owned());
        self
    }

    /// The event, with a new request id and the current time.
    pub fn event(&self) -> Value {
        let mut headers = self.headers.clone();
        headers.insert("user-agent".to_owned(), USER_AGENT.into());
        headers.insert("host".to_owned(), SOURCE_IP.into());
        if let Some((content_type, _)) = &self.body {
            headers.insert("content-type".to_owned(), (*content_type).into());
        }
        let raw_query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        let query: Map<String, Value> = self
            .query
            .iter()
            .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
            .collect();
        let now = OffsetDateTime::now_utc();
        let mut event = json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bench",
                "domainName": SOURCE_IP,
                "domainPrefix": "bench",
                "http": {
                    "method": self.method,
                    "path": self.raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": SOURCE_IP,
                    "userAgent": USER_AGENT,
                },
                "requestId": Uuid::new_v4().to_string(),
                "routeKey": self.route_key,
                "stage": "$default",
                "time": access_log_time(now),
                "timeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
            },
            "body": self.body.as_ref().map(|(_, body)| body),
            "isBase64Encoded": false,
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if let Some(context) = &self.authorizer {
            event["requestContext"]["authorizer"] = json!({ "lambda": context });
        }
        if let Some(user_arn) = &self.iam_caller {
            event["requestContext"]["authorizer"] = json!({ "iam": {
                "accessKey": "AKIAIOSFODNN7EXAMPLE",
                "accountId": "123456789012",
                "callerId": "AIDACKCEVSQ6C2EXAMPLE",
                "principalOrgId": null,
                "userArn": user_arn,
                "userId": "AIDACKCEVSQ6C2EXAMPLE",
            }});
        }
        event
    }
}

/// `12/Mar/2020:19:03:58 +0000`, the request context's `time` (UTC).
fn access_log_time(at: OffsetDateTime) -> String {
    let month = at.month().to_string();
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        at.day(),
        &month[..3],
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The EventBridge event of the janitor's schedule: its sweep is its request.
pub fn scheduled_event() -> Value {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

/// A function's answer: an HTTP response's status and body, or none (the janitor's).
#[derive(Debug)]
pub struct Answer {
    /// `statusCode`; `None` when the answer is not an HTTP response.
    pub status: Option<u16>,
    /// The body as text, decoded when base64-encoded.
    pub body: String,
}

impl Answer {
    /// Reads what the invoke API returned.
    pub fn from_response(response: &Value) -> anyhow::Result<Answer> {
        let status = response
            .get("statusCode")
            .and_then(Value::as_u64)
            .map(u16::try_from)
            .transpose()
            .context("a statusCode beyond HTTP's")?;
        let body = response.get("body").and_then(Value::as_str).unwrap_or("");
        let body = if response.get("isBase64Encoded") == Some(&Value::Bool(true)) {
            String::from_utf8(STANDARD.decode(body).context("a base64 body")?)
                .context("a base64 body that is no text")?
        } else {
            body.to_owned()
        };
        Ok(Answer { status, body })
    }

    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.body).with_context(|| format!("a JSON body: {}", self.body))
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::RequestExt;
    use lambda_http::http::{Method, header};
    use lambda_http::request::RequestContext;

    use super::*;

    /// The event as the function itself reads it: through `lambda_http`'s own parsing.
    fn received(event: &HttpEvent) -> lambda_http::Request {
        lambda_http::request::from_str(&event.event().to_string())
            .expect("an event lambda_http reads")
    }

    #[test]
    fn a_json_post_reaches_the_function_as_sent() {
        let request =
            received(&HttpEvent::to(Endpoint::Signin).json(json!({"email": "a@example.com"})));
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri().path(), "/api/signin");
        assert_eq!(request.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(request.headers()[header::USER_AGENT], USER_AGENT);
        let body: Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(body, json!({"email": "a@example.com"}));
        match request.request_context() {
            RequestContext::ApiGatewayV2(context) => {
                assert_eq!(context.http.source_ip.as_deref(), Some(SOURCE_IP));
                assert_eq!(context.route_key.as_deref(), Some("POST /api/signin"));
            }
            other => panic!("an HTTP API request context, not {other:?}"),
        }
    }

    #[test]
    fn path_parameters_and_the_bearer_token_are_filled_in() {
        let request = received(
            &HttpEvent::to(Endpoint::EndSession)
                .path_parameter("id", "7b6a")
                .bearer("token"),
        );
        assert_eq!(request.method(), Method::DELETE);
        assert_eq!(request.uri().path(), "/api/sessions/7b6a");
        assert_eq!(
            request.path_parameters().first("id"),
            Some("7b6a"),
            "as API Gateway fills in {{id}}"
        );
        assert_eq!(request.headers()[header::AUTHORIZATION], "Bearer token");
        assert!(request.body().is_empty(), "no body");
        assert!(request.headers().get(header::CONTENT_TYPE).is_none());
    }

    #[test]
    fn queries_forms_headers_and_the_authorizers_context_reach_the_function() {
        let request = received(
            &HttpEvent::to(Endpoint::OauthCallbackForm)
                .path_parameter("provider", "local")
                .query(&[("a", "1 2")])
                .form(&[("code", "c&d"), ("state", "s")])
                .header("x-extra", "yes")
                .authorized(json!({"sub": "someone"})),
        );
        assert_eq!(request.uri().path(), "/api/oauth/local/callback");
        assert_eq!(request.query_string_parameters().first("a"), Some("1 2"));
        assert_eq!(
            request.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(request.body().as_ref(), b"code=c%26d&state=s");
        assert_eq!(request.headers()["x-extra"], "yes");
        match request.request_context() {
            RequestContext::ApiGatewayV2(context) => {
                let authorizer = context.authorizer.expect("an authorizer");
                assert_eq!(authorizer.fields["sub"], "someone");
            }
            other => panic!("an HTTP API request context, not {other:?}"),
        }
    }

    #[test]
    fn the_default_route_takes_any_path() {
        let event = HttpEvent::to(Endpoint::NotFound).at("/nowhere").event();
        assert_eq!(event["routeKey"], "$default");
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(
            (request.method(), request.uri().path()),
            (&Method::GET, "/nowhere")
        );
    }

    #[test]
    fn every_event_has_its_own_request_id() {
        let event = HttpEvent::to(Endpoint::Public);
        assert_ne!(
            event.event()["requestContext"]["requestId"],
            event.event()["requestContext"]["requestId"]
        );
    }

    #[test]
    fn the_time_is_written_as_api_gateway_writes_it() {
        let at = OffsetDateTime::from_unix_timestamp(1_584_039_838).unwrap();
        assert_eq!(access_log_time(at), "12/Mar/2020:19:03:58 +0000");
    }

    #[test]
    fn answers_are_read_plain_or_base64_encoded() {
        let plain =
            Answer::from_response(&json!({"statusCode": 200, "body": "{\"a\":1}"})).unwrap();
        assert_eq!(
            (plain.status, plain.json().unwrap()),
            (Some(200), json!({"a": 1}))
        );
        let encoded = Answer::from_response(
            &json!({"statusCode": 201, "body": STANDARD.encode("{\"b\":2}"), "isBase64Encoded": true}),
        )
        .unwrap();
        assert_eq!(
            (encoded.status, encoded.json().unwrap()),
            (Some(201), json!({"b": 2}))
        );
        let janitor = Answer::from_response(&Value::Null).unwrap();
        assert_eq!((janitor.status, janitor.body.as_str()), (None, ""));
    }
}
