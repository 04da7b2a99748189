//! One handler per endpoint, all shaped alike: parse the request, call one [`App`] method, answer.

use std::sync::LazyLock;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::config::{self, Environment, LinkBase};
use crate::domain::{
    CeremonyId, Email, EmailCode, LogoutScope, NewPassword, PasskeyName, Password, ProviderName,
    RecoveryCode, SessionId, TotpCode, User, UserName, apple_user_name,
};
use crate::error::ApiError;
use crate::http::{
    JsonBody, Query, api_domain, authorizer_context, basic_credentials, bearer_of, bearer_token,
    client_info, json_response, message, path_parameter, redirect, see_other, uuid_path_parameter,
};
use crate::pages;
use crate::service::{
    App, AuthorizeRequest, Callback, EmailProof, MfaProof, SignedIn, SignedUp, SigninOutcome,
    TokenPair,
};
use crate::tokens::AccessTokenSigner;

mod admin;

pub use admin::{
    admin_audit, admin_delete_user, admin_disable_user, admin_enable_user, admin_get_user,
    admin_list_users, admin_reset_mfa, admin_revoke_sessions,
};

/// What every handler returns; errors become their JSON response in [`crate::lambda`].
pub type HandlerResult = Result<Response<Body>, ApiError>;

/// The token fields shared by the sign-in and refresh responses.
#[derive(Serialize)]
struct TokenFields<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

impl<'a> From<&'a TokenPair> for TokenFields<'a> {
    fn from(pair: &'a TokenPair) -> Self {
        TokenFields {
            access_token: pair.access.token.expose_secret(),
            refresh_token: pair.refresh.expose_secret(),
            token_type: "Bearer",
            expires_in: pair.access.expires_in.as_secs(),
        }
    }
}

/// `GET /`
pub async fn root(_request: Request) -> HandlerResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({"message": "Welcome to JWT Auth API", "status": "online"}),
    ))
}

/// `GET /api/public`
pub async fn public(_request: Request) -> HandlerResult {
    Ok(message("This is a public endpoint"))
}

/// `GET /signin`: the sign-in page (password, second factor, passkey).
pub async fn signin_page(_request: Request) -> HandlerResult {
    static PAGE: LazyLock<pages::Page> = LazyLock::new(|| {
        // A bad list stops the provider functions from starting (they log why); this page then
        // offers the password and passkeys alone rather than buttons that cannot work.
        let providers =
            config::provider_names(&Environment::from_process()).unwrap_or_else(|error| {
                tracing::error!(%error, "no provider buttons on the sign-in page");
                Vec::new()
            });
        let names: Vec<&str> = providers.iter().map(ProviderName::as_str).collect();
        pages::signin(&names)
    });
    Ok(PAGE.response())
}

/// `GET /api/protected-example`: how a function of yours sits behind the Lambda authorizer.
/// API Gateway calls it only once the authorizer said yes, and hands over the authorizer's
/// context (`requestContext.authorizer.lambda`): who (`sub`), which session (`sid`), how
/// (`aal`, `amr`) and whether the address is proven. Without that context (called otherwise
/// than through the authorizer) it is `missing_token`.
pub async fn protected_example(request: Request) -> HandlerResult {
    let context = authorizer_context(&request)
        .filter(|fields| fields.contains_key("sub"))
        .ok_or(ApiError::MissingToken)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"message": "Authorized by the Lambda authorizer", "authorizer": context}),
    ))
}

/// `GET /signup`: the sign-up page (name, address, password, then "check your email").
pub async fn signup_page(_request: Request) -> HandlerResult {
    Ok(pages::signup())
}

/// `GET /account`: the account page (TOTP, passkeys, sign-out).
pub async fn account_page(_request: Request) -> HandlerResult {
    Ok(pages::account())
}

/// `GET /reset-password`: the HTML page the emailed link (`…/reset-password#<token>`) opens.
pub async fn reset_page(_request: Request) -> HandlerResult {
    Ok(pages::reset())
}

/// `GET /verify-email`: the HTML page the emailed confirmation link opens (the token is in the
/// URL's fragment, which reaches no server).
pub async fn verify_page(_request: Request) -> HandlerResult {
    Ok(pages::verify())
}

/// The base of an emailed link for this request: the configured one, or the API's own domain.
fn link_base(base: &LinkBase, request: &Request) -> Result<String, ApiError> {
    base.base(api_domain(request).as_deref()).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "a link base is from-request, but the request carries no API domain"
        ))
    })
}

