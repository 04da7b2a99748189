//! The admin API's handlers: who is calling first (IAM in AWS, the local `ADMIN_TOKEN`), then
//! the path and query as domain types, then one [`App`] method.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde_json::json;

use super::HandlerResult;
use crate::domain::{AuditQuery, Principal, UserListQuery, target_user};
use crate::error::ApiError;
use crate::http::{
    Query, bearer_token, client_info, iam_caller, json_response, no_content, path_parameter,
};
use crate::service::{AdminCredentials, App};

/// The acting principal, or the refusal (401 `invalid_admin_token` locally, 403
/// `iam_identity_required` in AWS) before anything else is read.
fn principal(app: &App, request: &Request) -> Result<Principal, ApiError> {
    app.admin_principal(AdminCredentials {
        bearer: bearer_token(request).ok(),
        iam_caller: iam_caller(request),
    })
}

/// The account the path's `{id}` names.
fn target(request: &Request) -> Result<crate::domain::UserId, ApiError> {
    target_user(path_parameter(request, "id").as_deref())
}

/// `GET /admin/users?email=&after=&limit=`: a page of accounts in id order.
pub async fn admin_list_users(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let query = Query::from_request(&request);
    let query = UserListQuery::parse(
        query.optional("email"),
        query.optional("after"),
        query.optional("limit"),
    )?;
    let page = app
        .admin_list_users(&actor, &query, &client_info(&request))
        .await?;
    Ok(json_response(StatusCode::OK, &page))
}

/// `GET /admin/users/{id}`: the account, its factors, identities and live sessions.
pub async fn admin_get_user(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let user = target(&request)?;
    let view = app
        .admin_view_user(&actor, user, &client_info(&request))
        .await?;
    Ok(json_response(StatusCode::OK, &view))
}

/// `POST /admin/users/{id}/disable`: every session ends, and sign-in is refused.
pub async fn admin_disable_user(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let user = target(&request)?;
    let ended = app
        .admin_disable_user(&actor, user, &client_info(&request))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": user, "disabled": true, "sessions_ended": ended}),
    ))
}

/// `POST /admin/users/{id}/enable`.
pub async fn admin_enable_user(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let user = target(&request)?;
    app.admin_enable_user(&actor, user, &client_info(&request))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": user, "disabled": false}),
    ))
}

/// `POST /admin/users/{id}/sessions/revoke`: every live session ends.
pub async fn admin_revoke_sessions(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let user = target(&request)?;
    let ended = app
        .admin_revoke_sessions(&actor, user, &client_info(&request))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": user, "sessions_ended": ended}),
    ))
}

/// `DELETE /admin/users/{id}`: 204.
pub async fn admin_delete_user(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let user = target(&request)?;
    app.admin_delete_user(&actor, user, &client_info(&request))
        .await?;
    Ok(no_content())
}

/// `POST /admin/users/{id}/mfa/reset`: TOTP off, recovery codes gone, the owner told.
pub async fn admin_reset_mfa(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let user = target(&request)?;
    let done = app
        .admin_reset_mfa(&actor, user, &client_info(&request))
        .await?;
    Ok(json_response(StatusCode::OK, &done))
}

/// `GET /admin/audit?user_id=&after=&limit=`: a page of the audit log, newest first.
pub async fn admin_audit(app: &App, request: Request) -> HandlerResult {
    let actor = principal(app, &request)?;
    let query = Query::from_request(&request);
    let query = AuditQuery::parse(
        query.optional("user_id"),
        query.optional("after"),
        query.optional("limit"),
    )?;
    let page = app
        .admin_audit(&actor, &query, &client_info(&request))
        .await?;
    Ok(json_response(StatusCode::OK, &page))
}
