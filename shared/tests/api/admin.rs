//! The admin API: who may call it (the local `ADMIN_TOKEN`, or the IAM identity API Gateway puts
//! in the context), every route, pagination, and the audit rows naming the acting principal.

use std::collections::HashMap;

use auth::Endpoint;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription,
    ApiGatewayV2httpRequestContext,
};
use lambda_http::http::{StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, TestResponse, raw_request, sorted_keys, totp_code};

/// The local admin bearer of the tests' apps (`ADMIN_TOKEN`).
pub(crate) const TOKEN: &str = "admin-token-for-the-tests-0123456789abcdef";
const OPERATOR: &str = "arn:aws:sts::123456789012:assumed-role/Operators/alice";

/// An app whose admin routes take [`TOKEN`] (a local run).
async fn app() -> TestApp {
    TestApp::spawn_with(&[("ADMIN_TOKEN", TOKEN)]).await
}

/// How a request proves who is calling.
#[derive(Clone, Copy)]
enum Caller<'a> {
    Nobody,
    Bearer(&'a str),
    /// API Gateway's IAM authorization let it through: the caller's ARN in the context.
    Iam(&'a str),
}

/// A request to an admin `endpoint` at `path`, with `{id}` as API Gateway would extract it.
fn admin_request(endpoint: Endpoint, path: &str, id: Option<&str>, caller: Caller) -> Request {
    let mut request = raw_request(endpoint.method().unwrap(), path, None, Body::Empty);
    if let Some(id) = id {
        request = request.with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]));
    }
    let query: HashMap<String, String> = path
        .split_once('?')
        .map(|(_, query)| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    request = request.with_query_string_parameters(query);
    match caller {
        Caller::Nobody => request,
        Caller::Bearer(token) => {
            request.headers_mut().insert(
                header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
            request
        }
        Caller::Iam(arn) => {
            let mut iam = ApiGatewayRequestAuthorizerIamDescription::default();
            iam.user_arn = Some(arn.to_owned());
            iam.account_id = Some("123456789012".to_owned());
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.iam = Some(iam);
            let mut context = ApiGatewayV2httpRequestContext::default();
            context.authorizer = Some(authorizer);
            request.with_request_context(RequestContext::ApiGatewayV2(context))
        }
    }
}

/// The path of `endpoint` with `{id}` filled in.
fn path_of(endpoint: Endpoint, id: &str) -> String {
    endpoint.path().replace("{id}", id)
}

async fn call(
    app: &TestApp,
    endpoint: Endpoint,
    id: Option<&str>,
    caller: Caller<'_>,
) -> TestResponse {
    let path = path_of(endpoint, id.unwrap_or_default());
    app.call(endpoint, admin_request(endpoint, &path, id, caller))
        .await
}

/// `endpoint` on the account `id`, as the local operator.
pub(crate) async fn as_admin(app: &TestApp, endpoint: Endpoint, id: &str) -> TestResponse {
    call(app, endpoint, Some(id), Caller::Bearer(TOKEN)).await
}

async fn list(app: &TestApp, endpoint: Endpoint, query: &str) -> TestResponse {
    let path = format!("{}?{query}", endpoint.path());
    app.call(
        endpoint,
        admin_request(endpoint, &path, None, Caller::Bearer(TOKEN)),
    )
    .await
}

/// The admin API's routes, from the route table.
fn admin_routes() -> impl Iterator<Item = Endpoint> {
    Endpoint::ALL
        .into_iter()
        .filter(|endpoint| endpoint.is_admin())
}

/// Jane, signed up and with TOTP on: her id and her TOTP secret (base32).
async fn jane_with_totp(app: &TestApp) -> (Uuid, String) {
    let token = app.signed_in_access_token("jane@example.com").await;
    let secret = app
        .call_endpoint(Endpoint::MfaEnroll, Some(&token), Value::Null)
        .await
        .str("secret");
    app.call_endpoint(
        Endpoint::MfaConfirm,
        Some(&token),
        json!({"code": totp_code(&secret, 0)}),
    )
    .await
    .assert_status(StatusCode::OK);
    let id: Uuid = app
        .db
        .query_one("SELECT id FROM users WHERE email = 'jane@example.com'", &[])
        .await
        .unwrap()
        .get(0);
    (id, secret)
}

/// The user's id as sign-in shows it.
fn id_of(signed_in: &TestResponse) -> String {
    signed_in.body["user"]["id"].as_str().unwrap().to_owned()
}

/// The admin events of a user, oldest first, as `(kind, actor)`.
async fn admin_events(app: &TestApp, user: &str) -> Vec<(String, Option<String>)> {
    app.db
        .query(
            "SELECT kind, actor FROM auth_events WHERE user_id = $1::text::uuid ORDER BY id",
            &[&user],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test]
async fn every_route_refuses_a_caller_without_the_local_token_before_reading_anything() {
    let app = app().await;
    let someone = Uuid::new_v4().to_string();
    for endpoint in admin_routes() {
        assert!(endpoint.is_admin(), "{endpoint:?}");
        for caller in [
            Caller::Nobody,
            Caller::Bearer("admin-token-for-the-tests-0123456789abcdeX"),
            Caller::Bearer(&TOKEN[..TOKEN.len() - 1]),
            // With a token configured, only the token: an IAM context is no way in locally.
            Caller::Iam(OPERATOR),
        ] {
            let response = call(&app, endpoint, Some(&someone), caller).await;
            response.assert_error(401, "invalid_admin_token");
            assert_eq!(
                response.headers[header::WWW_AUTHENTICATE],
                r#"Bearer realm="admin""#
            );
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM auth_events WHERE actor IS NOT NULL")
            .await,
        0,
        "a refused call does nothing, so records nothing"
    );
}

#[tokio::test]
async fn in_aws_only_an_iam_identity_gets_in_and_is_named_as_the_actor() {
    // No ADMIN_TOKEN: the function is configured as in AWS, where the routes are IAM-authorized.
    let app = TestApp::spawn().await;
    let jane = app.signed_in_user("jane@example.com").await;
    let id = id_of(&jane);
    for endpoint in admin_routes() {
        for caller in [Caller::Nobody, Caller::Bearer(TOKEN), Caller::Iam("  ")] {
            call(&app, endpoint, Some(&id), caller)
                .await
                .assert_error(403, "iam_identity_required");
        }
    }
    let viewed = call(
        &app,
        Endpoint::AdminGetUser,
        Some(&id),
        Caller::Iam(OPERATOR),
    )
    .await;
    viewed.assert_status(StatusCode::OK);
    assert_eq!(viewed.body["email"], "jane@example.com");
    let events = admin_events(&app, &id).await;
    assert_eq!(
        events.last().unwrap(),
        &("admin_user_viewed".to_owned(), Some(OPERATOR.to_owned()))
    );
}

#[tokio::test]
async fn accounts_are_listed_a_page_at_a_time_by_a_literal_prefix_of_their_address() {
    let app = app().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let user = app
            .registered_user("Page", &format!("page-{n}@example.com"))
            .await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    app.registered_user("Other", "other@example.com").await;
    app.registered_user("Under", "a_b@example.com").await;
    app.registered_user("Axb", "axb@example.com").await;
    ids.sort();

    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let page = list(
            &app,
            Endpoint::AdminListUsers,
            &format!("email=PAGE-&limit=2&after={after}"),
        )
        .await;
        page.assert_status(StatusCode::OK);
        pages += 1;
        let users = page.body["users"].as_array().unwrap();
        assert!(users.len() <= 2);
        for user in users {
            assert_eq!(
                sorted_keys(user),
                [
                    "created_at",
                    "disabled",
                    "email",
                    "email_verified",
                    "id",
                    "name"
                ]
            );
            assert_eq!(user["disabled"], false);
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
        match &page.body["next"] {
            Value::Null => break,
            Value::String(next) => {
                assert_eq!(
                    next,
                    seen.last().unwrap(),
                    "next is the last id of the page"
                );
                after = next.clone();
            }
            other => panic!("next: {other}"),
        }
    }
    assert_eq!(seen, ids, "every account once, in id order");
    assert_eq!(pages, 3);

    // `_` and `%` are taken literally, not as LIKE's wildcards.
    let underscore = list(&app, Endpoint::AdminListUsers, "email=a_").await;
    let emails: Vec<&str> = underscore.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["a_b@example.com"]);
    let percent = list(&app, Endpoint::AdminListUsers, "email=%25").await;
    assert_eq!(percent.body["users"], json!([]));
    // Everyone without a filter.
    let everyone = list(&app, Endpoint::AdminListUsers, "limit=100").await;
    assert_eq!(everyone.body["users"].as_array().unwrap().len(), 8);
    assert_eq!(everyone.body["next"], Value::Null);

    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "after=not-a-uuid",
        &format!("email={}", "a".repeat(255)),
    ] {
        list(&app, Endpoint::AdminListUsers, query)
            .await
            .assert_error(400, "invalid_parameter");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM auth_events
             WHERE kind = 'admin_users_listed' AND actor = 'admin-token'"
        )
        .await,
        6,
        "each listed page (not the refused queries) is an event"
    );
}