/// Any path no route matches (the API's `$default` route).
pub async fn not_found(_request: Request) -> HandlerResult {
    Err(ApiError::NotFound)
}

/// `POST /api/signup` with `{name, email, password}`: 202 and the same message for any address
/// while addresses must be proven, else 201 with the new user.
pub async fn signup(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let name = UserName::parse(body.required("name")?)?;
    let email = Email::parse(body.required("email")?)?;
    let password = NewPassword::parse(body.required("password")?, &email)?;
    let verify_base = link_base(&app.config.verification.url, &request)?;
    match app
        .signup(name, email, password, &verify_base, &client_info(&request))
        .await?
    {
        SignedUp::Created(user) => {
            tracing::info!(user_id = %user.id.as_uuid(), "account created");
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"message": "User created successfully", "user": user}),
            ))
        }
        SignedUp::CheckYourEmail => Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({"message": "Check your email to finish signing up."}),
        )),
    }
}

/// `POST /api/verify-email` with `{token}` (from the link) or `{email, code}`.
pub async fn verify_email(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let proof = match body.optional("token")? {
        Some(token) if !token.trim().is_empty() => {
            EmailProof::Token(SecretString::from(token.trim().to_owned()))
        }
        _ => EmailProof::Code {
            email: Email::parse(body.required("email")?)?,
            code: EmailCode::parse(body.required("code")?)?,
        },
    };
    app.verify_email(proof, &client_info(&request)).await?;
    Ok(message("Email address confirmed"))
}

/// `POST /api/resend-verification` with `{email}`: the same answer whatever the address.
pub async fn resend_verification(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let email = Email::parse(body.required("email")?)?;
    let verify_base = link_base(&app.config.verification.url, &request)?;
    app.resend_verification(email, &verify_base, &client_info(&request))
        .await?;
    Ok(message(
        "If that address has an unconfirmed account, a new confirmation email has been sent.",
    ))
}

/// `POST /api/change-password` with an access token as bearer and
/// `{current_password, new_password}`.
pub async fn change_password(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let body = JsonBody::from_request(&request)?;
    // A current password outside the length rules matches no account: a wrong one, unhashed.
    let current = Password::parse(body.required("current_password")?)
        .map_err(|_| ApiError::InvalidCredentials)?;
    let new = Password::parse(body.required("new_password")?)?;
    app.change_password(&token, current, new, &client_info(&request))
        .await?;
    Ok(message("Password changed"))
}

/// `POST /api/change-email` with an access token as bearer and `{password, new_email}`.
pub async fn change_email(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let body = JsonBody::from_request(&request)?;
    let password =
        Password::parse(body.required("password")?).map_err(|_| ApiError::InvalidCredentials)?;
    let new = Email::parse(body.required("new_email")?)?;
    let verify_base = link_base(&app.config.verification.url, &request)?;
    app.change_email(&token, password, new, &verify_base, &client_info(&request))
        .await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({"message": "Check the new address to confirm the change."}),
    ))
}

/// `DELETE /api/account` with an access token as bearer and `{password}`.
pub async fn delete_account(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let body = JsonBody::from_request(&request)?;
    let password =
        Password::parse(body.required("password")?).map_err(|_| ApiError::InvalidCredentials)?;
    app.delete_account(&token, password, &client_info(&request))
        .await?;
    Ok(message("Account deleted"))
}

/// `POST /api/signin` with `{email, password}` and, optionally, the `device_token` of this
/// client's last sign-in to the account.
pub async fn signin(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let email = Email::parse(body.required("email")?)?;
    // A password outside the length rules cannot match any account: same answer as a wrong one,
    // and no hash is spent on it.
    let password =
        Password::parse(body.required("password")?).map_err(|_| ApiError::InvalidCredentials)?;
    // Any string: one that is not a live device token of this account only earns no exemption.
    let device = body.optional("device_token")?.map(SecretString::from);
    let outcome = app
        .signin(email, password, device.as_ref(), &client_info(&request))
        .await?;
    Ok(signin_outcome_response(&outcome))
}

/// The answer to a first step: the sign-in success body, or the second step's `mfa_required`
/// body (of a password sign-in and of a provider's code alike).
fn signin_outcome_response(outcome: &SigninOutcome) -> Response<Body> {
    match outcome {
        SigninOutcome::SignedIn(signed_in) => signed_in_response(signed_in),
        SigninOutcome::SecondFactor { mfa_token } => json_response(
            StatusCode::OK,
            &json!({
                "message": "Second factor required",
                "mfa_required": true,
                "mfa_token": mfa_token.expose_secret(),
                "methods": ["totp", "recovery_code"],
            }),
        ),
    }
}

