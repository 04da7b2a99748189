//! `ApiError`: every expected failure of the API, with its HTTP status, stable code and JSON body.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::json;

/// An error the API answers with; `status()` and `code()` are part of the public contract.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Request body must not exceed {} bytes", crate::http::MAX_BODY_BYTES)]
    PayloadTooLarge,
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
    #[error("Reset token is invalid, expired or already used")]
    InvalidResetToken,
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
    MethodNotAllowed(lambda_http::http::Method),
    #[error("Service temporarily unavailable, try again shortly")]
    ServiceUnavailable(#[source] anyhow::Error),
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            InvalidJson(_) | MissingField(_) | InvalidEmail(_) | InvalidPassword(_)
            | InvalidName(_) | InvalidResetToken => StatusCode::BAD_REQUEST,
            EmailTaken => StatusCode::CONFLICT,
            InvalidCredentials | MissingToken | InvalidToken | TokenExpired => {
                StatusCode::UNAUTHORIZED
            }
            NotFound | SessionNotFound => StatusCode::NOT_FOUND,
            TooManyAttempts(_) | RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code put in the body's `error` field.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge => "payload_too_large",
            InvalidJson(_) => "invalid_json",
            MissingField(_) => "missing_field",
            InvalidEmail(_) => "invalid_email",
            InvalidPassword(_) => "invalid_password",
            InvalidName(_) => "invalid_name",
            EmailTaken => "email_taken",
            InvalidCredentials => "invalid_credentials",
            MissingToken => "missing_token",
            InvalidToken => "invalid_token",
            TokenExpired => "token_expired",
            InvalidResetToken => "invalid_reset_token",
            NotFound => "not_found",
            SessionNotFound => "session_not_found",
            TooManyAttempts(_) => "too_many_attempts",
            RateLimited(_) => "rate_limited",
            MethodNotAllowed(_) => "method_not_allowed",
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

    /// `WWW-Authenticate` value for 401s on bearer-protected routes (RFC 6750 §3).
    fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            ApiError::MissingToken => Some(r#"Bearer realm="api""#),
            ApiError::InvalidToken => Some(
                r#"Bearer realm="api", error="invalid_token", error_description="The token is invalid or has been revoked""#,
            ),
            ApiError::TokenExpired => Some(
                r#"Bearer realm="api", error="invalid_token", error_description="The token has expired""#,
            ),
            _ => None,
        }
    }

    /// The response sent to the client: `{"error": code, "message": text}`, nothing internal.
    pub fn to_response(&self) -> Response<Body> {
        let mut response = crate::http::json_response(
            self.status(),
            &json!({ "error": self.code(), "message": self.to_string() }),
        );
        if let Some(challenge) = self.www_authenticate() {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let ApiError::TooManyAttempts(seconds) | ApiError::RateLimited(seconds) = self {
            // RFC 9110 §10.2.3; at least 1, since 0 would invite an immediate retry.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from((*seconds).max(1)));
        }
        if let ApiError::MethodNotAllowed(allowed) = self {
            let allow =
                HeaderValue::from_str(allowed.as_str()).expect("method names are header-safe");
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }
}

/// Database failures: unreachable or overloaded is 503 (retryable), anything else is 500.
impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => ApiError::ServiceUnavailable(anyhow::Error::new(other)),
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(error: tokio_postgres::Error) -> Self {
        if crate::db::is_unavailable(&error) {
            ApiError::ServiceUnavailable(error.into())
        } else {
            ApiError::Internal(error.into())
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(error)
    }
}