#[tokio::test]
async fn an_account_is_shown_with_its_factors_identities_and_live_sessions() {
    let app = app().await;
    let first = app.signed_in_user("jane@example.com").await;
    let id = id_of(&first);
    app.signin("jane@example.com", PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    app.logout(&first.str("access_token")).await;

    let shown = as_admin(&app, Endpoint::AdminGetUser, &id).await;
    shown.assert_status(StatusCode::OK);
    let body = &shown.body;
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["email"], "jane@example.com");
    assert_eq!(body["email_verified"], true);
    assert_eq!(body["disabled"], false);
    assert_eq!(body["disabled_at"], Value::Null);
    assert_eq!(body["has_password"], true);
    assert_eq!(
        body["factors"],
        json!({"totp_enabled": false, "recovery_codes_left": 0, "passkeys": 0})
    );
    assert_eq!(body["passkeys"], json!([]));
    assert_eq!(body["identities"], json!([]));
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "the ended session is not live: {body}");
    assert_eq!(sessions[0]["aal"], "aal1");
    assert_eq!(sessions[0]["amr"], json!(["pwd"]));
    assert!(sessions[0]["created_at"].as_str().unwrap().ends_with('Z'));

    for unknown in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        as_admin(&app, Endpoint::AdminGetUser, &unknown)
            .await
            .assert_error(404, "user_not_found");
    }
    assert_eq!(
        admin_events(&app, &id).await.last().unwrap(),
        &(
            "admin_user_viewed".to_owned(),
            Some("admin-token".to_owned())
        )
    );
}