/// The sign-in success body: of a password sign-in, of its second step, and of a passkey's.
fn signed_in_response(signed_in: &SignedIn) -> Response<Body> {
    tracing::info!(user_id = %signed_in.user.id.as_uuid(), "signed in");
    json_response(
        StatusCode::OK,
        &SigninResponse {
            message: "Sign-in successful",
            tokens: (&signed_in.tokens).into(),
            device_token: signed_in.device_token.expose_secret(),
            user: &signed_in.user,
        },
    )
}

/// `POST /api/mfa/totp/enroll` with an access token as bearer: a new secret, pending until a
/// code confirms it.
pub async fn mfa_enroll(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let enrollment = app.mfa_enroll(&token, &client_info(&request)).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "secret": enrollment.secret.expose_secret(),
            "otpauth_uri": enrollment.otpauth_uri.expose_secret(),
            "qr_svg": enrollment.qr_svg,
        }),
    ))
}

/// A TOTP code from the body's `code`: a malformed one is as wrong as a wrong one.
fn totp_code(body: &JsonBody, signing_in: bool) -> Result<TotpCode, ApiError> {
    TotpCode::parse(body.required("code")?).ok_or(ApiError::InvalidMfaCode { signing_in })
}

/// Recovery codes as shown, once: `XXXX-XXXX-XXXX`.
fn shown(codes: &[RecoveryCode]) -> Vec<String> {
    codes.iter().map(ToString::to_string).collect()
}

/// `POST /api/mfa/totp/confirm` with an access token as bearer and `{code}`: TOTP on.
pub async fn mfa_confirm(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let body = JsonBody::from_request(&request)?;
    let code = totp_code(&body, false)?;
    let confirmed = app
        .mfa_confirm(&token, &code, &client_info(&request))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &MfaConfirmedResponse {
            message: "Two-factor authentication enabled",
            recovery_codes: shown(&confirmed.recovery_codes),
            tokens: (&confirmed.tokens).into(),
        },
    ))
}

#[derive(Serialize)]
struct MfaConfirmedResponse<'a> {
    message: &'static str,
    recovery_codes: Vec<String>,
    #[serde(flatten)]
    tokens: TokenFields<'a>,
}

/// `POST /api/mfa/verify` with `{mfa_token, code}` or `{mfa_token, recovery_code}`: the sign-in's
/// second step.
pub async fn mfa_verify(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let mfa_token = SecretString::from(body.required("mfa_token")?);
    let wrong = ApiError::InvalidMfaCode { signing_in: true };
    let proof = match (body.optional("code")?, body.optional("recovery_code")?) {
        (Some(code), None) => MfaProof::Totp(TotpCode::parse(code).ok_or(wrong)?),
        (None, Some(code)) => MfaProof::RecoveryCode(RecoveryCode::parse(code).ok_or(wrong)?),
        (None, None) => return Err(ApiError::MissingField("code")),
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidJson(
                "Give either 'code' or 'recovery_code', not both".into(),
            ));
        }
    };
    let signed_in = app
        .mfa_verify(&mfa_token, proof, &client_info(&request))
        .await?;
    Ok(signed_in_response(&signed_in))
}

/// `DELETE /api/mfa/totp` with an access token (of an `aal2` session) as bearer and `{code}`.
pub async fn mfa_disable(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let body = JsonBody::from_request(&request)?;
    let code = totp_code(&body, false)?;
    app.mfa_disable(&token, &code, &client_info(&request))
        .await?;
    Ok(message("Two-factor authentication disabled"))
}

/// `POST /api/mfa/recovery-codes` with an access token (of an `aal2` session) as bearer: a new
/// set, the old one dead.
pub async fn mfa_recovery_codes(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let codes = app
        .mfa_new_recovery_codes(&token, &client_info(&request))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "recovery_codes": shown(&codes) }),
    ))
}

/// `GET /api/mfa` with an access token as bearer: the factors the account has on.
pub async fn mfa_status(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let status = app.mfa_status(&token).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "totp": {"enabled": status.totp_enabled},
            "recovery_codes_left": status.recovery_codes_left,
            "passkeys": status.passkeys,
        }),
    ))
}

