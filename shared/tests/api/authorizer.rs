//! The Lambda authorizer for the APIs behind us, as API Gateway calls it: a payload 2.0 REQUEST
//! event (`fixtures/authorizer_event_v2.json`), answered `isAuthorized` true with the context, or
//! false and nothing more — at once after any way a token stops being good, and never an error.

use auth::handlers::{AuthorizerAnswer, authorizer};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_http::http::{Method, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, raw_request};
use auth::Endpoint;

const FIXTURE: &str = include_str!("fixtures/authorizer_event_v2.json");

/// A JSON request to `endpoint` with `token` as bearer.
fn with_bearer(
    method: Method,
    endpoint: Endpoint,
    token: &str,
    body: &Value,
) -> lambda_http::Request {
    let mut request = raw_request(
        method,
        endpoint.path(),
        Some("application/json"),
        body.to_string(),
    );
    request.headers_mut().insert(
        lambda_http::http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    request
}

/// The fixture event with `authorization` as its identity source and header (`None`: neither, as
/// when API Gateway is configured with another identity source).
pub(crate) fn event(authorization: Option<&str>) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
    match authorization {
        Some(value) => {
            event["identitySource"] = json!([value]);
            event["headers"]["authorization"] = json!(value);
        }
        None => {
            event["identitySource"] = Value::Null;
            event["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
        }
    }
    serde_json::from_value(event).unwrap()
}

async fn ask(app: &TestApp, access_token: &str) -> AuthorizerAnswer {
    authorizer(&app.app, &event(Some(&format!("Bearer {access_token}")))).await
}

/// Asserts the exact `{"isAuthorized":false}` API Gateway gets.
#[track_caller]
fn assert_refused(answer: &AuthorizerAnswer, why: &str) {
    assert_eq!(
        serde_json::to_value(answer).unwrap(),
        json!({"isAuthorized": false}),
        "{why}"
    );
}

#[tokio::test]
async fn a_live_access_token_is_authorized_with_its_context() {
    let app = TestApp::spawn().await;
    let signed_in = app.signed_in_user("pat@example.com").await;
    let access = signed_in.str("access_token");

    let answer = ask(&app, &access).await;

    let body = serde_json::to_value(&answer).unwrap();
    assert_eq!(body["isAuthorized"], true, "{body}");
    let context = &body["context"];
    assert_eq!(context["sub"], signed_in.body["user"]["id"]);
    assert!(
        context["sid"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok(),
        "{context}"
    );
    assert_eq!(context["aal"], "aal1");
    assert_eq!(context["amr"], json!(["pwd"]));
    assert_eq!(context["email_verified"], true);
    assert_eq!(
        context.as_object().unwrap().len(),
        5,
        "exactly sub, sid, aal, amr and email_verified: {context}"
    );
    // The identity source is what counts; the header is read when it is absent.
    let mut header_only = event(Some(&format!("Bearer {access}")));
    header_only.identity_source = None;
    assert!(authorizer(&app.app, &header_only).await.is_authorized);
}

/// Every way a token stops being good flips the answer at once.
/// Asserts that the authorizer refuses `access` and introspection calls it inactive, exactly.
async fn assert_revoked(app: &TestApp, access: &str, why: &str) {
    assert_refused(&ask(app, access).await, why);
    let introspected = crate::introspection::as_client(app, access).await;
    introspected.assert_status(StatusCode::OK);
    assert_eq!(introspected.body, json!({"active": false}), "{why}");
}

/// Asserts that both take `access` as live.
async fn assert_live(app: &TestApp, access: &str, why: &str) {
    assert!(ask(app, access).await.is_authorized, "{why}");
    let introspected = crate::introspection::as_client(app, access).await;
    assert_eq!(introspected.body["active"], true, "{why}");
}

#[tokio::test]
async fn the_revocation_matrix_refuses_at_once_in_the_authorizer_and_introspection() {
    // No grace for a rotated refresh token: its second use is reuse at once. Introspection and
    // the admin API on, so that both checks see each revocation.
    let app = TestApp::spawn_with(&[
        ("REFRESH_REUSE_GRACE", "0"),
        ("INTROSPECTION_CLIENTS", &crate::introspection::clients()),
        ("ADMIN_TOKEN", crate::admin::TOKEN),
    ])
    .await;

    // Logout: this session.
    let access = app.signed_in_access_token("logout@example.com").await;
    assert_live(&app, &access, "signed in").await;
    app.logout(&access).await.assert_status(StatusCode::OK);
    assert_revoked(&app, &access, "after logout").await;

    // Global logout: another session of the same account too.
    let first = app.signed_in_access_token("global@example.com").await;
    let second = app
        .signin("global@example.com", PASSWORD)
        .await
        .str("access_token");
    app.call(
        Endpoint::Logout,
        with_bearer(
            Method::POST,
            Endpoint::Logout,
            &first,
            &json!({"scope": "global"}),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_revoked(&app, &second, "after a global logout").await;

    // A refresh token used twice: the session ends, its access token with it.
    let signed_in = app.signed_in_user("reuse@example.com").await;
    let (access, refresh) = (
        signed_in.str("access_token"),
        signed_in.str("refresh_token"),
    );
    app.refresh(&refresh).await.assert_status(StatusCode::OK);
    app.refresh(&refresh)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    assert_revoked(&app, &access, "after a refresh token's reuse").await;

    // A password change ends every other session.
    let other = app.signed_in_access_token("change@example.com").await;
    let changer = app
        .signin("change@example.com", PASSWORD)
        .await
        .str("access_token");
    app.call(
        Endpoint::ChangePassword,
        with_bearer(
            Method::POST,
            Endpoint::ChangePassword,
            &changer,
            &json!({"current_password": PASSWORD, "new_password": "a wholly new passphrase"}),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_revoked(&app, &other, "after a password change elsewhere").await;
    assert_live(&app, &changer, "the changing session stays").await;

    // A password reset ends every session.
    let access = app.signed_in_access_token("reset@example.com").await;
    let token = app.requested_reset_token("reset@example.com").await;
    app.reset_password(&token, "another fresh passphrase")
        .await
        .assert_status(StatusCode::OK);
    assert_revoked(&app, &access, "after a password reset").await;

    // An account an operator disabled, then enabled again: its sessions stay ended.
    let signed_in = app.signed_in_user("disabled@example.com").await;
    let access = signed_in.str("access_token");
    let id = signed_in.body["user"]["id"].as_str().unwrap().to_owned();
    crate::admin::as_admin(&app, Endpoint::AdminDisableUser, &id)
        .await
        .assert_status(StatusCode::OK);
    assert_revoked(&app, &access, "a disabled account").await;
    app.dashboard(&access)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    crate::admin::as_admin(&app, Endpoint::AdminEnableUser, &id)
        .await
        .assert_status(StatusCode::OK);
    assert_revoked(
        &app,
        &access,
        "enabled again: the ended session stays ended",
    )
    .await;

    // Sessions an operator revoked.
    let access = app.signed_in_access_token("revoked@example.com").await;
    let id = crate::helpers::jwt_part(&access, 1)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::admin::as_admin(&app, Endpoint::AdminRevokeSessions, &id)
        .await
        .assert_status(StatusCode::OK);
    assert_revoked(&app, &access, "sessions revoked by an operator").await;

    // A deleted account.
    let access = app.signed_in_access_token("deleted@example.com").await;
    app.call(
        Endpoint::DeleteAccount,
        with_bearer(
            Method::DELETE,
            Endpoint::DeleteAccount,
            &access,
            &json!({"password": PASSWORD}),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_revoked(&app, &access, "a deleted account").await;
}

#[tokio::test]
async fn a_refresh_token_an_expired_token_and_no_token_are_refused() {
    let app = TestApp::spawn().await;
    let signed_in = app.signed_in_user("kinds@example.com").await;
    assert_refused(
        &ask(&app, &signed_in.str("refresh_token")).await,
        "a refresh token",
    );
    assert_refused(&authorizer(&app.app, &event(None)).await, "no token");
    assert_refused(
        &authorizer(&app.app, &event(Some("Basic dXNlcjpwYXNz"))).await,
        "another scheme",
    );
    let expired = crate::openapi::expired_copy_of(&signed_in.str("access_token"));
    assert_refused(&ask(&app, &expired).await, "an expired token");
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_refuses_and_does_not_fail() {
    // A genuine token, signed with the keys the unreachable app verifies with.
    let live = TestApp::spawn().await;
    let access = live.signed_in_access_token("outage@example.com").await;
    let port = testkit::ports::free_port().unwrap();
    let config = testkit::config::load(
        &format!("postgres://postgres@127.0.0.1:{port}/x"),
        &[("DB_POOL_SIZE", "1")],
    )
    .await;
    let down = TestApp::unreachable(config).await;
    assert_refused(&ask(&down, &access).await, "no database");
}

/// Hostile identity sources never make the authorizer fail: always a plain refusal.
#[test]
fn any_header_is_refused_without_an_error() {
    use proptest::test_runner::{Config, TestRunner};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let genuine = runtime.block_on(app.signed_in_access_token("hostile@example.com"));
    // Header-safe text (API Gateway hands nothing else over): garbage, near-bearers, and the
    // genuine token cut or with a byte changed.
    let header = prop_oneof![
        "[ -~]{0,300}",
        "(Bearer|bearer|BEARER) [ -~]{0,300}",
        (0..genuine.len()).prop_map({
            let genuine = genuine.clone();
            move |cut| format!("Bearer {}", &genuine[..cut])
        }),
        (0..genuine.len(), "[A-Za-z0-9_-]").prop_map({
            let genuine = genuine.clone();
            move |(at, c)| {
                let mut token = genuine.clone();
                token.replace_range(at..=at, &c);
                format!("Bearer {token}")
            }
        }),
    ];
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(&header, |header| {
            let answer = runtime.block_on(authorizer(&app.app, &event(Some(&header))));
            if header == format!("Bearer {genuine}") {
                prop_assert!(answer.is_authorized);
            } else {
                prop_assert_eq!(
                    serde_json::to_value(&answer).unwrap(),
                    json!({"isAuthorized": false})
                );
            }
            Ok(())
        })
        .unwrap();
}

/// `GET /api/protected-example` as API Gateway calls it once the authorizer said yes: with the
/// authorizer's context in the request context.
pub(crate) fn behind_the_authorizer(context: Option<&Value>) -> lambda_http::Request {
    use lambda_http::RequestExt;
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext,
    };
    use lambda_http::request::RequestContext;
    let mut request_context = ApiGatewayV2httpRequestContext::default();
    if let Some(context) = context {
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.fields = serde_json::from_value(context.clone()).unwrap();
        request_context.authorizer = Some(authorizer);
    }
    raw_request(Method::GET, "/api/protected-example", None, "")
        .with_request_context(RequestContext::ApiGatewayV2(request_context))
}

#[tokio::test]
async fn the_protected_example_shows_what_the_authorizer_passed_on_and_nothing_without_it() {
    let app = TestApp::spawn().await;
    let access = app.signed_in_access_token("protected@example.com").await;
    let answer = serde_json::to_value(ask(&app, &access).await).unwrap();

    let response = app
        .call(
            Endpoint::ProtectedExample,
            behind_the_authorizer(Some(&answer["context"])),
        )
        .await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.body["authorizer"], answer["context"]);

    // Called otherwise than through the authorizer: nothing to show.
    app.call(Endpoint::ProtectedExample, behind_the_authorizer(None))
        .await
        .assert_error_because(401, "missing_token", "no authorizer context");
    app.call(
        Endpoint::ProtectedExample,
        crate::helpers::bearer_request(Method::GET, "/api/protected-example", &access),
    )
    .await
    .assert_error_because(
        401,
        "missing_token",
        "a bearer token alone is not the authorizer",
    );
}