#[tokio::test]
async fn disabling_ends_every_session_at_once_and_sign_in_says_so_only_after_the_right_password() {
    let app = app().await;
    let signed_in = app.signed_in_user("jane@example.com").await;
    let id = id_of(&signed_in);
    let access = signed_in.str("access_token");
    let refresh = signed_in.str("refresh_token");
    app.dashboard(&access).await.assert_status(StatusCode::OK);

    let disabled = as_admin(&app, Endpoint::AdminDisableUser, &id).await;
    disabled.assert_status(StatusCode::OK);
    assert_eq!(
        disabled.body,
        json!({"id": id, "disabled": true, "sessions_ended": 1})
    );
    app.dashboard(&access)
        .await
        .assert_invalid_token("the session ended with the disable");
    app.refresh(&refresh)
        .await
        .assert_error(401, "invalid_token");
    app.signin("jane@example.com", "not her password 123!")
        .await
        .assert_error(401, "invalid_credentials");
    app.signin("jane@example.com", PASSWORD)
        .await
        .assert_error(403, "account_disabled");
    // Again: idempotent, nothing more to end.
    let again = as_admin(&app, Endpoint::AdminDisableUser, &id).await;
    assert_eq!(again.body["sessions_ended"], 0);
    let shown = as_admin(&app, Endpoint::AdminGetUser, &id).await;
    assert_eq!(shown.body["disabled"], true);
    assert!(shown.body["disabled_at"].as_str().unwrap().ends_with('Z'));

    let enabled = as_admin(&app, Endpoint::AdminEnableUser, &id).await;
    enabled.assert_status(StatusCode::OK);
    assert_eq!(enabled.body, json!({"id": id, "disabled": false}));
    app.dashboard(&access)
        .await
        .assert_invalid_token("ended sessions stay ended");
    let back = app.signin("jane@example.com", PASSWORD).await;
    back.assert_status(StatusCode::OK);
    app.dashboard(&back.str("access_token"))
        .await
        .assert_status(StatusCode::OK);

    for endpoint in [Endpoint::AdminDisableUser, Endpoint::AdminEnableUser] {
        as_admin(&app, endpoint, &Uuid::new_v4().to_string())
            .await
            .assert_error(404, "user_not_found");
    }
    let kinds: Vec<(String, Option<String>)> = admin_events(&app, &id)
        .await
        .into_iter()
        .filter(|(kind, _)| kind != "admin_user_viewed")
        .skip_while(|(kind, _)| kind != "account_disabled")
        .collect();
    let admin = Some("admin-token".to_owned());
    assert_eq!(
        kinds,
        [
            ("account_disabled".to_owned(), admin.clone()),
            ("signin_failed".to_owned(), None),
            ("signin_disabled".to_owned(), None),
            ("account_disabled".to_owned(), admin.clone()),
            ("account_enabled".to_owned(), admin),
            ("signin_succeeded".to_owned(), None),
        ]
    );
}