/// `POST /api/passkeys/register/start` with an access token as bearer (no body): the options
/// for `navigator.credentials.create()`, and the id its finish sends back.
pub async fn passkey_register_start(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let ceremony = app.passkey_register_start(&token).await?;
    Ok(json_response(StatusCode::OK, &ceremony))
}

/// `POST /api/passkeys/register/finish` with an access token as bearer and
/// `{ceremony_id, credential, name}` (`name` optional): the new passkey.
pub async fn passkey_register_finish(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let body = JsonBody::from_request(&request)?;
    let ceremony = CeremonyId::parse(body.required("ceremony_id")?)?;
    let credential = body.required_object("credential")?;
    let name = PasskeyName::parse(body.optional("name")?)?;
    let added = app
        .passkey_register_finish(&token, ceremony, credential, name, &client_info(&request))
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"passkey": {
            "id": added.id,
            "name": added.name,
            "created_at": added.created_at,
        }}),
    ))
}

/// `GET /api/passkeys` with an access token as bearer: the caller's passkeys.
pub async fn passkeys(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let passkeys = app.passkeys(&token).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "passkeys": passkeys }),
    ))
}

/// `DELETE /api/passkeys/{id}` with an access token as bearer: removes one of the caller's
/// passkeys. An id that is no UUID names no passkey: 404, as another account's does.
pub async fn delete_passkey(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let id = uuid_path_parameter(&request, "id").ok_or(ApiError::PasskeyNotFound)?;
    app.delete_passkey(&token, id, &client_info(&request))
        .await?;
    Ok(message("Passkey removed"))
}

/// `POST /api/passkeys/signin/start` (no token, no body needed): the options for
/// `navigator.credentials.get()` of a usernameless sign-in, and the id its finish sends back.
pub async fn passkey_signin_start(app: &App, request: Request) -> HandlerResult {
    let ceremony = app.passkey_signin_start(&client_info(&request)).await?;
    Ok(json_response(StatusCode::OK, &ceremony))
}

/// `POST /api/passkeys/signin/finish` with `{ceremony_id, credential}`: signed in at `aal2`,
/// with the body of a password sign-in.
pub async fn passkey_signin_finish(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let ceremony = CeremonyId::parse(body.required("ceremony_id")?)?;
    let credential = body.required_object("credential")?;
    let signed_in = app
        .passkey_signin_finish(ceremony, credential, &client_info(&request))
        .await?;
    Ok(signed_in_response(&signed_in))
}

/// `GET /api/oauth/{provider}/authorize?redirect_to=…&code_challenge=…&code_challenge_method=S256`:
/// a 302 to the provider. Every error is answered as JSON, never redirected: `redirect_to` is
/// not trusted until it is checked, and it is checked first.
pub async fn oauth_authorize(app: &App, request: Request) -> HandlerResult {
    let query = Query::from_request(&request);
    let provider = path_parameter(&request, "provider").unwrap_or_default();
    let redirect_to = query.required("redirect_to")?;
    // A missing challenge is the service's `invalid_code_challenge`, after the provider's check.
    let url = app
        .oauth_authorize(
            &AuthorizeRequest {
                provider: &provider,
                redirect_to,
                code_challenge: query.optional("code_challenge").unwrap_or_default(),
                code_challenge_method: query.optional("code_challenge_method").unwrap_or_default(),
            },
            api_domain(&request).as_deref(),
        )
        .await?;
    redirect(&url)
}

/// `GET /api/oauth/{provider}/callback?code=…&state=…` (or `error=…`): where the provider sends
/// the browser back; a 302 to the app's `redirect_to` with its one-time code (or an `error`), or
/// `invalid_oauth_state` as JSON when the flow is unknown (there is nowhere to send it).
pub async fn oauth_callback(app: &App, request: Request) -> HandlerResult {
    let query = Query::from_request(&request);
    redirect(&provider_callback(app, &request, &query, None).await?)
}

/// `POST /api/oauth/{provider}/callback`: the same callback for a provider that has the browser
/// post a form (`response_mode=form_post`, as Apple does); a 303, so the browser goes on to the
/// app with a GET. Apple posts the person's name (`user`) there, on the first sign-in only.
pub async fn oauth_callback_form(app: &App, request: Request) -> HandlerResult {
    let form = Query::from_form(&request)?;
    let name_hint = form.optional("user").and_then(apple_user_name);
    see_other(&provider_callback(app, &request, &form, name_hint).await?)
}

