//! `ApiError`: every expected failure of the API, with its HTTP status, stable code and message.
//!
//! A leaf: it knows no HTTP library and no database driver. The response is rendered at the HTTP
//! edge ([`crate::http::error_response`]); driver errors are classified in [`crate::db`].

/// An error the API answers with; `status()` and `code()` are part of the public contract.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The media type the endpoint takes: `application/json`, or a provider's form post.
    #[error("Content-Type must be {0}")]
    UnsupportedMediaType(&'static str),
    #[error("Request body must not exceed {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    InvalidJson(std::borrow::Cow<'static, str>),
    #[error("Field '{0}' is required")]
    MissingField(&'static str),
    #[error("{0}")]
    InvalidEmail(&'static str),
    #[error("{0}")]
    InvalidPassword(&'static str),
    #[error("{0}")]
    InvalidName(&'static str),
    #[error("An account with this email already exists")]
    EmailTaken,
    #[error("Invalid email or password")]
    InvalidCredentials,
    #[error("Authorization header with a Bearer token is required")]
    MissingToken,
    #[error("Token is invalid or has been revoked")]
    InvalidToken,
    #[error("Token has expired")]
    TokenExpired,
    /// Token introspection's caller did not authenticate as a client of `INTROSPECTION_CLIENTS`.
    #[error(
        "Client authentication failed: HTTP Basic with an introspection client's id and secret is required"
    )]
    InvalidClient,
    /// An admin call without the local `ADMIN_TOKEN` as its bearer (only where one is set).
    #[error("A valid admin token is required")]
    InvalidAdminToken,
    /// An admin call whose request carries no IAM identity (API Gateway's `AWS_IAM`): refused
    /// even if a route were left open by mistake.
    #[error("This route requires a caller authenticated by IAM")]
    IamIdentityRequired,
    /// A query parameter of the admin API that does not parse; the message names it.
    #[error("{0}")]
    InvalidParameter(&'static str),
    /// The admin API's target: an id that is no UUID or no account's.
    #[error("No account has this id")]
    UserNotFound,
    /// An account an operator disabled: answered only to whoever proved to be its owner.
    #[error("This account is disabled")]
    AccountDisabled,
    #[error("Reset token is invalid, expired or already used")]
    InvalidResetToken,
    #[error("Confirmation link or code is invalid, expired or already used")]
    InvalidVerificationToken,
    #[error("Confirm your email address first: follow the link or enter the code we sent you")]
    EmailNotVerified,
    #[error("Two-factor authentication is already enabled")]
    MfaAlreadyEnabled,
    /// A wrong, malformed or already used second-factor code: 400 where a signed-in user proves
    /// a factor (confirm, disable), 401 where the code completes a sign-in.
    #[error("The code is not right")]
    InvalidMfaCode { signing_in: bool },
    /// The sign-in's second step with an unknown, expired, used or killed `mfa_token`.
    #[error("The second-factor step is invalid or has expired: sign in again")]
    InvalidMfaToken,
    /// An operation on the second factor from a session that signed in with one factor only.
    #[error("Sign in with your second factor to do this")]
    Aal2Required,
    /// Turning TOTP off, or new recovery codes, for an account without TOTP on.
    #[error("Two-factor authentication is not enabled")]
    MfaNotEnabled,
    /// Ten wrong second-factor codes in 15 minutes; carries the seconds until it unlocks.
    #[error("Too many wrong codes, try again later")]
    MfaLocked(u64),
    /// A passkey ceremony that failed: unknown, used, expired or someone else's ceremony, a
    /// credential that does not parse or does not verify, a passkey the account does not have.
    /// One answer for all, so the failure tells an attacker nothing.
    #[error("The passkey could not be verified; start again")]
    InvalidPasskey,
    #[error("No passkey of yours has this id")]
    PasskeyNotFound,
    #[error("This account has as many passkeys as it may have; remove one first")]
    TooManyPasskeys,
    /// `redirect_to` not exactly on `OAUTH_REDIRECT_ALLOWLIST`: answered, never redirected to.
    #[error("redirect_to is not an address this service may send you back to")]
    InvalidRedirect,
    #[error("No sign-in provider has this name")]
    UnknownProvider,
    /// A PKCE challenge missing, malformed, or not `S256`.
    #[error("code_challenge must be a S256 PKCE challenge (code_challenge_method=S256)")]
    InvalidCodeChallenge,
    /// A provider's callback whose `state` is unknown, used or expired.
    #[error("This sign-in is unknown, was already completed or has expired: start again")]
    InvalidOAuthState,
    /// A one-time code unknown, used or expired, or a verifier that is not its challenge's.
    #[error("The code is invalid, expired or already used, or the code_verifier does not match")]
    InvalidGrant,
    /// Another account's identity, an unknown id, or one that is no UUID: one answer for all.
    #[error("No linked identity of yours has this id")]
    IdentityNotFound,
    /// Unlinking this identity would leave the account no way to sign in (no password, no other
    /// identity, no passkey).
    #[error("This is the account's last way to sign in; set a password or link another first")]
    LastSignInMethod,
    #[error("No route matches this path")]
    NotFound,
    #[error("No live session of yours has this id")]
    SessionNotFound,
    /// Too many failed sign-ins for this email; carries the seconds until the next attempt.
    #[error("Too many failed sign-in attempts, try again later")]
    TooManyAttempts(u64),
    /// This client's request budget for the endpoint is spent; carries the seconds until it refills.
    #[error("Too many requests from this client, try again later")]
    RateLimited(u64),
    /// Carries the one method the path serves, for the `Allow` header (RFC 9110 §15.5.6).
    #[error("Method not allowed on this path")]
    MethodNotAllowed { allowed: &'static str },
    #[error("Service temporarily unavailable, try again shortly")]
    ServiceUnavailable(#[source] anyhow::Error),
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        use ApiError::*;
        match self {
            InvalidJson(_)
            | MissingField(_)
            | InvalidEmail(_)
            | InvalidPassword(_)
            | InvalidName(_)
            | InvalidResetToken
            | InvalidVerificationToken
            | InvalidMfaCode { signing_in: false }
            | InvalidPasskey
            | InvalidRedirect
            | InvalidCodeChallenge
            | InvalidOAuthState
            | InvalidGrant
            | InvalidParameter(_) => 400,
            InvalidCredentials
            | MissingToken
            | InvalidToken
            | TokenExpired
            | InvalidMfaCode { signing_in: true }
            | InvalidMfaToken
            | InvalidClient
            | InvalidAdminToken => 401,
            EmailNotVerified | Aal2Required | IamIdentityRequired | AccountDisabled => 403,
            NotFound | SessionNotFound | PasskeyNotFound | UnknownProvider | IdentityNotFound
            | UserNotFound => 404,
            MethodNotAllowed { .. } => 405,
            EmailTaken | MfaAlreadyEnabled | MfaNotEnabled | TooManyPasskeys | LastSignInMethod => {
                409
            }
            PayloadTooLarge { .. } => 413,
            UnsupportedMediaType(_) => 415,
            TooManyAttempts(_) | MfaLocked(_) | RateLimited(_) => 429,
            Internal(_) => 500,
            ServiceUnavailable(_) => 503,
        }
    }

    /// The stable, machine-readable code put in the body's `error` field.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            UnsupportedMediaType(_) => "unsupported_media_type",
            PayloadTooLarge { .. } => "payload_too_large",
            InvalidJson(_) => "invalid_json",
            MissingField(_) => "missing_field",
            InvalidEmail(_) => "invalid_email",
            InvalidPassword(_) => "invalid_password",
            InvalidName(_) => "invalid_name",
            EmailTaken => "email_taken",
            InvalidCredentials => "invalid_credentials",
            MissingToken => "missing_token",
            InvalidToken => "invalid_token",
            InvalidClient => "invalid_client",
            InvalidAdminToken => "invalid_admin_token",
            IamIdentityRequired => "iam_identity_required",
            InvalidParameter(_) => "invalid_parameter",
            UserNotFound => "user_not_found",
            AccountDisabled => "account_disabled",
            TokenExpired => "token_expired",
            InvalidResetToken => "invalid_reset_token",
            InvalidVerificationToken => "invalid_verification_token",
            EmailNotVerified => "email_not_verified",
            MfaAlreadyEnabled => "mfa_already_enabled",
            InvalidMfaCode { .. } => "invalid_mfa_code",
            InvalidMfaToken => "invalid_mfa_token",
            MfaNotEnabled => "mfa_not_enabled",
            Aal2Required => "aal2_required",
            InvalidPasskey => "invalid_passkey",
            PasskeyNotFound => "passkey_not_found",
            TooManyPasskeys => "too_many_passkeys",
            InvalidRedirect => "invalid_redirect",
            UnknownProvider => "unknown_provider",
            InvalidCodeChallenge => "invalid_code_challenge",
            InvalidOAuthState => "invalid_oauth_state",
            InvalidGrant => "invalid_grant",
            IdentityNotFound => "identity_not_found",
            LastSignInMethod => "last_sign_in_method",
            NotFound => "not_found",
            SessionNotFound => "session_not_found",
            TooManyAttempts(_) | MfaLocked(_) => "too_many_attempts",
            RateLimited(_) => "rate_limited",
            MethodNotAllowed { .. } => "method_not_allowed",
            ServiceUnavailable(_) => "service_unavailable",
            Internal(_) => "internal_error",
        }
    }

    /// The internal cause of a 5xx, for the log; never sent to the client.
    pub fn cause(&self) -> Option<&anyhow::Error> {
        match self {
            ApiError::ServiceUnavailable(cause) | ApiError::Internal(cause) => Some(cause),
            _ => None,
        }
    }

    /// The challenge of a 401 (`WWW-Authenticate`): a bearer route's (RFC 6750 §3), or HTTP
    /// Basic for token introspection's clients (RFC 7662 §2.1).
    pub fn auth_challenge(&self) -> Option<&'static str> {
        match self {
            ApiError::MissingToken => Some(r#"Bearer realm="api""#),
            ApiError::InvalidToken => Some(
                r#"Bearer realm="api", error="invalid_token", error_description="The token is invalid or has been revoked""#,
            ),
            ApiError::TokenExpired => Some(
                r#"Bearer realm="api", error="invalid_token", error_description="The token has expired""#,
            ),
            // Not a bearer route: the client authenticates with HTTP Basic (RFC 7662 §2.1).
            ApiError::InvalidClient => Some(r#"Basic realm="introspection""#),
            ApiError::InvalidAdminToken => Some(r#"Bearer realm="admin""#),
            _ => None,
        }
    }

    /// Seconds the client should wait before trying again (RFC 9110 §10.2.3): at least 1, since 0
    /// would invite an immediate retry.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyAttempts(seconds)
            | ApiError::MfaLocked(seconds)
            | ApiError::RateLimited(seconds) => Some((*seconds).max(1)),
            _ => None,
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(error)
    }
}