#[tokio::test]
async fn a_disabled_account_opens_no_session_by_its_second_step_either() {
    let app = app().await;
    let (id, secret) = jane_with_totp(&app).await;
    // The password step before the disable; the code after it.
    let step = app.signin("jane@example.com", PASSWORD).await;
    let mfa_token = step.str("mfa_token");
    as_admin(&app, Endpoint::AdminDisableUser, &id.to_string())
        .await
        .assert_status(StatusCode::OK);
    app.call_endpoint(
        Endpoint::MfaVerify,
        None,
        json!({"mfa_token": mfa_token, "code": totp_code(&secret, 1)}),
    )
    .await
    .assert_error(403, "account_disabled");
    // Even a session opened behind the API's back is refused by the database's rule.
    let opened = app
        .db
        .execute(
            "INSERT INTO sessions (id, user_id, expires_at, max_expires_at)
             VALUES (gen_random_uuid(), $1, now() + interval '1 hour', now() + interval '1 hour')",
            &[&id],
        )
        .await
        .unwrap_err();
    assert_eq!(opened.code().unwrap().code(), "AD001", "{opened}");
}

#[tokio::test]
async fn of_sign_ins_racing_a_disable_none_is_left_with_a_live_session() {
    let app = app().await;
    let id = id_of(&app.signed_in_user("jane@example.com").await);
    let signins = (0..4).map(|_| app.signin("jane@example.com", PASSWORD));
    let disable = as_admin(&app, Endpoint::AdminDisableUser, &id);
    let (answers, disabled) = tokio::join!(futures::future::join_all(signins), disable);
    disabled.assert_status(StatusCode::OK);
    for answer in &answers {
        assert!(
            answer.status == StatusCode::OK || answer.error() == "account_disabled",
            "{}",
            answer.body
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = '{id}' AND revoked_at IS NULL"
        ))
        .await,
        0,
        "every session opened before the disable was ended by it, none opened after"
    );
    for answer in answers.iter().filter(|a| a.status == StatusCode::OK) {
        app.dashboard(&answer.str("access_token"))
            .await
            .assert_invalid_token("the account is disabled");
    }
}

#[tokio::test]
async fn revoking_ends_every_session_and_sign_in_still_works() {
    let app = app().await;
    let first = app.signed_in_user("jane@example.com").await;
    let id = id_of(&first);
    let second = app.signin("jane@example.com", PASSWORD).await;

    let revoked = as_admin(&app, Endpoint::AdminRevokeSessions, &id).await;
    revoked.assert_status(StatusCode::OK);
    assert_eq!(revoked.body, json!({"id": id, "sessions_ended": 2}));
    for session in [&first, &second] {
        app.dashboard(&session.str("access_token"))
            .await
            .assert_invalid_token("revoked by the operator");
        app.refresh(&session.str("refresh_token"))
            .await
            .assert_error(401, "invalid_token");
    }
    app.signin("jane@example.com", PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    as_admin(
        &app,
        Endpoint::AdminRevokeSessions,
        &Uuid::new_v4().to_string(),
    )
    .await
    .assert_error(404, "user_not_found");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = '{id}' AND revoked_reason = 'revoked_by_admin'"
        ))
        .await,
        2
    );
    assert!(admin_events(&app, &id).await.contains(&(
        "sessions_revoked".to_owned(),
        Some("admin-token".to_owned())
    )));
}

#[tokio::test]
async fn resetting_the_second_factor_turns_totp_off_deletes_the_codes_and_tells_the_owner() {
    let app = app().await;
    let (id, _) = jane_with_totp(&app).await;
    let id = id.to_string();

    let reset = as_admin(&app, Endpoint::AdminResetMfa, &id).await;
    reset.assert_status(StatusCode::OK);
    assert_eq!(
        reset.body,
        json!({"id": id, "totp_was_enabled": true, "recovery_codes_deleted": 10})
    );
    let notices = format!(
        "SELECT count(*) FROM email_outbox
         WHERE recipient = 'jane@example.com' AND subject = '{}'",
        auth::emails::MFA_RESET_SUBJECT
    );
    assert_eq!(app.count(&notices).await, 1, "the owner is told");
    // One factor again: the password signs in.
    let signed_in = app.signin("jane@example.com", PASSWORD).await;
    signed_in.assert_status(StatusCode::OK);
    assert!(
        signed_in.body.get("access_token").is_some(),
        "{}",
        signed_in.body
    );
    assert_eq!(
        app.count(&format!(
            "SELECT (SELECT count(*) FROM mfa_totp WHERE user_id = '{id}')
                  + (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = '{id}')"
        ))
        .await,
        0
    );

    let again = as_admin(&app, Endpoint::AdminResetMfa, &id).await;
    assert_eq!(
        again.body,
        json!({"id": id, "totp_was_enabled": false, "recovery_codes_deleted": 0})
    );
    assert_eq!(
        app.count(&notices).await,
        1,
        "nothing to tell the second time"
    );
    as_admin(&app, Endpoint::AdminResetMfa, &Uuid::new_v4().to_string())
        .await
        .assert_error(404, "user_not_found");
    let resets = admin_events(&app, &id)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "mfa_reset")
        .count();
    assert_eq!(resets, 2);
}