/// A provider's callback, however its fields came (`code`, `state` or `error`): where the
/// browser goes next.
async fn provider_callback(
    app: &App,
    request: &Request,
    fields: &Query,
    name_hint: Option<UserName>,
) -> Result<String, ApiError> {
    let provider = path_parameter(request, "provider").unwrap_or_default();
    let callback = Callback {
        code: fields.optional("code"),
        state: fields.optional("state"),
        error: fields.optional("error"),
        name_hint,
    };
    app.oauth_callback(
        &provider,
        &callback,
        api_domain(request).as_deref(),
        &client_info(request),
    )
    .await
}

/// `POST /api/oauth/token` with `{code, code_verifier}`: the one-time code from the callback's
/// redirect, for the answer `/api/signin` gives (tokens, or the second step).
pub async fn oauth_token(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let code = SecretString::from(body.required("code")?);
    let verifier = body.required("code_verifier")?;
    let outcome = app
        .oauth_token(&code, verifier, &client_info(&request))
        .await?;
    Ok(signin_outcome_response(&outcome))
}

/// `GET /api/identities` with an access token as bearer: the providers' identities linked to the
/// caller's account.
pub async fn identities(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let identities = app.identities(&token).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "identities": identities }),
    ))
}

/// `DELETE /api/identities/{id}` with an access token as bearer: unlinks one of the caller's
/// identities. An id that is no UUID names no identity: 404, as another account's does.
pub async fn delete_identity(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let id = uuid_path_parameter(&request, "id").ok_or(ApiError::IdentityNotFound)?;
    app.unlink_identity(&token, id, &client_info(&request))
        .await?;
    Ok(message("Identity unlinked"))
}

#[derive(Serialize)]
struct SigninResponse<'a> {
    message: &'static str,
    #[serde(flatten)]
    tokens: TokenFields<'a>,
    /// For this client's next sign-in to the account.
    device_token: &'a str,
    user: &'a User,
}

#[derive(Serialize)]
struct RefreshResponse<'a> {
    message: &'static str,
    #[serde(flatten)]
    tokens: TokenFields<'a>,
}

/// `POST /api/refresh` with the refresh token as bearer.
pub async fn refresh(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let tokens = app.refresh(&token, &client_info(&request)).await?;
    Ok(json_response(
        StatusCode::OK,
        &RefreshResponse {
            message: "Token refreshed successfully",
            tokens: (&tokens).into(),
        },
    ))
}

/// `GET /api/dashboard` with an access token as bearer.
pub async fn dashboard(app: &App, request: Request) -> HandlerResult {
    /// The body, serialized as it stands: a `json!` value would copy every field of the user
    /// into a map of its own first, on the API's most frequent authenticated read.
    #[derive(Serialize)]
    struct Welcome {
        message: String,
        user: User,
    }
    let token = bearer_token(&request)?;
    let user = app.dashboard(&token).await?;
    Ok(json_response(
        StatusCode::OK,
        &Welcome {
            message: format!("Welcome {}!", user.name),
            user,
        },
    ))
}

/// `POST /api/logout` with an access token as bearer, and optionally `{"scope": "global"}` to end
/// every session of the user. No body (the original API's form) ends the token's session.
pub async fn logout(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let scope = if request.body().is_empty() {
        LogoutScope::default()
    } else {
        let body = JsonBody::from_request(&request)?;
        body.optional("scope")?
            .map(LogoutScope::parse)
            .transpose()?
            .unwrap_or_default()
    };
    app.logout(&token, scope, &client_info(&request)).await?;
    let message = match scope {
        LogoutScope::Local => "Logout successful. Tokens revoked.",
        LogoutScope::Global => "Logout successful. Every session of the account has ended.",
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({ "message": message }),
    ))
}

/// `GET /api/sessions` with an access token as bearer: the caller's live sessions.
pub async fn sessions(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let sessions = app.sessions(&token).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "sessions": sessions }),
    ))
}

/// `DELETE /api/sessions/{id}` with an access token as bearer: ends one of the caller's sessions.
pub async fn end_session(app: &App, request: Request) -> HandlerResult {
    let token = bearer_token(&request)?;
    let session = SessionId::parse(&path_parameter(&request, "id").unwrap_or_default())?;
    app.end_session(&token, session, &client_info(&request))
        .await?;
    Ok(message("Session ended"))
}