#[tokio::test]
async fn deleting_removes_the_account_and_everything_of_it() {
    let app = app().await;
    let signed_in = app.signed_in_user("jane@example.com").await;
    let id = id_of(&signed_in);
    let path = path_of(Endpoint::AdminDeleteUser, &id);

    let response = app
        .call_raw(
            Endpoint::AdminDeleteUser,
            admin_request(
                Endpoint::AdminDeleteUser,
                &path,
                Some(&id),
                Caller::Bearer(TOKEN),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(matches!(response.body(), Body::Empty));
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");

    as_admin(&app, Endpoint::AdminGetUser, &id)
        .await
        .assert_error(404, "user_not_found");
    as_admin(&app, Endpoint::AdminDeleteUser, &id)
        .await
        .assert_error(404, "user_not_found");
    app.dashboard(&signed_in.str("access_token"))
        .await
        .assert_invalid_token("the account is gone");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = '{id}'"
        ))
        .await,
        0
    );
    assert_eq!(
        admin_events(&app, &id).await.last().unwrap(),
        &("account_deleted".to_owned(), Some("admin-token".to_owned())),
        "the log keeps the deletion and who made it"
    );
    // The address is free again.
    app.registered_user("Jane", "jane@example.com").await;
}

#[tokio::test]
async fn the_audit_log_reads_newest_first_a_page_at_a_time_of_one_account_or_all() {
    let app = app().await;
    let jane = id_of(&app.signed_in_user("jane@example.com").await);
    let joe = id_of(&app.signed_in_user("joe@example.com").await);
    as_admin(&app, Endpoint::AdminRevokeSessions, &jane).await;

    let mut events = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let page = list(
            &app,
            Endpoint::AdminAudit,
            &format!("user_id={jane}&limit=2&after={after}"),
        )
        .await;
        page.assert_status(StatusCode::OK);
        let items = page.body["events"].as_array().unwrap().clone();
        assert!(items.len() <= 2);
        events.extend(items);
        match &page.body["next"] {
            Value::Null => break,
            Value::String(next) => after = next.clone(),
            other => panic!("next: {other}"),
        }
    }
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(events.iter().all(|e| e["user_id"] == jane.as_str()));
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "sessions_revoked", "the newest first");
    assert!(
        !kinds.contains(&"admin_audit_read"),
        "reads come after the first page's snapshot"
    );
    assert!(kinds.contains(&"signup") && kinds.contains(&"signin_succeeded"));
    let revoked = events
        .iter()
        .find(|e| e["kind"] == "sessions_revoked")
        .unwrap();
    assert_eq!(revoked["actor"], "admin-token");
    let signin = events
        .iter()
        .find(|e| e["kind"] == "signin_succeeded")
        .unwrap();
    assert_eq!(signin["actor"], Value::Null, "users act for themselves");
    assert!(signin["session_id"].is_string());
    assert_eq!(
        sorted_keys(&events[0]),
        [
            "actor",
            "id",
            "ip",
            "kind",
            "occurred_at",
            "session_id",
            "user_agent",
            "user_id"
        ]
    );

    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM auth_events
             WHERE kind = 'admin_audit_read' AND user_id = '{jane}' AND actor = 'admin-token'"
        ))
        .await,
        pages,
        "each page read is itself an event of the account read"
    );

    let all = list(&app, Endpoint::AdminAudit, "limit=100").await;
    let users: std::collections::BTreeSet<&str> = all.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["user_id"].as_str())
        .collect();
    assert!(users.contains(jane.as_str()) && users.contains(joe.as_str()));

    for query in [
        "user_id=nope",
        "after=0",
        "after=-1",
        "after=x",
        "limit=1000",
    ] {
        list(&app, Endpoint::AdminAudit, query)
            .await
            .assert_error(400, "invalid_parameter");
    }
}