/// `POST /api/forgot-password` with `{email}`: the same answer whether or not the account exists.
pub async fn forgot_password(app: &App, request: Request) -> HandlerResult {
    let body = JsonBody::from_request(&request)?;
    let email = Email::parse(body.required("email")?)?;
    let reset_base = link_base(&app.config.reset.url, &request)?;
    app.forgot_password(email, &reset_base, &client_info(&request))
        .await?;
    Ok(message(
        "If that account exists, a password reset email has been sent.",
    ))
}

/// `POST /api/reset-password/{token}` with `{password}`.
pub async fn reset_password(app: &App, request: Request) -> HandlerResult {
    let token = path_parameter(&request, "token")
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::InvalidResetToken)?;
    let token = SecretString::from(token);
    let body = JsonBody::from_request(&request)?;
    // Only the length rules here: the rest needs the account's email, which the token leads to.
    let password = Password::parse(body.required("password")?)?;
    app.reset_password(&token, password, &client_info(&request))
        .await?;
    Ok(message("Password reset successful"))
}

/// `GET /.well-known/jwks.json`: the public keys that verify access tokens, current key first
/// (RFC 7517). Empty with HS256: a shared secret is never published.
pub async fn jwks(keys: &AccessTokenSigner, _request: Request) -> HandlerResult {
    let mut response = json_response(StatusCode::OK, keys.jwks());
    // Verifiers may cache the set; ten minutes keeps a rotated-in key from waiting long.
    response.headers_mut().insert(
        lambda_http::http::header::CACHE_CONTROL,
        lambda_http::http::HeaderValue::from_static("public, max-age=600"),
    );
    Ok(response)
}

/// What the Lambda authorizer answers API Gateway (an HTTP API authorizer, payload 2.0, simple
/// responses): `{"isAuthorized":false}` and nothing more, or `true` with the context the
/// protected function reads (`requestContext.authorizer.lambda`).
#[derive(Debug, Serialize, PartialEq)]
pub struct AuthorizerAnswer {
    #[serde(rename = "isAuthorized")]
    pub is_authorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

/// The Lambda authorizer: the bearer access token of the request's identity source (its
/// `Authorization` header), good right now (see [`App::live_access`]). Never an error to API
/// Gateway: whatever is wrong, the answer is `isAuthorized: false`.
pub async fn authorizer(
    app: &App,
    event: &ApiGatewayV2CustomAuthorizerV2Request,
) -> AuthorizerAnswer {
    let header = event
        .identity_source
        .as_deref()
        .and_then(<[String]>::first)
        .map(String::as_str)
        .or_else(|| {
            event
                .headers
                .get(lambda_http::http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
        });
    let live = match header.map(bearer_of) {
        Some(Ok(token)) => app.live_access(&token).await.unwrap_or_else(|error| {
            // Fail closed: the API behind us refuses while we cannot tell.
            tracing::error!(error = error.code(), cause = ?error.cause(), "the token is refused: no answer from the database");
            None
        }),
        _ => None,
    };
    match live {
        Some(live) => AuthorizerAnswer {
            is_authorized: true,
            context: Some(json!({
                "sub": live.claims.user_id,
                "sid": live.claims.session_id,
                "aal": live.claims.aal,
                "amr": live.claims.amr,
                "email_verified": live.email_verified,
            })),
        },
        None => AuthorizerAnswer {
            is_authorized: false,
            context: None,
        },
    }
}

/// `POST /api/introspect` (RFC 7662) for services that cannot sit behind the authorizer: HTTP
/// Basic as one of `INTROSPECTION_CLIENTS` first (401 `invalid_client`), then the form's
/// `token` (`token_type_hint` is read and ignored: only access tokens can be active). An active
/// access token's claims, or `{"active":false}` and nothing more for anything else.
pub async fn introspect(app: &App, request: Request) -> HandlerResult {
    let client = basic_credentials(&request);
    let form = Query::from_form(&request)?;
    let token = SecretString::from(form.required("token")?.to_owned());
    let answer = match app.introspect(client, &token).await? {
        Some(live) => {
            let claims = &live.claims;
            json!({
                "active": true,
                "sub": claims.user_id,
                "sid": claims.session_id,
                "client_id": claims.client_id,
                "token_type": "access_token",
                "exp": claims.expires_at,
                "iat": claims.issued_at,
                "nbf": claims.not_before,
                "iss": claims.issuer,
                "aud": claims.audience,
                "jti": claims.jti,
                "aal": claims.aal,
                "amr": claims.amr,
            })
        }
        None => json!({"active": false}),
    };
    Ok(json_response(StatusCode::OK, &answer))
}
